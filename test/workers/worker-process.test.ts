// One worker process as the pool starts it: its output line by line, how it ended, its process group
// signalled and taken down whole, and its fd-3 pipe to the emulator.
import { afterEach, describe, expect, it, vi } from "vitest";
import { type ProcessSpec, WorkerProcess } from "../../src/workers/worker-process.js";
import { groupMembers } from "./process-groups.js";

const started: WorkerProcess[] = [];
const strays: number[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((worker) => worker.kill()));
  for (const pid of strays.splice(0)) signal(pid, "SIGKILL");
});

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Gone already.
  }
}

/** `sh -c script` as a worker, with its lines collected. */
function startShell(script: string, env: Record<string, string> = {}) {
  const lines: string[] = [];
  const spec: ProcessSpec = { file: "sh", args: ["-c", script], env: { PATH: process.env.PATH ?? "", ...env }, cwd: process.cwd() };
  const worker = new WorkerProcess(spec, (stream, line) => lines.push(`${stream}: ${line}`));
  started.push(worker);
  return { worker, lines };
}

describe("a worker process", () => {
  it("hands over each line of stdout and stderr, keeping the last 20 for a crash's reason", async () => {
    const { worker, lines } = startShell('for i in $(seq 1 25); do echo "out $i"; done; printf "err\\r\\nlast without newline" >&2');
    expect(await worker.exited).toEqual({ code: 0, signal: null, signalDescription: undefined });
    expect(lines.filter((line) => line.startsWith("stdout"))).toHaveLength(25);
    expect(lines.slice(-2)).toEqual(["stderr: err", "stderr: last without newline"]);
    expect(worker.lastLines).toHaveLength(20);
    expect(worker.lastLines.at(-1)).toBe("last without newline");
  });

  it("says how it ended: an exit code, or a signal with its meaning", async () => {
    expect(await startShell("exit 3").worker.exited).toMatchObject({ code: 3, signal: null });
    expect(await startShell("kill -KILL $$").worker.exited).toEqual({ code: null, signal: "SIGKILL", signalDescription: "Forced termination" });
    expect(await startShell("kill -SEGV $$").worker.exited).toEqual({ code: null, signal: "SIGSEGV", signalDescription: "Segmentation fault" });
  });

  it("reports a program that cannot be started in its last lines", async () => {
    const worker = new WorkerProcess({ file: "/nonexistent/python3", args: [], env: {}, cwd: process.cwd() }, () => {});
    expect(await worker.exited).toEqual({ code: null, signal: null });
    expect(worker.pid).toBeUndefined();
    expect(worker.lastLines).toEqual([expect.stringMatching(/^could not start \/nonexistent\/python3: .*ENOENT/)]);
  });

  it("gets exactly the environment it is given, with the watchdog's fd 3 open to the emulator", async () => {
    process.env.EMULATOR_TEST_NOT_PASSED = "1";
    try {
      const { worker, lines } = startShell('echo "${EMULATOR_TEST_NOT_PASSED:-unset} $GIVEN $RUNPOD_EMULATOR_PARENT_FD"; [ -S /dev/fd/3 ] && echo socket', { GIVEN: "given" });
      await worker.exited;
      expect(lines).toEqual(["stdout: unset given 3", "stdout: socket"]);
    } finally {
      delete process.env.EMULATOR_TEST_NOT_PASSED;
    }
  });

  it("stops its whole group with SIGTERM, then SIGKILL after the grace", async () => {
    const { worker, lines } = startShell('trap "echo term" TERM; sleep 60 & echo "child $!"; while :; do sleep 0.05; done');
    await vi.waitFor(() => expect(lines[0]).toMatch(/^stdout: child \d+$/), { timeout: 5000 });
    const pgid = worker.pid as number;
    expect(groupMembers(pgid).length).toBeGreaterThanOrEqual(2);
    expect(await worker.stop(300)).toMatchObject({ code: null, signal: "SIGKILL" });
    expect(lines).toContain("stdout: term");
    await vi.waitFor(() => expect(groupMembers(pgid)).toEqual([]), { timeout: 5000 });
  });

  it("takes its group down when the main process exits, even if a process that left the group holds its output", async () => {
    const { worker, lines } = startShell('sleep 60 & setsid sleep 61 & echo "left $!"; exit 0');
    await vi.waitFor(() => expect(lines[0]).toMatch(/^stdout: left \d+$/), { timeout: 5000 });
    strays.push(Number(lines[0].split(" ").pop()));
    const pgid = worker.pid as number;
    expect(await worker.exited).toMatchObject({ code: 0 });
    await vi.waitFor(() => expect(groupMembers(pgid)).toEqual([]), { timeout: 5000 });
  });
});
