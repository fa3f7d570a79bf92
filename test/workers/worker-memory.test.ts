// A worker's memory limit (workerMemory): a worker over it is killed as a container out of memory, its
// job handled as a lost worker's; the memory of each worker is shown in /health and in worker events.
import { describe, expect, it } from "vitest";
import type { EmulatorEvent } from "../../src/index.js";
import { call, fixture, nextEvent, runToEnd, startEmulator } from "../helpers/emulator.js";

const MB = 1024 * 1024;
type WorkerEvent = Extract<EmulatorEvent, { type: "worker" }>;
const ALLOCATE = fixture("python/allocate/handler.py");
const OUT_OF_MEMORY = /exceeded its memory limit \(workerMemory 200 MB\) with \d+(\.\d)? MB in use, and was killed as out of memory \(SIGKILL\)/;

describe.runIf(process.platform === "linux")("a worker's memory limit", () => {
  it("kills a worker that goes over it; its job is requeued once, then fails with the limit named", async () => {
    const emu = await startEmulator({ handler: ALLOCATE, workerMemory: "200MB" });
    const exited = nextEvent(emu, (e): e is WorkerEvent => e.type === "worker" && e.state === "exited");
    const job = await runToEnd(emu, { mb: 300, hold_s: 60 });
    expect(job).toMatchObject({ status: "FAILED", retries: 1 });
    expect(job.error).toMatch(new RegExp(`^worker w\\d+-\\w+ ${OUT_OF_MEMORY.source} while running this job`));
    const first = await exited;
    expect(first.detail).toMatch(OUT_OF_MEMORY);
    expect(first.memory?.limitBytes).toBe(200 * MB);
    expect(first.memory?.peakBytes).toBeGreaterThan(200 * MB);
    expect((await call(emu, "GET", "/health")).body.jobs).toMatchObject({ failed: 1, retried: 1 });
  });

  it("lets a worker within it finish, and shows each worker's memory in /health", async () => {
    const emu = await startEmulator({ handler: ALLOCATE, workerMemory: "1GB" });
    // Kept by the worker after the job, as a model cache would be: there to be seen once the job is done.
    const job = await runToEnd(emu, { mb: 300, keep: true });
    expect(job).toMatchObject({ status: "COMPLETED", output: { filled_mb: 300, kept_mb: 300 } });
    emu.pool.sampleMemory();
    const memory = (await call(emu, "GET", "/health")).body.workerMemory[job.workerId];
    expect(memory.limitBytes).toBe(1024 * MB);
    expect(memory.usedBytes).toBeGreaterThan(300 * MB);
    expect(memory.peakBytes).toBeGreaterThanOrEqual(memory.usedBytes);
    expect(emu.endpoint.workers()[0]?.memory).toEqual(memory);
  });

  it("shows a worker that goes over it before its first job as failing to start, as a model too big for its worker", async () => {
    const emu = await startEmulator({ handler: ALLOCATE, workerMemory: "200MB", minWorkers: 1, env: { ...process.env, ALLOCATE_AT_IMPORT_MB: "300" } });
    const unhealthy = (await nextEvent(emu, (e) => e.type === "worker" && e.state === "unhealthy")) as WorkerEvent;
    expect(unhealthy.detail).toMatch(new RegExp(`^failed to start \\(${OUT_OF_MEMORY.source}\\) before taking a job; retrying in 1 s`));
  });

  it("is said not to apply to a function handler, which runs in the emulator's own process", async () => {
    const warnings: string[] = [];
    await startEmulator({ handler: () => "ok", workerMemory: "1GB", onEvent: (e) => e.type === "warning" && warnings.push(e.message) });
    expect(warnings).toEqual(["workerMemory 1 GB is not enforced for a function handler: it runs in this process"]);
  });
});
