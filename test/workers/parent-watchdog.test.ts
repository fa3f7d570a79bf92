// The watchdogs of both runtimes, where the emulator's death shows first: a worker that prints meets its
// closed stdout before the end of the fd-3 pipe is read, and would die of it alone, leaving its children.
// Here only stdout is closed, fd 3 stays open: the group must go down anyway.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { groupMembers } from "./process-groups.js";

const asset = (path: string) => fileURLToPath(new URL(`../../src/workers/runtimes/${path}`, import.meta.url));
const PYTHON = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();

const NODE_WORKER = `
import { spawn } from "node:child_process";
import { watchParent } from ${JSON.stringify(asset("node/parent-watchdog.mjs"))};
watchParent();
const quiet = spawn("sleep", ["60"], { stdio: "ignore" });
console.log(quiet.pid);
setInterval(() => console.log("tick"), 5);`;

const PYTHON_WORKER = `
import subprocess, time
quiet = subprocess.Popen(["sleep", "60"])
print(quiet.pid, flush=True)
while True:
    print("tick", flush=True)
    time.sleep(0.005)`;

const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) {
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      // Gone, as it should be.
    }
  }
});

/** Starts a worker as the emulator does (own group, fd 3 to us); resolves once it printed its child's pid. */
async function startWorker(file: string, args: string[], env: Record<string, string>) {
  const child = spawn(file, args, { detached: true, stdio: ["ignore", "pipe", "pipe", "pipe"], env: { PATH: process.env.PATH, ...env, RUNPOD_EMULATOR_PARENT_FD: "3" } });
  started.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const first = await new Promise<string>((resolve) => createInterface({ input: child.stdout as Readable }).once("line", resolve));
  return { child, exited, grandchild: Number(first) };
}

describe.each([
  ["Node", () => startWorker(process.execPath, ["--input-type=module", "-e", NODE_WORKER], {})],
  ["Python", () => startWorker(PYTHON, ["-u", "-c", PYTHON_WORKER], { PYTHONPATH: asset("python/site") })],
])("the %s watchdog", (_, start) => {
  it("takes the whole group down when the emulator's end of stdout closes first", async () => {
    const { child, exited, grandchild } = await start();
    expect(groupMembers(child.pid as number)).toEqual(expect.arrayContaining([child.pid, grandchild]));
    (child.stdout as Readable).destroy();
    const exit = await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error("the worker did not exit within 5 s")), 5000))]);
    expect(exit).toEqual({ code: null, signal: "SIGKILL" });
    await vi.waitFor(() => expect(groupMembers(child.pid as number)).toEqual([]), { timeout: 5000 });
  });
});
