import { describe, expect, it } from "vitest";
import { JOB_LOG_HEAD_BYTES, JOB_LOG_TAIL_BYTES, LATE_LINE_GRACE_MS, LogBudget, type OutputLine } from "../../src/core/log-budget.js";

const KIB = "k".repeat(1023);
const line = (n: number, at: number): OutputLine => ({ jobId: "job", workerId: "w1", stream: "stdout", message: `${String(n).padStart(6, "0")}${KIB.slice(6)}`, at });

describe("a job's log budget", () => {
  it("passes a job's first 2 MiB, holds its last 2 MiB, and hands them back after a note once the job ended and went quiet", () => {
    const budget = new LogBudget();
    const verdicts = new Map<string, number>();
    const count = 6 * 1024; // 6 MiB of 1 KiB lines
    for (let n = 0; n < count; n++) {
      const verdict = budget.admit(line(n, n));
      verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1);
    }
    const head = JOB_LOG_HEAD_BYTES / 1023;
    expect(Object.fromEntries(verdicts)).toEqual({ keep: Math.floor(head), "start-holding": 1, hold: count - Math.floor(head) - 1 });
    expect(budget.sweep(count + LATE_LINE_GRACE_MS, () => true)).toEqual([]);
    expect(budget.sweep(count, () => false)).toEqual([]);
    const kept = budget.sweep(count - 1 + LATE_LINE_GRACE_MS, () => false);
    const tail = Math.floor(JOB_LOG_TAIL_BYTES / 1023);
    const dropped = count - Math.floor(head) - tail;
    expect(kept[0]?.message).toBe(`… ${dropped} lines (${dropped * 1023} bytes) dropped here: this job's output keeps its first 2 MiB and last 2 MiB …`);
    expect(kept.slice(1).map((l) => Number(l.message.slice(0, 6)))).toEqual(Array.from({ length: tail }, (_, i) => count - tail + i));
    expect(budget.size).toBe(0);
  });

  it("forgets a quiet, finished job that stayed within its budget, and bounds a worker's lines outside jobs the same way", () => {
    const budget = new LogBudget();
    expect(budget.admit(line(1, 0))).toBe("keep");
    for (let n = 0; n < 5000; n++) budget.admit({ ...line(n, 0), jobId: undefined });
    expect(budget.sweep(LATE_LINE_GRACE_MS, () => false)[0]?.message).toMatch(/dropped here: this worker's output outside jobs keeps/);
    expect(budget.size).toBe(0);
  });
});
