import { beforeEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../src/core/clock.js";
import { Endpoint, type EndpointSettings } from "../../src/core/endpoint.js";
import type { PoolShortfall, WorkerPool } from "../../src/core/worker-pool.js";
import { type EmulatorEvent, EventBus } from "../../src/core/events.js";
import { statusObject } from "../../src/core/job.js";
import { openDatabase } from "../../src/store/database.js";
import { JobStore } from "../../src/store/jobs.js";
import { LogStore } from "../../src/store/logs.js";

const MIN = 60_000;

/** A pool that records what the endpoint asks of it: the seam is an interface, so a unit test can play it. */
function recordingPool() {
  const calls: string[] = [];
  const missing: PoolShortfall = { throttled: 0, unhealthy: 0 };
  const pool: WorkerPool = {
    reconsider() {},
    workerChanged: (worker) => calls.push(`changed ${worker.id} ${worker.state}`),
    recycle: (id) => calls.push(`recycle ${id}`),
    kill: (id) => calls.push(`kill ${id}`),
    isCurrent: () => true,
    shortfall: () => ({ ...missing }),
  };
  return { pool, calls, missing };
}

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
    releaseGraceMs: 5_000,
    pingTimeoutMs: 30_000,
    pingIntervalMs: 10_000,
    ...overrides,
  };
  const { pool, calls, missing } = recordingPool();
  const endpoint = new Endpoint(settings, { store: new JobStore(db), logs: new LogStore(db), bus, clock }, () => pool);
  const kills = () => calls.filter((c) => c.startsWith("kill"));
  return { clock, endpoint, events, calls, kills, missing, db, bus };
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

  it("hands a job to the longest-waiting take, not to the worker that asked again after its last job", async () => {
    const [first, second] = [t.endpoint.addWorker("w1", "s", undefined), t.endpoint.addWorker("w2", "s", undefined)];
    const firstTake = t.endpoint.take(first, 1, false);
    const secondTake = t.endpoint.take(second, 1, false);
    const one = t.endpoint.submit({ input: 1, policy: {} }, "run");
    expect((await firstTake).map((j) => j.id)).toEqual([one.id]);
    t.endpoint.done(first, one.id, { output: 1 }, 10);
    const againTake = t.endpoint.take(first, 1, false);
    const two = t.endpoint.submit({ input: 2, policy: {} }, "run");
    expect((await secondTake).map((j) => j.id)).toEqual([two.id]);
    const three = t.endpoint.submit({ input: 3, policy: {} }, "run");
    expect((await againTake).map((j) => j.id)).toEqual([three.id]);
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
    // The late result is ignored, and tells that the worker let go of the job.
    t.endpoint.done(worker, running.id, { output: "late" }, 10);
    expect(t.endpoint.visibleJob(running.id)!.status).toBe("CANCELLED");
    expect(worker.releasing.has(running.id)).toBe(false);
    t.clock.advance(5_000);
    expect(t.kills()).toEqual([]);
  });

  it("times a running job out after its executionTimeout and stops it", async () => {
    const job = t.endpoint.submit({ input: 1, policy: { executionTimeout: 5000 } }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 1, false);
    t.clock.advance(4999);
    expect(t.endpoint.visibleJob(job.id)!.status).toBe("IN_PROGRESS");
    t.clock.advance(1);
    expect(t.endpoint.visibleJob(job.id)).toMatchObject({ status: "TIMED_OUT", error: "the job ran longer than its execution timeout of 5000 ms" });
    expect(worker.releasing.has(job.id)).toBe(true);
    t.endpoint.ping(worker, [], "1.0");
    expect(worker.releasing.has(job.id)).toBe(false);
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
    const again = new Endpoint(t.endpoint.settings, { store: new JobStore(t.db), logs: new LogStore(t.db), bus: new EventBus(), clock: t.clock }, () => recordingPool().pool);
    again.recover();
    expect(again.health().jobs).toMatchObject({ inQueue: 2, inProgress: 0, retried: 1 });
    const taken = await again.take(again.addWorker("w2", "s", undefined), 2, false);
    expect(taken.map((j) => [j.id, j.retries])).toEqual([[running.id, 1], [queued.id, 0]]);
  });

  it("kills a worker that keeps a stopped job past the release grace, with a warning", async () => {
    const job = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 1, false);
    t.endpoint.cancel(job);
    t.clock.advance(4_999);
    expect(t.kills()).toEqual([]);
    t.clock.advance(1);
    expect(t.kills()).toEqual(["kill w1"]);
    expect(t.events.some((e) => e.type === "warning" && e.message.includes("did not let go of stopped job"))).toBe(true);
  });

  it("counts the workers that exist by state, plus the ones the pool wants but lacks", async () => {
    t.endpoint.addWorker("w1", "s", undefined);
    // w2 waits in job-take, so the job goes to it; w3 then finds the queue empty and waits.
    const taken = t.endpoint.take(t.endpoint.addWorker("w2", "s", undefined), 1, false);
    t.endpoint.submit({ input: 1, policy: {} }, "run");
    expect(await taken).toHaveLength(1);
    void t.endpoint.take(t.endpoint.addWorker("w3", "s", undefined), 1, false);
    t.missing.throttled = 1;
    t.missing.unhealthy = 2;
    expect(t.endpoint.health().workers).toEqual({ idle: 1, initializing: 1, ready: 1, running: 1, throttled: 1, unhealthy: 2 });
  });

  it("treats a worker not heard from for the ping timeout as lost: unhealthy, its job requeued once, its processes killed", async () => {
    const job = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 1, false);
    t.clock.advance(20_000);
    t.endpoint.ping(worker, [job.id], "1.0");
    t.clock.advance(29_999);
    expect(worker.state).toBe("running");
    t.clock.advance(1);
    const unhealthy = t.events.find((e) => e.type === "worker" && e.state === "unhealthy");
    expect(unhealthy).toMatchObject({ workerId: "w1", detail: "nothing heard from it for 30000 ms (no ping, job-take or result)" });
    expect(t.kills()).toEqual(["kill w1"]);
    expect(statusObject(t.endpoint.visibleJob(job.id)!)).toEqual({ id: job.id, status: "IN_QUEUE", retries: 1 });
    // Should it wake up after all, its result no longer counts.
    t.endpoint.done(worker, job.id, { output: "late" }, 10);
    expect(t.endpoint.visibleJob(job.id)!.status).toBe("IN_QUEUE");
  });

  it("shows a silent idle worker unhealthy without killing it, gives it no job, and takes it back when heard from", async () => {
    const small = setup({ pollHoldMs: 0 });
    const worker = small.endpoint.addWorker("w1", "s", undefined);
    await small.endpoint.take(worker, 1, false);
    small.clock.advance(30_000);
    expect(worker.state).toBe("unhealthy");
    expect(small.endpoint.health().workers).toMatchObject({ idle: 0, unhealthy: 1 });
    expect(small.kills()).toEqual([]);
    const job = small.endpoint.submit({ input: 1, policy: {} }, "run");
    small.endpoint.ping(worker, [], "1.0");
    expect(worker.state).toBe("idle");
    expect((await small.endpoint.take(worker, 1, false)).map((j) => j.id)).toEqual([job.id]);
  });

  it("watches a worker for silence only once it was heard from: its imports may take any time", () => {
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    t.clock.advance(10 * MIN);
    expect(worker.state).toBe("initializing");
  });

  it("does not blame a worker for the time this process itself stood still", async () => {
    const job = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 1, false);
    t.clock.stall(60_000);
    t.clock.advance(0);
    expect(worker.state).toBe("running");
    // Its pings, waiting to be read, arrive once this process runs again.
    t.endpoint.ping(worker, [job.id], "1.0");
    t.clock.advance(29_999);
    expect(worker.state).toBe("running");
    t.clock.advance(1);
    expect(worker.state).toBe("unhealthy");
  });

  it("asks the pool to recycle an outdated worker once its last job ends, and one that posted stopPod", async () => {
    const [first, second] = [1, 2].map((n) => t.endpoint.submit({ input: n, policy: {} }, "run"));
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 2, false);
    t.endpoint.registry.outdate(worker, "finishing its job on the previous code");
    expect(worker.state).toBe("outdated");
    t.endpoint.done(worker, first.id, { output: 1 }, 10);
    expect(t.calls.filter((c) => c.startsWith("recycle"))).toEqual([]);
    t.endpoint.done(worker, second.id, { output: 2 }, 10);
    expect(t.calls.filter((c) => c.startsWith("recycle"))).toEqual(["recycle w1"]);

    const job = t.endpoint.submit({ input: 3, policy: {} }, "run");
    const other = t.endpoint.addWorker("w2", "s", undefined);
    await t.endpoint.take(other, 1, false);
    t.endpoint.done(other, job.id, { output: 3, stopPod: true }, 10);
    expect(t.calls.filter((c) => c.startsWith("recycle"))).toEqual(["recycle w1", "recycle w2"]);
    expect(t.endpoint.visibleJob(job.id)!.status).toBe("COMPLETED");
  });

  it("tells the pool of each change of a worker's state", async () => {
    const job = t.endpoint.submit({ input: 1, policy: {} }, "run");
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    await t.endpoint.take(worker, 1, false);
    t.endpoint.done(worker, job.id, { output: 1 }, 10);
    t.endpoint.registry.drain(worker);
    expect(t.calls).toEqual(["changed w1 idle", "changed w1 running", "changed w1 idle", "changed w1 stopping"]);
  });

  it("lists its workers with state, since when, cold start, jobs done, jobs held, code version and pid", async () => {
    const [first, second] = [1, 2].map((n) => t.endpoint.submit({ input: n, policy: {} }, "run"));
    const worker = t.endpoint.addWorker("w1", "s", "v1");
    worker.pid = 4242;
    t.clock.advance(800);
    await t.endpoint.take(worker, 1, false);
    t.clock.advance(100);
    t.endpoint.done(worker, first.id, { output: 1 }, 10);
    t.clock.advance(5);
    await t.endpoint.take(worker, 1, false);
    expect(t.endpoint.workers()).toEqual([
      { id: "w1", state: "running", type: "flex", since: t.clock.now(), coldStartMs: 800, jobsDone: 1, jobs: [second.id], handlerVersion: "v1", pid: 4242 },
    ]);
  });

  it("answers every open long-poll when it closes", async () => {
    const job = t.endpoint.submit({ input: 1, policy: {} }, "runsync");
    const waiting = t.endpoint.waitFor(job, 90_000, () => false);
    const worker = t.endpoint.addWorker("w1", "s", undefined);
    expect(await t.endpoint.take(worker, 1, false)).toHaveLength(1);
    const take = t.endpoint.take(worker, 1, true);
    const stops = t.endpoint.pollStops(worker);
    t.endpoint.close();
    expect((await waiting).id).toBe(job.id);
    expect(await stops).toEqual([]);
    expect(await take).toEqual([]);
  });
});
