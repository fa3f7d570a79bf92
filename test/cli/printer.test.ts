import { describe, expect, it } from "vitest";
import { Printer } from "../../src/cli/printer.js";
import type { EmulatorEvent, WorkerState } from "../../src/core/events.js";
import type { Job } from "../../src/core/job.js";

const TRACEBACK = 'Traceback (most recent call last):\n  File "handler.py", line 8, in parse\n    return int(value)\n           ^^^^^^^^^^\nValueError: bad';
const REPORT = { error_type: "<class 'ValueError'>", error_message: "bad", error_traceback: `${TRACEBACK}\n`, hostname: "w1", worker_id: "w1", runpod_version: "1.12.0" };

/** A printer whose lines are collected without their time. */
function printer() {
  const lines: string[] = [];
  const print = new Printer((line) => lines.push(...line.split("\n").map((text) => text.replace(/^\d\d:\d\d:\d\d\.\d{3} /, ""))), false).print;
  let time = 0;
  const base = { endpointId: "local", get time() {
    return ++time;
  } };
  const worker = (workerId: string, state: WorkerState, extra: { detail?: string; coldStartMs?: number } = {}) =>
    print({ type: "worker", ...base, workerId, state, ...extra } as EmulatorEvent);
  const log = (workerId: string, message: string, extra: { jobId?: string; level?: string } = {}) =>
    print({ type: "log", ...base, workerId, stream: "stderr", message, ...extra } as EmulatorEvent);
  const status = (job: Partial<Job>) => print({ type: "status", ...base, job: { id: "3b435494-aaaa-u1", retries: 0, lost: 0, ...job } as Job });
  const reload = (filesChanged: number, workersReplaced: number) => print({ type: "reload", ...base, filesChanged, workersReplaced, ms: 12 });
  const warning = (message: string) => print({ type: "warning", ...base, message });
  return { lines, worker, log, status, reload, warning };
}

describe("the terminal printer", () => {
  it("prints a failed job's traceback once, under its line, and the SDK's JSON report of it as one line", () => {
    const p = printer();
    p.log("w1", "Captured Handler Exception", { jobId: "3b435494-aaaa-u1", level: "ERROR" });
    p.log("w1", JSON.stringify(REPORT, null, 4), { jobId: "3b435494-aaaa-u1", level: "ERROR" });
    p.status({ status: "FAILED", executionTime: 5, error: JSON.stringify(REPORT) });
    expect(p.lines).toEqual([
      "[w1] [3b435494…] ERROR Captured Handler Exception",
      "[w1] [3b435494…] ERROR ValueError: bad",
      "✗ 3b435494… FAILED in 5 ms: ValueError: bad",
      ...TRACEBACK.split("\n").map((line) => `${" ".repeat(15)}${line}`),
    ]);
  });

  it("tells a job lost with its worker in one line each time: its output was printed as it came", () => {
    const p = printer();
    p.warning("worker w1 exited with code 3 while running this job; requeued once");
    p.status({ status: "FAILED", lost: 2, error: "worker w2 exited with code 3 while running this job (the job was lost twice, so it was not requeued again)\nits last output:\nabout to die" });
    expect(p.lines).toEqual([
      "! worker w1 exited with code 3 while running this job; requeued once",
      "✗ 3b435494… FAILED: worker w2 exited with code 3 while running this job (the job was lost twice, so it was not requeued again)",
    ]);
  });

  it("shows a failed start's output once, until it changes, and once more when a worker starts after it", () => {
    const p = printer();
    const fail = (id: string, output: string[], again: boolean) => {
      p.worker(id, "initializing");
      for (const line of output) p.log(id, line);
      p.worker(id, "exited", { detail: "exited with code 1" });
      p.worker(id, "unhealthy", { detail: again ? "failed to start again (exited with code 1); retrying in 2 s" : `failed to start (exited with code 1) before taking a job; retrying in 1 s\n${output.join("\n")}` });
    };
    fail("w1", ["Traceback", "ModuleNotFoundError: x"], false);
    fail("w2", ["Traceback", "ModuleNotFoundError: x"], true);
    fail("w3", ["Traceback", "ModuleNotFoundError: y"], false);
    p.worker("w4", "initializing");
    p.log("w4", "loading the model");
    expect(p.lines.at(-1)).toBe("worker w4 starting");
    p.worker("w4", "idle", { coldStartMs: 80 });
    expect(p.lines).toEqual([
      "worker w1 starting",
      "[w1] Traceback",
      "[w1] ModuleNotFoundError: x",
      "worker w1 unhealthy: failed to start (exited with code 1) before taking a job; retrying in 1 s",
      "worker w2 starting",
      "worker w2 unhealthy: failed to start again (exited with code 1); retrying in 2 s",
      "worker w3 starting",
      "[w3] Traceback",
      "[w3] ModuleNotFoundError: y",
      "worker w3 unhealthy: failed to start (exited with code 1) before taking a job; retrying in 1 s",
      "worker w4 starting",
      "[w4] loading the model",
      "worker w4 ready in 80 ms",
    ]);
  });

  it("holds back no more than a long start's first lines after a failure: such a start is not a quick repeat", () => {
    const p = printer();
    p.worker("w1", "initializing");
    p.log("w1", "boom");
    p.worker("w1", "exited", { detail: "exited with code 1" });
    p.worker("w2", "initializing");
    for (let n = 0; n < 250; n++) p.log("w2", `loading shard ${n}`);
    expect(p.lines.filter((line) => line.startsWith("[w2] loading shard"))).toHaveLength(250);
  });

  it("says a reload once its new code started, or that it failed to", () => {
    const p = printer();
    p.worker("w2", "initializing");
    p.reload(1, 1);
    expect(p.lines).toEqual(["worker w2 starting"]);
    p.worker("w2", "idle", { coldStartMs: 90 });
    p.worker("w3", "initializing");
    p.reload(2, 1);
    p.log("w3", "SyntaxError: invalid syntax");
    p.worker("w3", "exited", { detail: "exited with code 1" });
    p.worker("w3", "unhealthy", { detail: "failed to start (exited with code 1) before taking a job; retrying in 1 s\nSyntaxError: invalid syntax" });
    p.reload(1, 0);
    expect(p.lines).toEqual([
      "worker w2 starting",
      "reloaded (1 file changed): 1 worker replaced in 12 ms",
      "worker w2 ready in 90 ms",
      "worker w3 starting",
      "[w3] SyntaxError: invalid syntax",
      "reload failed: the new code did not start (2 files changed; 1 worker on the old code stopped); fix it and save again",
      "worker w3 unhealthy: failed to start (exited with code 1) before taking a job; retrying in 1 s",
      // No worker is starting: nothing to wait for.
      "reloaded (1 file changed): 0 workers replaced in 12 ms",
    ]);
  });
});
