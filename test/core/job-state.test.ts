import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/core/clock.js";
import { type EmulatorEvent, EventBus } from "../../src/core/events.js";
import { JobStates } from "../../src/core/job-state.js";
import { statusObject } from "../../src/core/job.js";
import { Lifetimes } from "../../src/core/lifetimes.js";
import { openDatabase } from "../../src/store/database.js";
import { JobStore } from "../../src/store/jobs.js";

function setup(db = openDatabase(null), clock = new FakeClock()) {
  const bus = new EventBus();
  const events: EmulatorEvent[] = [];
  // The event carries the live job: its status is read as it was when announced.
  const transitions: string[] = [];
  bus.on((e) => {
    events.push(e);
    if (e.type === "status") transitions.push(`${e.previous ?? "-"}>${e.job.status}`);
  });
  const timedOut: string[] = [];
  const lifetimes = new Lifetimes(clock, { executionTimeout: 600_000, ttl: 86_400_000 }, (job) => timedOut.push(job.id));
  const store = new JobStore(db);
  const jobs = new JobStates("ep", { run: 30 * 60_000, runsync: 60_000 }, store, bus, clock, lifetimes);
  const statuses = () => transitions;
  const counts = () => ({ inQueue: jobs.inQueue, inProgress: jobs.inProgress });
  return { clock, db, store, jobs, events, statuses, counts, timedOut };
}

