import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/core/clock.js";
import type { Job } from "../../src/core/job.js";
import { Lifetimes } from "../../src/core/lifetimes.js";

function job(status: Job["status"], clock: FakeClock, policy: Job["policy"] = {}, expiresIn = 86_400_000): Job {
  const now = clock.now();
  return {
    id: "j1", endpointId: "ep", kind: "run", status, input: 1, policy, createdAt: now, retries: 0, lost: 0,
    expiresAt: now + expiresIn, streamCount: 0, streamCursor: 0,
  };
}

function setup() {
  const clock = new FakeClock();
  const fired: string[] = [];
  const lifetimes = new Lifetimes(clock, { executionTimeout: 600_000, ttl: 86_400_000 }, (_job, error) => fired.push(error));
  return { clock, fired, lifetimes };
}

describe("Lifetimes", () => {
  it("times a queued job out when its TTL passes", () => {
    const t = setup();
    t.lifetimes.arm(job("IN_QUEUE", t.clock, { ttl: 10_000 }, 10_000));
    t.clock.advance(9_999);
    expect(t.fired).toEqual([]);
    t.clock.advance(1);
    expect(t.fired).toEqual(["the job's ttl of 10000 ms passed before it finished"]);
  });

  it("times a running job out after its execution timeout, the policy's or the endpoint's", () => {
    const t = setup();
    t.lifetimes.arm(job("IN_PROGRESS", t.clock, { executionTimeout: 5_000 }));
    t.clock.advance(5_000);
    expect(t.fired).toEqual(["the job ran longer than its execution timeout of 5000 ms"]);
    t.lifetimes.arm(job("IN_PROGRESS", t.clock));
    t.clock.advance(600_000);
    expect(t.fired.at(-1)).toBe("the job ran longer than its execution timeout of 600000 ms");
  });

  it("lets the TTL cut a running job's execution timeout short", () => {
    const t = setup();
    t.lifetimes.arm(job("IN_PROGRESS", t.clock, { ttl: 20_000, executionTimeout: 60_000 }, 20_000));
    t.clock.advance(20_000);
    expect(t.fired).toEqual(["the job's ttl of 20000 ms passed before it finished"]);
  });

  it("keeps one timer per job: re-arming replaces it, disarming and clearing cancel it", () => {
    const t = setup();
    const queued = job("IN_QUEUE", t.clock, {}, 10_000);
    t.lifetimes.arm(queued);
    queued.status = "IN_PROGRESS";
    t.lifetimes.arm(queued);
    t.clock.advance(10_000);
    expect(t.fired).toEqual(["the job's ttl of 86400000 ms passed before it finished"]);
    t.lifetimes.arm(job("IN_QUEUE", t.clock, {}, 1_000));
    t.lifetimes.disarm("j1");
    t.lifetimes.arm({ ...job("IN_QUEUE", t.clock, {}, 1_000), id: "j2" });
    t.lifetimes.clear();
    t.clock.advance(60_000);
    expect(t.fired).toHaveLength(1);
  });
});
