import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, onTestFinished } from "vitest";
import type { EmulatorEvent } from "../../src/index.js";
import { call, fixture, nextEvent, runToEnd, startEmulator } from "../helpers/emulator.js";

const isWorker = (state: string) => (e: EmulatorEvent) => e.type === "worker" && e.state === state;
type WorkerEvent = Extract<EmulatorEvent, { type: "worker" }>;

/** Worker events from the emulator's very start, and a promise for the first in a given state. */
function workerEvents() {
  const seen: WorkerEvent[] = [];
  const waiting = new Map<string, (event: WorkerEvent) => void>();
  const onEvent = (event: EmulatorEvent) => {
    if (event.type !== "worker") return;
    seen.push(event);
    waiting.get(event.state)?.(event);
  };
  const first = (state: string) =>
    new Promise<WorkerEvent>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${state} worker within 20 s`)), 20_000);
      waiting.set(state, (event) => {
        clearTimeout(timer);
        waiting.delete(state);
        resolve(event);
      });
    });
  return { seen, onEvent, first };
}

describe("the worker pool", () => {
  it("scales from zero on the first job, and back to zero after the idle timeout", async () => {
    const emu = await startEmulator({ mock: true, idleTimeout: 1 });
    expect((await call(emu, "GET", "/health")).body.workers).toMatchObject({ idle: 0, initializing: 0, running: 0 });
    const job = await runToEnd(emu, { n: 1 });
    expect(job.status).toBe("COMPLETED");
    await nextEvent(emu, isWorker("exited"));
    expect((await call(emu, "GET", "/health")).body.workers).toEqual({ idle: 0, initializing: 0, ready: 0, running: 0, throttled: 0, unhealthy: 0 });
  });

  it("keeps the minimum warm, and scales up to the maximum under a queue", async () => {
    const emu = await startEmulator({ mock: true, minWorkers: 1, maxWorkers: 3, queueDelay: 0 });
    await nextEvent(emu, (e) => e.type === "worker" && e.coldStartMs !== undefined);
    expect((await call(emu, "GET", "/health")).body.workers.idle).toBe(1);
    const ids = [];
    for (let n = 0; n < 6; n++) ids.push((await call(emu, "POST", "/run", { input: { mock: { delay_ms: 1500 } } })).body.id);
    const workers = new Set<string>();
    for (const id of ids) workers.add((await call(emu, "GET", `/status-sync/${id}?wait=20000`)).body.workerId);
    expect(workers.size).toBe(3);
  });

  it("adds extra workers beyond the maximum under a queue once a worker has started, and counts them as such", async () => {
    const { seen, onEvent } = workerEvents();
    const emu = await startEmulator({ mock: true, maxWorkers: 1, extraWorkers: 1, queueDelay: 0, onEvent });
    const ids = [];
    for (let n = 0; n < 4; n++) ids.push((await call(emu, "POST", "/run", { input: { mock: { delay_ms: 1500 } } })).body.id);
    const extra = (await nextEvent(emu, (e) => e.type === "worker" && e.state === "initializing" && e.workerType === "extra")) as WorkerEvent;
    // The extra worker came only after the first one was ready: the image is cached from then on.
    const firstReady = seen.findIndex((e) => e.coldStartMs !== undefined);
    expect(firstReady).toBeGreaterThanOrEqual(0);
    expect(seen.findIndex((e) => e.workerId === extra.workerId)).toBeGreaterThan(firstReady);
    expect((await call(emu, "GET", "/health")).body.workerTypes).toEqual({ active: 0, flex: 1, extra: 1 });
    const workers = new Set<string>();
    for (const id of ids) workers.add((await call(emu, "GET", `/status-sync/${id}?wait=20000`)).body.workerId);
    expect(workers.size).toBe(2);
    expect(new Set(seen.filter((e) => e.state === "initializing").map((e) => e.workerId)).size).toBe(2);
  });

  it("counts a simulated cold start in delayTime", async () => {
    const emu = await startEmulator({ mock: true, coldStart: 700 });
    const job = await runToEnd(emu, 1);
    expect(job.delayTime).toBeGreaterThanOrEqual(700);
  });

  it("shortens the cold start of a worker started soon after one stopped, with flashboot", async () => {
    const emu = await startEmulator({ mock: true, coldStart: 1500, flashboot: true, idleTimeout: 0 });
    const first = await runToEnd(emu, 1);
    expect(first.delayTime).toBeGreaterThanOrEqual(1500);
    await nextEvent(emu, isWorker("exited"));
    const second = await runToEnd(emu, 2);
    expect(second.workerId).not.toBe(first.workerId);
    expect(second.delayTime).toBeLessThan(1500);
  });

  it("does not scale up for low-priority jobs", async () => {
    const emu = await startEmulator({ mock: true });
    const { body } = await call(emu, "POST", "/run", { input: 1, policy: { lowPriority: true } });
    expect((await call(emu, "GET", "/health")).body.workers.initializing).toBe(0);
    await call(emu, "POST", "/run", { input: 2 });
    expect((await call(emu, "GET", `/status-sync/${body.id}?wait=20000`)).body.status).toBe("COMPLETED");
  });

  it("times out a running job, stops it, and runs the next job on a healthy worker", async () => {
    const emu = await startEmulator({ mock: true, maxWorkers: 1 });
    const slow = await runToEnd(emu, { mock: { delay_ms: 60_000 } }, { policy: { executionTimeout: 5000 } });
    expect(slow).toMatchObject({ status: "TIMED_OUT", error: "the job ran longer than its execution timeout of 5000 ms" });
    expect((await runToEnd(emu, { after: true })).output).toEqual({ after: true });
  });

  it("retries a job once when its worker crashes, then fails it with the exit code and the last output", async () => {
    const emu = await startEmulator({ mock: true });
    const job = await runToEnd(emu, { mock: { exit_code: 3 } });
    expect(job.status).toBe("FAILED");
    expect(job.retries).toBe(1);
    expect(job.error).toMatch(/^worker w\d+-\w+ exited with code 3 while running this job/);
    expect((await call(emu, "GET", "/health")).body.jobs).toMatchObject({ failed: 1, retried: 1 });
    expect((await runToEnd(emu, "still serving")).output).toBe("still serving");
  });

  it("counts a worker that failed to start as unhealthy at once, without a stand-in worker or a line for one", async () => {
    const events = workerEvents();
    const unhealthy = events.first("unhealthy");
    const emu = await startEmulator({ handler: fixture("node/import-error/handler.mjs"), minWorkers: 1, onEvent: events.onEvent });
    const event = await unhealthy;
    expect(event.detail).toMatch(/^failed to start \(exited with code 1\) before taking a job; retrying in 1 s/);
    expect((await call(emu, "GET", "/health")).body.workers).toMatchObject({ unhealthy: 1, initializing: 0, idle: 0 });
    expect(emu.endpoint.workers()).toEqual([]);
    // Every worker that is announced as gone had started; nothing is "stopped" that never ran.
    const started = new Set(events.seen.filter((e) => e.state === "initializing").map((e) => e.workerId));
    for (const gone of events.seen.filter((e) => e.state === "exited")) {
      expect(started.has(gone.workerId)).toBe(true);
      expect(gone.detail).toBe("exited with code 1");
    }
  });

  it("kills a worker that stopped answering while it held a job, and runs the job again elsewhere", async () => {
    const events = workerEvents();
    const ready = events.first("idle");
    const emu = await startEmulator({ mock: true, minWorkers: 1, pingInterval: 1000, onEvent: events.onEvent });
    await ready;
    const [stuck] = emu.endpoint.workers();
    const pid = stuck.pid!;
    // Each worker leads its own process group; stop it all, as a debugger or a swapped-out machine would.
    process.kill(-pid, "SIGSTOP");
    onTestFinished(() => {
      for (const signal of ["SIGCONT", "SIGKILL"] as const) {
        try {
          process.kill(-pid, signal);
        } catch {
          // Gone already: the emulator killed it.
        }
      }
    });
    const silent = events.first("unhealthy");
    const gone = nextEvent(emu, (e) => e.type === "worker" && e.state === "exited" && e.workerId === stuck.id);
    const { body } = await call(emu, "POST", "/run", { input: { after: "a stop" } });
    expect((await silent).detail).toMatch(/^nothing heard from it for \d+ ms \(no ping, job-take or result\)$/);
    await gone;
    expect(() => process.kill(-pid, 0)).toThrow();
    const job = (await call(emu, "GET", `/status-sync/${body.id}?wait=20000`)).body;
    expect(job).toMatchObject({ status: "COMPLETED", output: { after: "a stop" }, retries: 1 });
    expect(job.workerId).not.toBe(stuck.id);
    expect(emu.history(body.id)!.job.lost).toBe(1);
  });

  it("replaces a worker that asked for it with refresh_worker", async () => {
    const emu = await startEmulator({ mock: true });
    const first = await runToEnd(emu, { mock: { output: { refresh_worker: true, v: 1 } } });
    expect(first).toMatchObject({ status: "COMPLETED", output: { v: 1 } });
    const second = await runToEnd(emu, 2);
    expect(second.workerId).not.toBe(first.workerId);
  });
});

/**
 * An environment with a fake nvidia-smi first on PATH, listing `gpus` as the emulator asks for them
 * ("index, uuid, name, memory"); removed after the tests of the calling describe.
 */
function fakeGpus(gpus: string[]): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), "fake-gpus-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "nvidia-smi"), `#!/bin/sh\n${gpus.map((gpu) => `echo '${gpu}'\n`).join("")}`);
  chmodSync(join(dir, "nvidia-smi"), 0o755);
  return { ...process.env, PATH: `${dir}:${process.env.PATH}` };
}