describe("JobStates", () => {
  it("queues a job, hands the oldest ones to a worker, and finishes them, announcing each transition", () => {
    const t = setup();
    const first = t.jobs.submit({ input: 1, policy: {} }, "run");
    const second = t.jobs.submit({ input: 2, policy: {} }, "runsync");
    expect(first.id).toMatch(/^[0-9a-f-]{36}-u1$/);
    expect(second.id).toMatch(/^sync-[0-9a-f-]{36}-u1$/);
    expect(t.counts()).toEqual({ inQueue: 2, inProgress: 0 });
    t.clock.advance(300);
    expect(t.jobs.take(1, "w1", "v1").map((j) => j.id)).toEqual([first.id]);
    expect(first).toMatchObject({ status: "IN_PROGRESS", delayTime: 300, workerId: "w1", handlerVersion: "v1" });
    expect(t.counts()).toEqual({ inQueue: 1, inProgress: 1 });
    t.clock.advance(50);
    t.jobs.finish(first, "COMPLETED", { output: "ok" });
    expect(statusObject(t.store.get(first.id)!)).toEqual({ id: first.id, status: "COMPLETED", delayTime: 300, executionTime: 50, output: "ok", workerId: "w1" });
    expect(t.jobs.current(first.id)).toBeUndefined();
    expect(t.counts()).toEqual({ inQueue: 1, inProgress: 0 });
    expect(t.statuses()).toEqual(["->IN_QUEUE", "->IN_QUEUE", "IN_QUEUE>IN_PROGRESS", "IN_PROGRESS>COMPLETED"]);
    expect(t.store.counter("ep", "completed")).toBe(1);
  });

  it("records the handler file a job was taken for, in the store too", () => {
    const t = setup();
    const job = t.jobs.submit({ input: 1, policy: {} }, "run");
    t.jobs.take(1, "w1", "v1", "/project/handler.py");
    expect(t.store.get(job.id)).toMatchObject({ handlerVersion: "v1", handlerFile: "/project/handler.py" });
  });

  it("keeps a finished job answerable for its kind's retention only", () => {
    const t = setup();
    const job = t.jobs.submit({ input: 1, policy: {} }, "runsync");
    t.jobs.finish(job, "CANCELLED", {});
    expect(job.expiresAt).toBe(t.clock.now() + 60_000);
  });

  it("fails a queued job whose TTL passed before a worker took it, keeping the counters right", () => {
    const t = setup();
    const stale = t.jobs.submit({ input: 1, policy: { ttl: 10_000 } }, "run");
    const fresh = t.jobs.submit({ input: 2, policy: {} }, "run");
    // Its TTL timer has not fired yet, as when the process was busy at that moment.
    t.clock.stall(10_000);
    expect(t.jobs.take(2, "w1", undefined).map((j) => j.id)).toEqual([fresh.id]);
    expect(t.store.get(stale.id)).toMatchObject({ status: "TIMED_OUT", error: "the job's ttl of 10000 ms passed before a worker took it" });
    expect(t.counts()).toEqual({ inQueue: 0, inProgress: 1 });
  });

  it("requeues at the head without a retry for a take that never arrived, and with one for a lost worker", () => {
    const t = setup();
    const [first, second] = [1, 2].map((n) => t.jobs.submit({ input: n, policy: {} }, "run"));
    t.jobs.take(1, "w1", undefined);
    t.jobs.requeue(first, false);
    expect(t.jobs.take(2, "w1", undefined).map((j) => j.id)).toEqual([first.id, second.id]);
    t.jobs.lose(first, "worker w1 exited with code 3 while running this job");
    expect(statusObject(first)).toEqual({ id: first.id, status: "IN_QUEUE", retries: 1 });
    expect(t.events.some((e) => e.type === "warning" && e.message === "worker w1 exited with code 3 while running this job; requeued once")).toBe(true);
    t.jobs.take(1, "w2", undefined);
    t.jobs.lose(first, "worker w2 was killed by SIGKILL while running this job", ["loading…", "Killed"]);
    expect(t.store.get(first.id)).toMatchObject({
      status: "FAILED", retries: 1,
      error: "worker w2 was killed by SIGKILL while running this job (the job was lost twice, so it was not requeued again)\nits last output:\nloading…\nKilled",
    });
    expect(t.store.counter("ep", "retried")).toBe(1);
    expect(t.counts()).toEqual({ inQueue: 0, inProgress: 1 });
  });

  it("retries a FAILED or TIMED_OUT job with its input and a fresh TTL, and refuses others", () => {
    const t = setup();
    const job = t.jobs.submit({ input: { n: 1 }, policy: {} }, "run");
    t.jobs.take(1, "w1", undefined);
    t.jobs.finish(job, "FAILED", { error: "bad" });
    t.clock.advance(1_000);
    expect(t.jobs.retry(job)).toBe(true);
    expect(statusObject(job)).toEqual({ id: job.id, status: "IN_QUEUE", retries: 1 });
    expect(job.expiresAt).toBe(t.clock.now() + 86_400_000);
    expect(t.jobs.take(1, "w1", undefined)[0].input).toEqual({ n: 1 });
    expect(t.jobs.retry(job)).toBe(false);
  });

  it("purges queued jobs only", () => {
    const t = setup();
    const [running, a, b] = [1, 2, 3].map((n) => t.jobs.submit({ input: n, policy: {} }, "run"));
    t.jobs.take(1, "w1", undefined);
    expect(t.jobs.purge()).toBe(2);
    expect([running, a, b].map((j) => j.status)).toEqual(["IN_PROGRESS", "CANCELLED", "CANCELLED"]);
    expect(t.counts()).toEqual({ inQueue: 0, inProgress: 1 });
  });

  it("shows the scaler only jobs that may scale up, and how long the oldest waited", () => {
    const t = setup();
    t.jobs.submit({ input: 1, policy: { lowPriority: true } }, "run");
    t.clock.advance(500);
    t.jobs.submit({ input: 2, policy: {} }, "run");
    t.clock.advance(250);
    expect(t.jobs.queueState()).toEqual({ queued: 1, inProgress: 0, oldestWaitMs: 250 });
  });

  it("keeps progress and stream chunks of a running job", () => {
    const t = setup();
    const job = t.jobs.submit({ input: 1, policy: {} }, "run");
    t.jobs.take(1, "w1", undefined);
    t.jobs.progress(job, "w1", { pct: 50 });
    t.jobs.appendChunk(job, "w1", "a");
    t.jobs.appendChunk(job, "w1", "b");
    expect(t.store.get(job.id)!.output).toEqual({ pct: 50 });
    expect(t.store.chunks(job.id, 0, job.streamCount)).toEqual(["a", "b"]);
    expect(t.events.filter((e) => e.type === "stream").map((e) => e.type === "stream" && e.seq)).toEqual([0, 1]);
  });

  it("shortens a job's lifetime, never lengthens it", () => {
    const t = setup();
    const job = t.jobs.submit({ input: 1, policy: {} }, "run");
    t.jobs.shorten(job, 5_000);
    t.jobs.shorten(job, 60_000);
    expect(job.expiresAt).toBe(t.clock.now() + 5_000);
    t.clock.advance(5_000);
    expect(t.timedOut).toEqual([job.id]);
  });

  it("recovers what an earlier run left: queued jobs in order, running ones lost once", () => {
    const first = setup();
    const running = first.jobs.submit({ input: 1, policy: {} }, "run");
    const queued = first.jobs.submit({ input: 2, policy: {} }, "run");
    first.jobs.take(1, "w1", undefined);
    const again = setup(first.db, first.clock);
    again.jobs.recover();
    expect(again.counts()).toEqual({ inQueue: 2, inProgress: 0 });
    expect(again.jobs.take(2, "w2", undefined).map((j) => [j.id, j.retries])).toEqual([[running.id, 1], [queued.id, 0]]);
  });
});
