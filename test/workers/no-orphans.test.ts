// No worker outlives the emulator, even after `kill -9`: the emulator runs as its own process (the built
// command), its workers print without pause and leave a quiet grandchild in their process group, and
// the emulator is killed again and again while they do. A worker that meets its closed output pipe
// must take its whole group down before it can die of it.
import { describe, expect, it, vi } from "vitest";
import { type Cli, readyUrl, startCli } from "../helpers/cli.js";
import { fixture } from "../helpers/emulator.js";
import { workerProcesses } from "../helpers/global-setup.js";

const ROUNDS = 15;
const WORKERS = 2;
// Each worker and the grandchild it left: every process that carries the run's job-take URL.
const PROCESSES = WORKERS * 2;

/** An emulator on `handler` with its workers ready, their grandchildren started, and its URL. */
async function startRun(handler: string): Promise<{ cli: Cli; url: string }> {
  const cli = startCli([handler, "--port", "0", "--in-memory", "--no-watch", "--min-workers", String(WORKERS)]);
  const url = await readyUrl(cli);
  await vi.waitFor(
    () => {
      expect(cli.output.filter((line) => /worker w\d+-\w+ ready in/.test(line))).toHaveLength(WORKERS);
      expect(workerProcesses(url).length).toBeGreaterThanOrEqual(PROCESSES);
    },
    { timeout: 20_000, interval: 20 },
  );
  return { cli, url };
}

/** Whatever of the run is still alive once its processes have had time to go; none, when all is well. */
async function survivors(url: string): Promise<number[]> {
  try {
    await vi.waitFor(() => expect(workerProcesses(url)).toEqual([]), { timeout: 5_000, interval: 20 });
    return [];
  } catch {
    const left = workerProcesses(url);
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    return left;
  }
}

describe("workers after a SIGKILL of the emulator", () => {
  it(`leave nothing behind, Node and Python, over ${ROUNDS} rounds`, { timeout: ROUNDS * 15_000 }, async () => {
    const left: Record<string, number[]> = {};
    for (let round = 1; round <= ROUNDS; round++) {
      const runs = await Promise.all([fixture("node/forking-printer/handler.js"), fixture("python/forking_printer/handler.py")].map(startRun));
      for (const { cli } of runs) cli.child.kill("SIGKILL");
      for (const { cli, url } of runs) {
        await cli.exit();
        const pids = await survivors(url);
        if (pids.length > 0) left[`round ${round}, ${url}`] = pids;
      }
    }
    expect(left).toEqual({});
  });
});