describe("GPU passthrough", () => {
  const env = fakeGpus(["0, GPU-aaaa, NVIDIA H100 80GB HBM3, 81559 MiB", "1, GPU-bbbb, NVIDIA H100 80GB HBM3, 81559 MiB"]);

  it("gives each worker its own GPUs and throttles the worker that finds none free", async () => {
    // A long idle timeout: no worker may stop, and free its GPU, while the jobs are being sent.
    const emu = await startEmulator({ handler: fixture("node/env/handler.js"), env, maxWorkers: 3, queueDelay: 0, idleTimeout: 60 });
    expect(emu.gpus.map((g) => g.index)).toEqual([0, 1]);
    const throttled = nextEvent(emu, isWorker("throttled"));
    const ids = [];
    for (let n = 0; n < 3; n++) ids.push((await call(emu, "POST", "/run", { input: { ms: 1500 } })).body.id);
    await throttled;
    expect((await call(emu, "GET", "/health")).body.workers.throttled).toBe(1);
    const outputs = [];
    for (const id of ids) outputs.push((await call(emu, "GET", `/status-sync/${id}?wait=20000`)).body.output);
    const byWorker = new Map(outputs.map((o) => [o.worker, o]));
    expect(byWorker.size).toBe(2);
    expect([...byWorker.values()].map((o) => [o.cuda, o.nvidia, o.count]).sort()).toEqual([["0", "0", "1"], ["1", "1", "1"]]);
    // With the queue empty, no worker is wanted that cannot start.
    expect((await call(emu, "GET", "/health")).body.workers).toMatchObject({ throttled: 0, idle: 2 });
  });

  it("leaves the CUDA variables as they were without GPUs", async () => {
    const emu = await startEmulator({ handler: fixture("node/env/handler.js"), gpus: "none", env: { ...env, CUDA_VISIBLE_DEVICES: "7" } });
    expect((await runToEnd(emu, {})).output).toMatchObject({ cuda: "7", count: null });
  });
});

