import { describe, expect, it } from "vitest";
import { call, nextEvent, runToEnd, startEmulator } from "../helpers/emulator.js";

describe("the mock worker (--mock)", () => {
  it("echoes the input without a mock knob, and returns input.mock.output after delay_ms", async () => {
    const emu = await startEmulator({ mock: true });
    expect((await runToEnd(emu, { plain: true })).output).toEqual({ plain: true });
    const delayed = await runToEnd(emu, { mock: { delay_ms: 300, output: { ok: 1 } } });
    expect(delayed).toMatchObject({ status: "COMPLETED", output: { ok: 1 } });
    expect(delayed.executionTime).toBeGreaterThanOrEqual(300);
  });

  it("lets a client observe FAILED through error and raise", async () => {
    const emu = await startEmulator({ mock: true });
    expect(await runToEnd(emu, { mock: { error: "quota exceeded" } })).toMatchObject({ status: "FAILED", error: "quota exceeded" });
    const raised = await runToEnd(emu, { mock: { raise: "kaboom" } });
    expect(raised.status).toBe("FAILED");
    expect(JSON.parse(raised.error)).toMatchObject({ error_type: "Error", error_message: "kaboom" });
  });

  it("lets a client observe TIMED_OUT with policy.executionTimeout", async () => {
    const emu = await startEmulator({ mock: true });
    const job = await runToEnd(emu, { mock: { delay_ms: 60_000 } }, { policy: { executionTimeout: 5000 } });
    expect(job).toMatchObject({ status: "TIMED_OUT", error: "the job ran longer than its execution timeout of 5000 ms" });
  });

  it("lets a client observe a crash: retried once, then FAILED with the exit code", async () => {
    const emu = await startEmulator({ mock: true });
    const job = await runToEnd(emu, { mock: { exit_code: 137 } });
    expect(job).toMatchObject({ status: "FAILED", retries: 1 });
    expect(job.error).toMatch(/exited with code 137 while running this job/);
  });

  it("fails a /run job whose 12 MB output exceeds the 10 MB limit, naming the limit", async () => {
    const emu = await startEmulator({ mock: true });
    const job = await runToEnd(emu, { mock: { output_bytes: 12_000_000 } });
    expect(job).toMatchObject({ status: "FAILED", error: "the job's result of 12.000002 MB exceeds the 10 MB limit of /run results" });
    const sync = await call(emu, "POST", "/runsync", { input: { mock: { output_bytes: 12_000_000 } } });
    expect(sync.body.status).toBe("COMPLETED");
  });

  it("streams input.mock.stream and reports input.mock.progress", async () => {
    const emu = await startEmulator({ mock: true });
    const { body: run } = await call(emu, "POST", "/run", { input: { mock: { progress: ["half"], delay_ms: 500, output: "done" } } });
    await nextEvent(emu, (e) => e.type === "progress" && e.jobId === run.id);
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "IN_PROGRESS", output: "half" });
    const streamed = await runToEnd(emu, { mock: { stream: [1, 2, 3] } });
    expect((await call(emu, "GET", `/stream/${streamed.id}`)).body.stream).toEqual([{ output: 1 }, { output: 2 }, { output: 3 }]);
  });

  it("names a misspelt knob in the job's error", async () => {
    const emu = await startEmulator({ mock: true });
    const job = await runToEnd(emu, { mock: { delay: 5 } });
    expect(JSON.parse(job.error).error_message).toMatch(/input.mock.delay is not a mock knob/);
  });
});

describe("several emulators in one process", () => {
  it("start and close ten in parallel without clashing or leaking", async () => {
    const emus = await Promise.all(Array.from({ length: 10 }, () => startEmulator({ mock: true, minWorkers: 1 })));
    expect(new Set(emus.map((e) => e.port)).size).toBe(10);
    const outputs = await Promise.all(emus.map((emu, n) => runToEnd(emu, { n })));
    expect(outputs.map((o) => o.output)).toEqual(emus.map((_, n) => ({ n })));
    await Promise.all(emus.map((emu) => emu.close()));
    for (const emu of emus) expect(emu.pool.pids()).toEqual([]);
  });
});
