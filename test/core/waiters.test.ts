import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/core/clock.js";
import { EventBus } from "../../src/core/events.js";
import type { Job } from "../../src/core/job.js";
import { JobWaiters } from "../../src/core/waiters.js";

function setup() {
  const clock = new FakeClock();
  const bus = new EventBus();
  const live = new Map<string, Job>();
  const job: Job = {
    id: "j1", endpointId: "ep", kind: "run", status: "IN_QUEUE", input: 1, policy: {}, createdAt: clock.now(),
    retries: 0, lost: 0, expiresAt: clock.now() + 60_000, streamCount: 0, streamCursor: 0,
  };
  live.set(job.id, job);
  const waiters = new JobWaiters("ep", clock, bus, (id) => live.get(id));
  const status = (endpointId = "ep") => bus.emit({ type: "status", endpointId, time: clock.now(), job });
  const settled = <T>(promise: Promise<T>) => {
    const state = { done: false };
    void promise.then(() => (state.done = true));
    return state;
  };
  return { clock, bus, live, job, waiters, status, settled };
}

const terminal = (j: Job) => j.status === "COMPLETED";

describe("JobWaiters", () => {
  it("answers at once when the condition already holds or there is no time to wait", async () => {
    const t = setup();
    expect(await t.waiters.waitFor(t.job, 1_000, () => true)).toBe(t.job);
    expect(await t.waiters.waitFor(t.job, 0, () => false)).toBe(t.job);
  });

  it("wakes on the job's event once its condition holds, and only then", async () => {
    const t = setup();
    const waiting = t.waiters.waitFor(t.job, 90_000, terminal);
    const state = t.settled(waiting);
    t.job.status = "IN_PROGRESS";
    t.status();
    await Promise.resolve();
    expect(state.done).toBe(false);
    t.job.status = "COMPLETED";
    t.status("other-endpoint");
    await Promise.resolve();
    expect(state.done).toBe(false);
    t.live.delete(t.job.id);
    t.status();
    expect((await waiting).status).toBe("COMPLETED");
  });

  it("wakes a stream wait on a chunk, and any wait when the job ends", async () => {
    const t = setup();
    const chunk = t.waiters.waitFor(t.job, 90_000, (j) => j.streamCount > j.streamCursor);
    t.job.streamCount = 1;
    t.bus.emit({ type: "stream", endpointId: "ep", time: t.clock.now(), jobId: t.job.id, workerId: "w1", seq: 0, output: "a" });
    expect((await chunk).streamCount).toBe(1);
    const never = t.waiters.waitFor(t.job, 90_000, () => false);
    t.job.status = "CANCELLED";
    t.status();
    expect((await never).status).toBe("CANCELLED");
  });

  it("gives up when the wait passes, and answers every wait when closed", async () => {
    const t = setup();
    const short = t.waiters.waitFor(t.job, 1_000, terminal);
    t.clock.advance(1_000);
    expect((await short).status).toBe("IN_QUEUE");
    const long = t.waiters.waitFor(t.job, 90_000, terminal);
    t.waiters.close();
    expect((await long).status).toBe("IN_QUEUE");
  });
});
