import { describe, expect, it } from "vitest";
import { type ScalerInput, nextScalerCheckMs, workersWanted } from "../../src/core/scaler.js";

const queueDelay = { kind: "queue-delay", delayMs: 4000 } as const;
const base: ScalerInput = { queued: 0, inProgress: 0, oldestWaitMs: undefined, active: 0, failedStarts: 0, sinceScaleUpMs: Infinity, minWorkers: 0, maxWorkers: 3 };

describe("queue-delay scaler", () => {
  it("keeps the minimum warm with nothing queued", () => {
    expect(workersWanted(queueDelay, base)).toBe(0);
    expect(workersWanted(queueDelay, { ...base, minWorkers: 2 })).toBe(2);
  });

  it("still wants a worker that failed to start, within the maximum", () => {
    expect(workersWanted(queueDelay, { ...base, failedStarts: 1 })).toBe(1);
    expect(workersWanted(queueDelay, { ...base, minWorkers: 2, active: 1, failedStarts: 1 })).toBe(2);
    expect(workersWanted(queueDelay, { ...base, active: 2, failedStarts: 2 })).toBe(3);
    expect(workersWanted(queueDelay, { ...base, queued: 1, oldestWaitMs: 5000, active: 1, failedStarts: 2, maxWorkers: 5 })).toBe(3);
  });

  it("starts a first worker at once for a queued job", () => {
    expect(workersWanted(queueDelay, { ...base, queued: 1, oldestWaitMs: 0 })).toBe(1);
  });

  it("adds one worker when the oldest job waited longer than the delay, once per delay", () => {
    const waiting = { ...base, queued: 5, oldestWaitMs: 4000, active: 1 };
    expect(workersWanted(queueDelay, { ...waiting, oldestWaitMs: 3999 })).toBe(1);
    expect(workersWanted(queueDelay, waiting)).toBe(2);
    expect(workersWanted(queueDelay, { ...waiting, active: 2, sinceScaleUpMs: 1000 })).toBe(2);
    expect(workersWanted(queueDelay, { ...waiting, active: 3 })).toBe(3);
  });

  it("says when to look again while jobs wait", () => {
    expect(nextScalerCheckMs(queueDelay, { ...base, queued: 1, oldestWaitMs: 1000, active: 1 })).toBe(3000);
    expect(nextScalerCheckMs(queueDelay, { ...base, queued: 1, oldestWaitMs: 5000, active: 1, sinceScaleUpMs: 500 })).toBe(3500);
    expect(nextScalerCheckMs(queueDelay, { ...base, queued: 1, active: 3 })).toBeUndefined();
    expect(nextScalerCheckMs(queueDelay, base)).toBeUndefined();
  });
});

describe("request-count scaler", () => {
  const requestCount = { kind: "request-count", jobsPerWorker: 2 } as const;
  it("wants ceil((queued + in progress) / N) workers within [min, max]", () => {
    expect(workersWanted(requestCount, { ...base, queued: 3, inProgress: 0 })).toBe(2);
    expect(workersWanted(requestCount, { ...base, queued: 9, inProgress: 4 })).toBe(3);
    expect(workersWanted(requestCount, { ...base, minWorkers: 1 })).toBe(1);
  });
});
