// CPU and memory of process groups, read from /proc: parsed from a made-up /proc, and measured on a real group.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CpuMeter, processGroupUsage } from "../../src/workers/process-stats.js";
import { WorkerProcess } from "../../src/workers/worker-process.js";
import { scratchDir } from "../helpers/scratch.js";

const started: WorkerProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.kill()));
});

/** A /proc/<pid>/stat line: `utime stime cutime cstime` in ticks, the group in field 5. */
function statLine(pid: number, comm: string, state: string, pgrp: number, ticks: [number, number, number, number]): string {
  const before = [1, pgrp, pgrp, 0, -1, 4194560, 100, 0, 0, 0];
  return `${pid} (${comm}) ${state} ${before.join(" ")} ${ticks.join(" ")} 20 0 1 0 5000 1000000 250 18446744073709551615\n`;
}

function fakeProc(processes: { pid: number; comm: string; state?: string; pgrp: number; ticks: [number, number, number, number]; rssKb?: number }[]): string {
  const root = scratchDir();
  for (const p of processes) {
    mkdirSync(join(root, String(p.pid)));
    writeFileSync(join(root, String(p.pid), "stat"), statLine(p.pid, p.comm, p.state ?? "S", p.pgrp, p.ticks));
    const rss = p.rssKb === undefined ? "" : `VmRSS:\t  ${p.rssKb} kB\n`;
    writeFileSync(join(root, String(p.pid), "status"), `Name:\t${p.comm}\nState:\t${p.state ?? "S"}\n${rss}Threads:\t1\n`);
  }
  return root;
}

describe("processGroupUsage", () => {
  it("sums CPU ticks (own and waited-for children's) and resident memory over each group's live processes", () => {
    const root = fakeProc([
      { pid: 100, comm: "python3", pgrp: 100, ticks: [150, 50, 0, 0], rssKb: 20_000 },
      // A command name with spaces and parentheses does not shift the fields.
      { pid: 101, comm: "heart beat) (x", pgrp: 100, ticks: [10, 5, 30, 5], rssKb: 1_000 },
      { pid: 102, comm: "zombie", state: "Z", pgrp: 100, ticks: [99, 99, 0, 0] },
      { pid: 200, comm: "node", pgrp: 200, ticks: [1, 0, 0, 0], rssKb: 4 },
      { pid: 300, comm: "other", pgrp: 300, ticks: [500, 0, 0, 0], rssKb: 9_999 },
    ]);
    const usage = processGroupUsage([100, 200, 400], root);
    expect(usage?.get(100)).toEqual({ processes: 2, cpuSeconds: 2.5, rssBytes: 21_000 * 1024 });
    expect(usage?.get(200)).toEqual({ processes: 1, cpuSeconds: 0.01, rssBytes: 4096 });
    // Not asked for, and no process left.
    expect(usage?.has(300)).toBe(false);
    expect(usage?.has(400)).toBe(false);
  });

  it("is undefined where there is no /proc to read", () => {
    expect(processGroupUsage([1], join(scratchDir(), "missing"))).toBeUndefined();
  });

  it("skips entries it cannot parse instead of failing", () => {
    const root = fakeProc([{ pid: 100, comm: "ok", pgrp: 100, ticks: [100, 0, 0, 0], rssKb: 8 }]);
    mkdirSync(join(root, "555"));
    writeFileSync(join(root, "555", "stat"), "garbage without a command name");
    mkdirSync(join(root, "556"));
    expect(processGroupUsage([100], root)?.get(100)).toEqual({ processes: 1, cpuSeconds: 1, rssBytes: 8192 });
  });

  it.skipIf(process.platform !== "linux")("measures a real process group: each of its processes, with their memory", async () => {
    const lines: string[] = [];
    const worker = new WorkerProcess(
      { file: "sh", args: ["-c", "sleep 30 & echo started; exec sleep 30"], env: { PATH: process.env.PATH ?? "" }, cwd: process.cwd() },
      (_stream, line) => lines.push(line),
    );
    started.push(worker);
    await expect.poll(() => lines, { timeout: 10_000 }).toContain("started");
    const pid = worker.pid as number;
    const usage = processGroupUsage([pid])?.get(pid);
    expect(usage?.processes).toBe(2);
    expect(usage?.rssBytes).toBeGreaterThan(0);
    expect(usage?.cpuSeconds).toBeGreaterThanOrEqual(0);
  });
});

describe("CpuMeter", () => {
  it("gives the share of one core used between two readings of a key", () => {
    const meter = new CpuMeter();
    expect(meter.read("w1", 10, 1_000)).toBeUndefined();
    expect(meter.read("w1", 10.5, 2_000)).toBeCloseTo(50);
    expect(meter.read("w1", 12.5, 3_000)).toBeCloseTo(200);
    // A process of the group ended, taking its time with it.
    expect(meter.read("w1", 1, 4_000)).toBe(0);
    // No time passed: no share.
    expect(meter.read("w1", 2, 4_000)).toBeUndefined();
  });

  it("forgets keys that are no longer kept", () => {
    const meter = new CpuMeter();
    meter.read("w1", 1, 1_000);
    meter.read("w2", 1, 1_000);
    meter.retain(new Set(["w2"]));
    expect(meter.read("w1", 2, 2_000)).toBeUndefined();
    expect(meter.read("w2", 2, 2_000)).toBeCloseTo(100);
  });
});
