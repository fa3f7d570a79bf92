import { describe, expect, it } from "vitest";
import { WorkerSlot } from "../../src/core/worker-slot.js";
import { JOB_MARK, LineAttribution } from "../../src/workers/log-lines.js";

const mark = (job: string | null) => `${JOB_MARK}${JSON.stringify({ job })}`;

function worker(...held: string[]): WorkerSlot {
  const slot = new WorkerSlot("w1", "secret", undefined, 0);
  for (const id of held) slot.held.add(id);
  return slot;
}

describe("log line attribution", () => {
  it("files a JSON log line under the job it names, and a plain one under the worker's only job", () => {
    const lines = new LineAttribution(worker("a"));
    expect(lines.attribute("stdout", JSON.stringify({ requestId: "b", message: "hi", level: "INFO" }))).toEqual({ jobId: "b", level: "INFO", message: "hi" });
    expect(lines.attribute("stdout", JSON.stringify({ requestId: null, message: "x", level: "ERROR" }))).toEqual({ jobId: "a", level: "ERROR", message: "x" });
    expect(lines.attribute("stderr", "plain")).toEqual({ jobId: "a", message: "plain" });
    expect(new LineAttribution(worker("a", "b")).attribute("stdout", "plain")).toEqual({ jobId: undefined, message: "plain" });
  });

  it("files the lines after a mark under the marked job on that stream, even once the worker let go of it, and hides the marks", () => {
    const slot = worker("a");
    const lines = new LineAttribution(slot);
    expect(lines.attribute("stdout", mark("a"))).toBeUndefined();
    // The result reached the emulator first: the worker holds nothing when the print is read.
    slot.held.delete("a");
    expect(lines.attribute("stdout", "Received prompt: ci")).toEqual({ jobId: "a", message: "Received prompt: ci" });
    expect(lines.attribute("stderr", "not marked on this stream")).toEqual({ jobId: undefined, message: "not marked on this stream" });
    expect(lines.attribute("stdout", mark(null))).toBeUndefined();
    expect(lines.attribute("stdout", "between jobs")).toEqual({ jobId: undefined, message: "between jobs" });
  });

  it("files a plain line that arrives after the job's result under that job while its lines keep coming less than 1 s apart", () => {
    const slot = worker();
    let now = 1_000;
    const lines = new LineAttribution(slot, () => now);
    slot.lastResult = { jobId: "a", at: 1_000 };
    now = 1_900;
    expect(lines.attribute("stdout", "late")).toEqual({ jobId: "a", message: "late" });
    now = 2_800;
    expect(lines.attribute("stdout", "still flushing")).toEqual({ jobId: "a", message: "still flushing" });
    now = 3_900;
    expect(lines.attribute("stdout", "after a pause")).toEqual({ jobId: undefined, message: "after a pause" });
  });
});
