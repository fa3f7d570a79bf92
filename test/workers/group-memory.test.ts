// The memory of worker process groups, read from /proc: its rules on a made-up /proc, and a real group
// whose forked child shares its memory, which a container's limit counts once.
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { GroupMemory } from "../../src/workers/group-memory.js";
import { scratchDir } from "../helpers/scratch.js";

const MB = 1024 * 1024;

interface FakeProcess {
  pid: number;
  pgid: number;
  rssMb?: number;
  pssMb?: number;
  zombie?: boolean;
}

/** A /proc with `status` (and `smaps_rollup` where a PSS is given) for each process; call again to change it. */
function fakeProc(root: string, processes: FakeProcess[]): void {
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, "self"), { recursive: true });
  writeFileSync(join(root, "self", "status"), "Name:\tnode\n");
  for (const p of processes) {
    mkdirSync(join(root, String(p.pid)));
    const rss = p.rssMb === undefined ? "" : `VmRSS:\t  ${p.rssMb * 1024} kB\n`;
    writeFileSync(join(root, String(p.pid), "status"), `Name:\tp${p.pid}\nState:\t${p.zombie ? "Z (zombie)" : "S (sleeping)"}\nNSpgid:\t${p.pgid}\n${rss}`);
    if (p.pssMb !== undefined) writeFileSync(join(root, String(p.pid), "smaps_rollup"), `Rss:  ${p.rssMb ?? 0} kB\nPss:\t  ${p.pssMb * 1024} kB\n`);
  }
}

describe("GroupMemory on a made-up /proc", () => {
  it("sums the resident memory of each group's live processes, found by listing /proc once a second", () => {
    const root = join(scratchDir(), "proc");
    fakeProc(root, [
      { pid: 100, pgid: 100, rssMb: 40 },
      { pid: 101, pgid: 100, rssMb: 10 },
      { pid: 102, pgid: 100, zombie: true },
      { pid: 200, pgid: 200, rssMb: 5 },
      { pid: 300, pgid: 300, rssMb: 999 },
    ]);
    const memory = new GroupMemory(root);
    const limits = new Map([[100, undefined], [200, undefined], [400, undefined]]);
    const first = memory.sample(limits, 0);
    expect(first.get(100)).toEqual({ usedBytes: 50 * MB, overLimit: false });
    expect(first.get(200)).toEqual({ usedBytes: 5 * MB, overLimit: false });
    // No process left in that group: no reading.
    expect(first.has(400)).toBe(false);
    expect(first.has(300)).toBe(false);

    // A new child is counted at the next listing, not before; one that left the group drops out at once.
    fakeProc(root, [
      { pid: 100, pgid: 100, rssMb: 40 },
      { pid: 101, pgid: 101, rssMb: 10 },
      { pid: 103, pgid: 100, rssMb: 20 },
      { pid: 200, pgid: 200, rssMb: 5 },
    ]);
    expect(memory.sample(limits, 500).get(100)?.usedBytes).toBe(40 * MB);
    expect(memory.sample(limits, 1000).get(100)?.usedBytes).toBe(60 * MB);
  });

  it("is over its limit only when its pages, shared ones counted once, are", () => {
    const root = join(scratchDir(), "proc");
    // A forked child that shares most of its parent's memory: 300 MB resident in sum, 160 MB in fact.
    fakeProc(root, [
      { pid: 100, pgid: 100, rssMb: 150, pssMb: 80 },
      { pid: 101, pgid: 100, rssMb: 150, pssMb: 80 },
    ]);
    const memory = new GroupMemory(root);
    expect(memory.sample(new Map([[100, 250 * MB]]), 0).get(100)).toEqual({ usedBytes: 160 * MB, overLimit: false });
    expect(memory.sample(new Map([[100, 100 * MB]]), 0).get(100)).toEqual({ usedBytes: 160 * MB, overLimit: true });
    expect(memory.sample(new Map([[100, undefined]]), 0).get(100)).toEqual({ usedBytes: 300 * MB, overLimit: false });

    // Above the limit by the resident sum, below it in fact: the over-count found is reused for a second...
    const limits = new Map([[100, 250 * MB]]);
    expect(memory.sample(limits, 10_000).get(100)).toEqual({ usedBytes: 160 * MB, overLimit: false });
    fakeProc(root, [
      { pid: 100, pgid: 100, rssMb: 150, pssMb: 130 },
      { pid: 101, pgid: 100, rssMb: 150, pssMb: 130 },
    ]);
    expect(memory.sample(limits, 10_500).get(100)).toEqual({ usedBytes: 160 * MB, overLimit: false });
    // ...then measured again (the child wrote to the pages it shared, which are its own now).
    expect(memory.sample(limits, 11_000).get(100)).toEqual({ usedBytes: 260 * MB, overLimit: true });
  });

  it("measures again at once when the resident sum grows past what the last measure allowed", () => {
    const root = join(scratchDir(), "proc");
    fakeProc(root, [{ pid: 100, pgid: 100, rssMb: 300, pssMb: 200 }]);
    const memory = new GroupMemory(root);
    const limits = new Map([[100, 250 * MB]]);
    expect(memory.sample(limits, 0).get(100)).toEqual({ usedBytes: 200 * MB, overLimit: false });
    fakeProc(root, [{ pid: 100, pgid: 100, rssMb: 400, pssMb: 300 }]);
    expect(memory.sample(limits, 100).get(100)).toEqual({ usedBytes: 300 * MB, overLimit: true });
  });

  it("counts a process without a proportional reading by its resident size", () => {
    const root = join(scratchDir(), "proc");
    fakeProc(root, [{ pid: 100, pgid: 100, rssMb: 300 }]);
    expect(new GroupMemory(root).sample(new Map([[100, 250 * MB]]), 0).get(100)).toEqual({ usedBytes: 300 * MB, overLimit: true });
  });

  it("knows where there is no /proc", () => {
    expect(GroupMemory.available(join(scratchDir(), "missing"))).toBe(false);
    expect(GroupMemory.available()).toBe(process.platform === "linux");
  });
});

