import { describe, expect, it } from "vitest";
import { JobStop, STOPPED } from "../../../../src/workers/runtimes/node/job-stop.mjs";

describe("a held job's stop", () => {
  it("aborts the handler's signal with the first reason, whether the signal was read before the stop or after it", () => {
    const early = new JobStop();
    const signal = early.signal;
    expect(signal.aborted).toBe(false);
    early.abort(new Error("job cancelled"));
    early.abort(new Error("the worker was killed"));
    expect([signal.aborted, signal.reason.message, early.aborted]).toEqual([true, "job cancelled", true]);
    expect(early.signal).toBe(signal);

    const late = new JobStop();
    late.abort(new Error("job cancelled"));
    expect([late.signal.aborted, late.signal.reason.message]).toEqual([true, "job cancelled"]);
  });

  it("settles a pending handler's promise as STOPPED when the job stops first, and passes values and settled promises on", async () => {
    const stop = new JobStop();
    expect(stop.unless(42)).toBe(42);
    await expect(stop.unless(Promise.resolve("done"))).resolves.toBe("done");
    await expect(stop.unless(Promise.reject(new Error("failed")))).rejects.toThrow("failed");
    const pending = stop.unless(new Promise(() => {}));
    stop.abort(new Error("job cancelled"));
    await expect(pending).resolves.toBe(STOPPED);
    // Stopped already: a promise still pending is not waited for.
    await expect(stop.unless(new Promise(() => {}))).resolves.toBe(STOPPED);
  });
});
