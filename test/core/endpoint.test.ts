import { beforeEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/core/clock.js";
import { Endpoint, type EndpointSettings } from "../../src/core/endpoint.js";
import { type EmulatorEvent, EventBus } from "../../src/core/events.js";
import { statusObject } from "../../src/core/job.js";
import { openDatabase } from "../../src/store/database.js";
import { JobStore } from "../../src/store/jobs.js";
import { LogStore } from "../../src/store/logs.js";

const MIN = 60_000;

function setup(overrides: Partial<EndpointSettings> = {}) {
  const clock = new FakeClock();
  const db = openDatabase(null);
  const bus = new EventBus();
  const events: EmulatorEvent[] = [];
  bus.on((e) => events.push(e));
  const settings: EndpointSettings = {
    id: "ep",
    executionTimeout: 600_000,
    ttl: 86_400_000,
    retention: { run: 30 * MIN, runsync: MIN },
    resultLimit: { run: 10_000_000, runsync: 20_000_000 },
    pollHoldMs: 30_000,
    ...overrides,
  };
  const endpoint = new Endpoint(settings, new JobStore(db), new LogStore(db), bus, clock);
  const stops: string[] = [];
  endpoint.setPoolHooks({ reconsider() {}, jobStopRequested: (_w, job) => stops.push(job), recycle() {}, isCurrent: () => true });
  return { clock, endpoint, events, stops, db };
}

describe("Endpoint", () => {
  let t: ReturnType<typeof setup>;
  beforeEach(() => {
    t = setup();
  });

  it("runs a job through queue, take and result, with delayTime and executionTime", async () => {
    const job = t.endpoint.submit({ input: { a: 1 }, policy: {} }, "run");
    expect(statusObject(job)).toEqual({ id: job.id, status: "IN_QUEUE" });
    const worker = t.endpoint.addWorker("w1", "s", "v1");
    t.clock.advance(840);
    const [taken] = await t.endpoint.take(worker, 1, false);
    expect(taken.id).toBe(job.id);
    t.clock.advance(12);
    t.endpoint.done(worker, job.id, { output: { b: 2 } }, 20);
    expect(statusObject(t.endpoint.visibleJob(job.id)!)).toEqual({
      id: job.id, status: "COMPLETED", delayTime: 840, executionTime: 12, output: { b: 2 }, workerId: "w1",
    });
    expect(t.endpoint.health().jobs).toEqual({ completed: 1, failed: 0, inProgress: 0, inQueue: 0, retried: 0 });
  });

  it("holds a take until a job arrives, and answers nothing when the hold passes", async () => {
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    const empty = t.endpoint.take(worker, 1, false);
    t.clock.advance(30_000);
    expect(await empty).toEqual([]);
    const pending = t.endpoint.take(worker, 2, false);
    const job = t.endpoint.submit({ input: 1, policy: {} }, "run");
    expect((await pending).map((j) => j.id)).toEqual([job.id]);
  });

  it("puts an untaken job back at the head of the queue", async () => {
    const first = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const second = t.endpoint.submit({ input: 2, policy: {} }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    const taken = await t.endpoint.take(worker, 1, false);
    t.endpoint.untake(worker, taken);
    expect(t.endpoint.visibleJob(first.id)!.status).toBe("IN_QUEUE");
    expect((await t.endpoint.take(worker, 2, false)).map((j) => j.id)).toEqual([first.id, second.id]);
  });

  it("keeps progress while running and ignores it after the result", async () => {
    const job = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 1, false);
    t.endpoint.done(worker, job.id, { status: "IN_PROGRESS", output: "half" }, 10);
    expect(statusObject(t.endpoint.visibleJob(job.id)!)).toMatchObject({ status: "IN_PROGRESS", output: "half" });
    t.endpoint.done(worker, job.id, { output: "all" }, 10);
    t.endpoint.done(worker, job.id, { status: "IN_PROGRESS", output: "late" }, 10);
    expect(statusObject(t.endpoint.visibleJob(job.id)!)).toMatchObject({ status: "COMPLETED", output: "all" });
  });

  it("fails a job whose error is not a string with the error JSON-encoded, keeping the output", async () => {
    const job = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 1, false);
    t.endpoint.done(worker, job.id, { output: { x: 1 }, error: { code: 7 } }, 10);
    expect(statusObject(t.endpoint.visibleJob(job.id)!)).toMatchObject({ status: "FAILED", output: { x: 1 }, error: '{"code":7}' });
  });

  it("fails a job whose result is over its kind's limit, naming the size and the limit", async () => {
    const small = setup({ resultLimit: { run: 100, runsync: 200 } });
    const job = small.endpoint.submit({ input: 1, policy: {} }, "run");
    const worker = small.endpoint.addWorker("w1", "s", undefined);
    await small.endpoint.take(worker, 1, false);
    small.endpoint.done(worker, job.id, { output: "x".repeat(150) }, 165);
    expect(small.endpoint.visibleJob(job.id)!.error).toBe("the job's result of 0.000152 MB exceeds the 0.0001 MB limit of /run results");
  });

  it("cancels a queued job at once and a running job through job-stop", async () => {
    const queued = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const running = t.endpoint.submit({ input: 2, policy: {} }, "run");
    expect(t.endpoint.cancel(queued).status).toBe("CANCELLED");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    expect((await t.endpoint.take(worker, 1, false)).map((j) => j.id)).toEqual([running.id]);
    expect(t.endpoint.cancel(running).status).toBe("CANCELLED");
    expect(await t.endpoint.pollStops(worker)).toEqual([running.id]);
    expect(t.stops).toEqual([running.id]);
    // The late result is ignored, and the next take with job_in_progress=0 releases the job.
    t.endpoint.done(worker, running.id, { output: "late" }, 10);
    expect(t.endpoint.visibleJob(running.id)!.status).toBe("CANCELLED");
    expect(t.endpoint.isReleasing("w1", running.id)).toBe(false);
  });

  it("times a running job out after its executionTimeout and stops it", async () => {
    const job = t.endpoint.submit({ input: 1, policy: { executionTimeout: 5000 } }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 1, false);
    t.clock.advance(4999);
    expect(t.endpoint.visibleJob(job.id)!.status).toBe("IN_PROGRESS");
    t.clock.advance(1);
    expect(t.endpoint.visibleJob(job.id)).toMatchObject({ status: "TIMED_OUT", error: "the job ran longer than its execution timeout of 5000 ms" });
    expect(t.endpoint.isReleasing("w1", job.id)).toBe(true);
    t.endpoint.ping(worker, [], "1.0");
    expect(t.endpoint.isReleasing("w1", job.id)).toBe(false);
  });

  it("forgets a job from the API when its TTL passes, whatever its state", async () => {
    const job = t.endpoint.submit({ input: 1, policy: { ttl: 10_000 } }, "run");
    t.clock.advance(10_000);
    expect(t.endpoint.visibleJob(job.id)).toBeUndefined();
    expect(t.endpoint.health().jobs.inQueue).toBe(0);
  });

  it("answers for finished jobs during their retention only: 30 min for /run, 1 min for /runsync", async () => {
    const run = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const sync = t.endpoint.submit({ input: 2, policy: {} }, "runsync");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 2, false);
    t.endpoint.done(worker, run.id, { output: 1 }, 10);
    t.endpoint.done(worker, sync.id, { output: 2 }, 10);
    t.clock.advance(MIN - 1);
    expect(t.endpoint.visibleJob(sync.id)).toBeDefined();
    t.clock.advance(1);
    expect(t.endpoint.visibleJob(sync.id)).toBeUndefined();
    t.clock.advance(29 * MIN - 1);
    expect(t.endpoint.visibleJob(run.id)).toBeDefined();
    t.clock.advance(1);
    expect(t.endpoint.visibleJob(run.id)).toBeUndefined();
  });

  it("requeues a job lost with a crashed worker once, then fails it naming the exit", async () => {
    const job = t.endpoint.submit({ input: 1, policy: {} }, "run");
    for (const [n, code] of [[1, 3], [2, 3]] as const) {
      const worker = t.endpoint.addWorker(`w${n}`, "s", undefined);
      await t.endpoint.take(worker, 1, false);
      t.endpoint.removeWorker(worker, { code, signal: null, byEmulator: false, lastLines: ["boom"] });
    }
    const final = t.endpoint.visibleJob(job.id)!;
    expect(final.status).toBe("FAILED");
    expect(final.retries).toBe(1);
    expect(final.error).toContain("worker w2 exited with code 3 while running this job");
    expect(final.error).toContain("boom");
    expect(t.endpoint.health().jobs.retried).toBe(1);
  });

  it("requeues without counting a retry when the emulator stopped the worker", async () => {
    const job = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 1, false);
    t.endpoint.removeWorker(worker, { code: 0, signal: null, byEmulator: true, lastLines: [] });
    expect(statusObject(t.endpoint.visibleJob(job.id)!)).toEqual({ id: job.id, status: "IN_QUEUE" });
  });

  it("drains stream chunks once each, in order", async () => {
    const job = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 1, false);
    t.endpoint.streamChunk(worker, job.id, "a");
    t.endpoint.streamChunk(worker, job.id, "b");
    expect(t.endpoint.drainStream(job)).toEqual(["a", "b"]);
    expect(t.endpoint.drainStream(job)).toEqual([]);
    t.endpoint.streamChunk(worker, job.id, "c");
    expect(t.endpoint.drainStream(job)).toEqual(["c"]);
  });

  it("retries a FAILED job with the same id and input, and refuses a COMPLETED one", async () => {
    const job = t.endpoint.submit({ input: { n: 1 }, policy: {} }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 1, false);
    t.endpoint.done(worker, job.id, { error: "bad" }, 10);
    const retried = t.endpoint.retry(t.endpoint.visibleJob(job.id)!)!;
    expect(statusObject(retried)).toEqual({ id: job.id, status: "IN_QUEUE", retries: 1 });
    const [again] = await t.endpoint.take(worker, 1, false);
    expect(again.input).toEqual({ n: 1 });
    t.endpoint.done(worker, job.id, { output: "ok" }, 10);
    expect(t.endpoint.retry(t.endpoint.visibleJob(job.id)!)).toBeUndefined();
  });

  it("recovers queued jobs and requeues the running ones of an earlier run once", async () => {
    const running = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const queued = t.endpoint.submit({ input: 2, policy: {} }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    expect((await t.endpoint.take(worker, 1, false))[0].id).toBe(running.id);
    // A second endpoint on the same database stands for the emulator started again after a crash.
    const again = new Endpoint(t.endpoint.settings, new JobStore(t.db), new LogStore(t.db), new EventBus(), t.clock);
    again.recover();
    expect(again.health().jobs).toMatchObject({ inQueue: 2, inProgress: 0, retried: 1 });
    const taken = await again.take(again.addWorker("w2", "s", undefined), 2, false);
    expect(taken.map((j) => [j.id, j.retries])).toEqual([[running.id, 1], [queued.id, 0]]);
  });
});