describe("GPU types (gpuType)", () => {
  const env = fakeGpus([
    "0, GPU-aaaa, NVIDIA A100-SXM4-80GB, 81920 MiB",
    "1, GPU-bbbb, NVIDIA H100 80GB HBM3, 81559 MiB",
    "2, GPU-cccc, NVIDIA H100 80GB HBM3, 81559 MiB",
  ]);

  it("gives workers only the GPUs of the type asked for", async () => {
    const emu = await startEmulator({ handler: fixture("node/env/handler.js"), env, gpuType: "H100", maxWorkers: 3, queueDelay: 0, idleTimeout: 60 });
    const throttled = nextEvent(emu, isWorker("throttled"));
    const ids = [];
    for (let n = 0; n < 3; n++) ids.push((await call(emu, "POST", "/run", { input: { ms: 1500 } })).body.id);
    // The A100 is free, but not of the type: the third worker waits for an H100.
    expect(((await throttled) as WorkerEvent).detail).toBe("no free GPU for another worker; waiting for one");
    const outputs = [];
    for (const id of ids) outputs.push((await call(emu, "GET", `/status-sync/${id}?wait=20000`)).body.output);
    expect(new Set(outputs.map((o) => o.worker)).size).toBe(2);
    expect([...new Set(outputs.map((o) => o.cuda))].sort()).toEqual(["1", "2"]);
  });

  it("leaves the endpoint throttled, saying which types were asked for and which exist, when none fits", async () => {
    const { seen, onEvent } = workerEvents();
    const warnings: string[] = [];
    const emu = await startEmulator({
      handler: fixture("node/env/handler.js"), env, gpuType: ["L40S"],
      onEvent: (event) => (event.type === "warning" ? warnings.push(event.message) : onEvent(event)),
    });
    const gpus = "NVIDIA A100-SXM4-80GB (GPU 0), NVIDIA H100 80GB HBM3 (GPUs 1, 2)";
    expect(warnings).toEqual([`gpuType asks for L40S, and no GPU here is of that type; GPUs here: ${gpus}; its workers will be throttled`]);
    const throttled = nextEvent(emu, isWorker("throttled"));
    const { body: job } = await call(emu, "POST", "/run", { input: {} });
    expect(((await throttled) as WorkerEvent).detail).toBe(`no GPU for another worker: gpuType asks for L40S, and no GPU here is of that type; GPUs here: ${gpus}`);
    expect((await call(emu, "GET", "/health")).body.workers).toMatchObject({ throttled: 1, initializing: 0, idle: 0 });
    expect((await call(emu, "GET", `/status/${job.id}`)).body.status).toBe("IN_QUEUE");
    expect(seen.filter((e) => e.state === "initializing")).toEqual([]);
  });
});