describe.runIf(process.platform === "linux")("GroupMemory on this machine", () => {
  it("counts a forked child's shared pages once against the limit", async () => {
    // 150 MB written by the parent, then a child forked that shares every page of it, as the official
    // SDK's heartbeat process does after a model has been loaded at import.
    const script = [
      "import os, sys, time",
      "block = b'\\x01' * (150 * 1024 * 1024)",
      "child = os.fork()",
      "if child == 0:",
      "    time.sleep(60); os._exit(0)",
      "print('ready', flush=True)",
      "sys.stdin.read()",
    ].join("\n");
    const python = spawn("python3", ["-c", script], { detached: true, stdio: ["pipe", "pipe", "inherit"] });
    const pgid = python.pid as number;
    onTestFinished(() => {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // Gone already.
      }
    });
    await new Promise<void>((resolve, reject) => {
      python.stdout.on("data", (data: Buffer) => data.toString().includes("ready") && resolve());
      python.once("exit", () => reject(new Error("the python process exited before it was ready")));
    });
    const memory = new GroupMemory();
    const resident = memory.sample(new Map([[pgid, undefined]]), 0).get(pgid);
    // Both processes hold the block as resident.
    expect(resident?.usedBytes).toBeGreaterThan(300 * MB);
    const limited = memory.sample(new Map([[pgid, 250 * MB]]), 0).get(pgid);
    expect(limited?.overLimit).toBe(false);
    expect(limited?.usedBytes).toBeGreaterThan(150 * MB);
    expect(limited?.usedBytes).toBeLessThan(250 * MB);
    expect(memory.sample(new Map([[pgid, 100 * MB]]), 0).get(pgid)?.overLimit).toBe(true);
  });
});
