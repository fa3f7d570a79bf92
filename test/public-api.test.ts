// What an application sees of the emulator: createEmulator() and the narrow Emulator type. This file is
// also type-checked (test/readme.test.ts): each @ts-expect-error below is a promise of the public type.
import { describe, expect, expectTypeOf, it } from "vitest";
import { type Emulator, EmulatorError, type EmulatorEventOf, type HandlerFunction, type JobStatusObject, createEmulator } from "../src/index.js";

const double: HandlerFunction<{ n: number }, number> = (job) => job.input.n * 2;

async function runsync(emu: Emulator, input: unknown): Promise<JobStatusObject> {
  const response = await fetch(`${emu.url}/runsync`, { method: "POST", body: JSON.stringify({ input }) });
  return (await response.json()) as JobStatusObject;
}

describe("createEmulator", () => {
  it("refuses a bad value, naming the option and the rule, before starting anything", async () => {
    await expect(createEmulator({ mock: true, maxWorkers: -1 })).rejects.toThrow(new EmulatorError("ERR_BAD_OPTION", "option maxWorkers must be at least 1, got -1"));
    const error = await createEmulator({ mock: true, idleTimeout: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmulatorError);
    expect(error).toMatchObject({ code: "ERR_BAD_OPTION", userError: true });
    expect((error as Error).message).toMatch(/^option idleTimeout must be a duration such as 500ms, 30s or 10m/);
  });

  it("refuses an unknown option, with the one that was meant", async () => {
    // @ts-expect-error: no such option
    await expect(createEmulator({ mock: true, maxWorker: 2 })).rejects.toMatchObject({ code: "ERR_BAD_OPTION", message: 'unknown option "maxWorker"; did you mean "maxWorkers"?' });
    // @ts-expect-error: an option of the command line only
    await expect(createEmulator({ mock: true, logFormat: "json" })).rejects.toMatchObject({ code: "ERR_BAD_OPTION" });
  });

  it("takes durations with a unit", async () => {
    await using emu = await createEmulator({ handler: double, executionTimeout: "2m", idleTimeout: "200ms" });
    expect(await runsync(emu, { n: 2 })).toMatchObject({ status: "COMPLETED", output: 4 });
  });
});

describe("the Emulator a test gets", () => {
  it("delivers typed events of one type until unsubscribed, and keeps each job's record", async () => {
    await using emu = await createEmulator({ handler: double });
    const seen: string[] = [];
    const off = emu.on("status", (event) => {
      expectTypeOf(event).toEqualTypeOf<EmulatorEventOf<"status">>();
      seen.push(`${event.job.id} ${event.job.status}`);
    });
    const first = await runsync(emu, { n: 21 });
    off();
    const second = await runsync(emu, { n: 1 });
    expect(seen).toEqual([`${first.id} IN_QUEUE`, `${first.id} IN_PROGRESS`, `${first.id} COMPLETED`]);
    expect(second.status).toBe("COMPLETED");
    expect(emu.history(first.id)).toMatchObject({ expired: false, job: { id: first.id, status: "COMPLETED", input: { n: 21 }, output: 42 } });
    expect(emu.history("no-such-job")).toBeUndefined();
  });

  it("shows what users need and nothing of the inside", async () => {
    const emu = await createEmulator({ mock: true });
    expect(emu.url).toBe(`${emu.baseUrl}/${emu.endpointId}`);
    expect(emu.baseUrl).toBe(`http://127.0.0.1:${emu.port}/v2`);
    expectTypeOf(emu).toHaveProperty("history");
    // @ts-expect-error: the endpoint is not part of the public type
    void emu.endpoint;
    // @ts-expect-error: nor is the pool
    void emu.pool;
    // @ts-expect-error: nor the event bus
    void emu.events;
    // @ts-expect-error: on() knows the event types
    emu.on("no-such-event", () => {});
    await emu.close();
    await emu.close();
  });
});
