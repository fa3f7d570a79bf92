import { describe, expect, it } from "vitest";
import { formatMB, readResult } from "../../src/core/job-result.js";

describe("readResult", () => {
  it("completes with the output, which may be absent or null", () => {
    expect(readResult({ output: { a: 1 } }, 20, 1000, "run")).toEqual({ status: "COMPLETED", output: { a: 1 } });
    expect(readResult({}, 2, 1000, "run")).toEqual({ status: "COMPLETED", output: undefined });
    expect(readResult({ output: null }, 15, 1000, "run")).toEqual({ status: "COMPLETED", output: null });
  });

  it("fails with the error, JSON-encoded when it is not a string, keeping any output", () => {
    expect(readResult({ error: "boom" }, 20, 1000, "run")).toEqual({ status: "FAILED", output: undefined, error: "boom" });
    expect(readResult({ output: 1, error: { code: 7 } }, 30, 1000, "run")).toEqual({ status: "FAILED", output: 1, error: '{"code":7}' });
    expect(readResult({ output: 1, error: null }, 30, 1000, "run")).toMatchObject({ status: "COMPLETED" });
  });

  it("fails a result over the limit, naming its size and the limit, but not a large body with a small output", () => {
    expect(readResult({ output: "x".repeat(150) }, 165, 100, "runsync")).toEqual({
      status: "FAILED", error: "the job's result of 0.000152 MB exceeds the 0.0001 MB limit of /runsync results",
    });
    expect(readResult({ output: "ok", error: undefined }, 500, 100, "run").status).toBe("COMPLETED");
  });

  it("prints megabytes in decimal, without trailing zeros", () => {
    expect(formatMB(10_000_000)).toBe("10");
    expect(formatMB(12_345_678)).toBe("12.345678");
  });
});
