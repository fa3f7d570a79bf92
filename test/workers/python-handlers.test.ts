import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { EmulatorEvent } from "../../src/index.js";
import { call, fixture, nextEvent, runToEnd, startEmulator } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

const python = (name: string) => fixture(`python/${name}/handler.py`);

describe("Python handlers on the bundled runpod module", () => {
  it("serves the echo handler, and says the bundled module is in use", async () => {
    const emu = await startEmulator({ handler: python("echo") });
    expect(emu.runtime.description).toMatch(/bundled runpod module \(runpod not installed in .*\)/);
    const { body } = await call(emu, "POST", "/runsync", { input: { hi: 1 } });
    expect(body).toMatchObject({ status: "COMPLETED", output: { hi: 1 } });
  });

  it("fails a raising handler with the exception's type, message and traceback", async () => {
    const emu = await startEmulator({ handler: python("error") });
    const job = await runToEnd(emu, { value: "abc" });
    expect(job.status).toBe("FAILED");
    const error = JSON.parse(job.error);
    expect(error).toMatchObject({ error_type: "<class 'ValueError'>", error_message: "invalid literal for int() with base 10: 'abc'" });
    expect(error.error_traceback).toMatch(/Traceback \(most recent call last\):[\s\S]*in parse\n\s+return int\(value\)/);
    expect(Object.keys(error).sort()).toEqual(["error_message", "error_traceback", "error_type", "hostname", "runpod_version", "worker_id"]);
  });

  it("fails a handler that returns {\"error\": …}, keeping the rest as output", async () => {
    const emu = await startEmulator({ handler: python("error_dict") });
    const job = await runToEnd(emu, { a: 1 });
    expect(job).toMatchObject({ status: "FAILED", error: "the input was rejected", output: { input_seen: { a: 1 } } });
  });

  it("streams a generator's chunks, and aggregates an async generator's with return_aggregate_stream", async () => {
    const emu = await startEmulator({ handler: python("generator") });
    const job = await runToEnd(emu, { count: 3, delay_ms: 10 });
    expect(job).toMatchObject({ status: "COMPLETED", output: [] });
    expect((await call(emu, "GET", `/stream/${job.id}`)).body.stream).toEqual([{ output: { token: 0 } }, { output: { token: 1 } }, { output: { token: 2 } }]);
    const aggregate = await startEmulator({ handler: python("async_generator") });
    expect((await runToEnd(aggregate, { count: 3 })).output).toEqual(["part0", "part1", "part2"]);
  });

  it("shows progress updates as the IN_PROGRESS job's output", async () => {
    const emu = await startEmulator({ handler: python("progress") });
    const { body: run } = await call(emu, "POST", "/run", { input: { steps: 2, step_ms: 800 } });
    await nextEvent(emu, (e) => e.type === "progress" && e.jobId === run.id);
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "IN_PROGRESS", output: "step 1/2" });
    expect((await call(emu, "GET", `/status-sync/${run.id}?wait=20000`)).body).toMatchObject({ status: "COMPLETED", output: { done: true } });
  });

  it("runs three jobs at once on one worker with concurrency_modifier", async () => {
    const emu = await startEmulator({ handler: python("concurrent"), maxWorkers: 1 });
    const ids = [];
    for (const n of [1, 2, 3]) ids.push((await call(emu, "POST", "/run", { input: { n, seconds: 1.5 } })).body.id);
    const jobs = [];
    for (const id of ids) {
      await call(emu, "GET", `/status-sync/${id}?wait=20000`);
      jobs.push(emu.history(id)!.job);
    }
    expect(new Set(jobs.map((j) => j.workerId)).size).toBe(1);
    // Every job started before any finished: they overlapped.
    expect(Math.max(...jobs.map((j) => j.takenAt!))).toBeLessThan(Math.min(...jobs.map((j) => j.finishedAt!)));
  });

  it("gives the next job a new process after refresh_worker", async () => {
    const emu = await startEmulator({ handler: python("refresh_worker") });
    const first = await runToEnd(emu, 1);
    const second = await runToEnd(emu, 2);
    expect(first.status).toBe("COMPLETED");
    expect(second.output.pid).not.toBe(first.output.pid);
    expect(second.workerId).not.toBe(first.workerId);
  });

  it("marks a worker that fails at import unhealthy, shows the traceback, and backs off", async () => {
    const emu = await startEmulator({ handler: python("import_error") });
    const starts: EmulatorEvent[] = [];
    emu.events.on((e) => e.type === "worker" && e.state === "initializing" && starts.push(e));
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    const unhealthy = await nextEvent(emu, (e) => e.type === "worker" && e.state === "unhealthy");
    expect(unhealthy.type === "worker" && unhealthy.detail).toMatch(/ModuleNotFoundError: No module named 'a_module_that_does_not_exist'/);
    expect((await call(emu, "GET", "/health")).body.workers.unhealthy).toBe(1);
    expect((await call(emu, "GET", `/status/${run.id}`)).body.status).toBe("IN_QUEUE");
    // Back-off: the second start comes after a pause, the third after a longer one — never a tight loop.
    const second = await nextEvent(emu, (e) => e.type === "worker" && e.state === "unhealthy", 10_000);
    expect(second.type === "worker" && second.detail).toMatch(/failed to start again .* retrying in 2 s/);
    expect(starts.length).toBe(2);
  });

  it("requeues a job once when its worker dies, then fails it naming the signal or exit code", async () => {
    const emu = await startEmulator({ handler: python("crash") });
    const cases: [string, RegExp][] = [
      ["segfault", /was killed by SIGSEGV \(Segmentation fault\)/],
      ["exit", /exited with code 3/],
      ["sigkill", /was killed by SIGKILL \(Forced termination\)/],
      ["os_exit", /exited with code 4/],
    ];
    for (const [how, reason] of cases) {
      const job = await runToEnd(emu, { how });
      expect(job.status, how).toBe("FAILED");
      expect(job.retries, how).toBe(1);
      expect(job.error, how).toMatch(reason);
      expect(job.error, how).toContain(`about to crash by ${how}`);
    }
    expect((await runToEnd(emu, { how: "none" })).output).toEqual({ survived: true });
  });

  it("times out a sync and an async handler, then serves the next job on a healthy worker", async () => {
    for (const name of ["slow_sync", "slow_async"]) {
      const emu = await startEmulator({ handler: python(name), maxWorkers: 1 });
      const slow = await runToEnd(emu, { seconds: 30 }, { policy: { executionTimeout: 5000 } });
      expect(slow, name).toMatchObject({ status: "TIMED_OUT", error: "the job ran longer than its execution timeout of 5000 ms" });
      expect((await runToEnd(emu, { seconds: 0 })).output, name).toEqual({ slept: 0 });
      await emu.close();
    }
  });

  it("cancels a running job and ignores its late result", async () => {
    const emu = await startEmulator({ handler: python("slow_sync"), maxWorkers: 1 });
    const { body: run } = await call(emu, "POST", "/run", { input: { seconds: 1.5 } });
    await nextEvent(emu, (e) => e.type === "status" && e.job.id === run.id && e.job.status === "IN_PROGRESS");
    expect((await call(emu, "POST", `/cancel/${run.id}`)).body).toEqual({ id: run.id, status: "CANCELLED" });
    expect((await runToEnd(emu, { seconds: 0 })).output).toEqual({ slept: 0 });
    expect((await call(emu, "GET", `/status/${run.id}`)).body.status).toBe("CANCELLED");
  });

  it("keeps a fresh worker's first print with its job, whichever of the print and the result the emulator reads first", async () => {
    const cwd = scratchDir();
    const handler = join(cwd, "handler.py");
    writeFileSync(handler, 'import runpod\n\ndef handler(job):\n    print(f"Received prompt: {job[\'input\']}")\n    return 1\n\nrunpod.serverless.start({"handler": handler})\n');
    // Each emulator's worker is fresh: its first job is the case that lost its print.
    for (const prompt of ["a", "b", "c"]) {
      const emu = await startEmulator({ handler, cwd });
      const printed = nextEvent(emu, (e) => e.type === "log" && e.message === `Received prompt: ${prompt}`);
      const job = await runToEnd(emu, prompt);
      const line = await printed;
      expect(line.type === "log" && line.jobId, prompt).toBe(job.id);
      await emu.close();
    }
  });
});
