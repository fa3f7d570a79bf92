import { readFileSync, readdirSync } from "node:fs";

/**
 * Marks this test run's processes: workers inherit the environment, so the suite-end check counts only
 * the workers of this run, never those of another run on the same machine.
 */
const RUN_MARK = "RUNPOD_EMULATOR_TEST_RUN";

/**
 * Processes started as emulator workers by this test run: those given the job-take URL (optionally only
 * those of one emulator URL), and without a URL also load-balancing workers' servers (given a worker id).
 */
export function workerProcesses(url = ""): number[] {
  const pids: number[] = [];
  const mark = `${RUN_MARK}=${process.env[RUN_MARK]}\0`;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "latin1");
      const worker = environ.includes(`RUNPOD_WEBHOOK_GET_JOB=${url}`) || (url === "" && environ.includes("\0RUNPOD_POD_ID="));
      if (worker && environ.includes(mark)) pids.push(Number(entry));
    } catch {
      // Gone already, or not ours to read.
    }
  }
  return pids;
}

/** After the whole suite: no worker process may have survived it. */
export default function setup(): () => Promise<void> {
  process.env[RUN_MARK] = String(process.pid);
  return async () => {
    // A worker killed in the last test may need a moment to be reaped.
    const deadline = Date.now() + 5_000;
    let left = workerProcesses();
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = workerProcesses();
    }
    if (left.length > 0) {
      for (const pid of left) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
      }
      throw new Error(`worker processes survived the test suite: ${left.join(", ")}`);
    }
  };
}
