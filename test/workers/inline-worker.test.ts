// A function handler's worker runs in the emulator's own process and calls it directly: no request of
// the worker protocol goes over loopback, and the protocol's semantics still hold.
import { type IncomingMessage, Server } from "node:http";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { HandlerFunction } from "../../src/index.js";
import { call, nextEvent, startEmulator } from "../helpers/emulator.js";

afterEach(() => {
  vi.restoreAllMocks();
});

/** The paths of every HTTP request this process's servers receive from now on. */
function requestPaths(): string[] {
  const paths: string[] = [];
  const emit = Server.prototype.emit;
  vi.spyOn(Server.prototype, "emit").mockImplementation(function (this: Server, event: string | symbol, ...args: unknown[]) {
    if (event === "request") paths.push(new URL((args[0] as IncomingMessage).url ?? "/", "http://x").pathname);
    return emit.call(this, event, ...args);
  });
  return paths;
}

describe("a function handler's worker", () => {
  it("takes jobs and posts results without a request of the worker protocol", async () => {
    const paths = requestPaths();
    const emu = await startEmulator({ handler: (job: { input: { n: number } }) => job.input.n * 2 });
    const outputs = [];
    for (const n of [1, 2, 3]) outputs.push((await call(emu, "POST", "/runsync", { input: { n } })).body.output);
    expect(outputs).toEqual([2, 4, 6]);
    expect(paths).toEqual(["/v2/local/runsync", "/v2/local/runsync", "/v2/local/runsync"]);
  });

  it("gets its own copy of the input, and fails a job whose result JSON cannot hold", async () => {
    const handler: HandlerFunction = (job) => {
      job.input.seen = true;
      return job.input.big ? { n: 10n } : job.input;
    };
    const emu = await startEmulator({ handler });
    const { body: run } = await call(emu, "POST", "/runsync", { input: { a: 1 } });
    expect(run.output).toEqual({ a: 1, seen: true });
    expect(emu.history(run.id)?.job.input).toEqual({ a: 1 });
    const { body: failed } = await call(emu, "POST", "/runsync", { input: { big: true } });
    expect(failed.status).toBe("FAILED");
    expect(JSON.parse(failed.error)).toMatchObject({ error_type: "TypeError", error_message: expect.stringContaining("BigInt") });
  });

  it("streams chunks, and aborts the signal of a cancelled job", async () => {
    let signalled!: () => void;
    const aborted = new Promise<void>((resolve) => (signalled = resolve));
    const handler: HandlerFunction = async function* (job, context) {
      if (job.input === "cancel") {
        await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
        signalled();
        return;
      }
      yield "a";
      yield "b";
    } as unknown as HandlerFunction;
    const emu = await startEmulator({ handler: Object.assign(handler, { config: { concurrency: 2 } }) });
    // Watched before the job is sent: in this process it may end before its /run is answered.
    const completed = nextEvent(emu, (e) => e.type === "status" && e.job.status === "COMPLETED");
    const { body: streamed } = await call(emu, "POST", "/run", { input: "stream" });
    expect(((await completed) as { job: { id: string } }).job.id).toBe(streamed.id);
    expect((await call(emu, "GET", `/stream/${streamed.id}`)).body.stream).toEqual([{ output: "a" }, { output: "b" }]);
    const running = nextEvent(emu, (e) => e.type === "status" && e.job.status === "IN_PROGRESS");
    const { body: long } = await call(emu, "POST", "/run", { input: "cancel" });
    expect(((await running) as { job: { id: string } }).job.id).toBe(long.id);
    expect((await call(emu, "POST", `/cancel/${long.id}`)).body.status).toBe("CANCELLED");
    await aborted;
  });
});
