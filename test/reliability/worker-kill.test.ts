import { join } from "node:path";
import { expect, it } from "vitest";
import { workerProcesses } from "../helpers/global-setup.js";
import { scratchDir } from "../helpers/scratch.js";
import { account, send, startEmulatorProcess } from "./emulator-process.js";
import { record } from "./figures.js";

const handler = new URL("../../fixtures/node/ledger/handler.mjs", import.meta.url).pathname;
const KILLS = 20;

it(`loses no acknowledged job and runs none twice beyond documented requeues over ${KILLS} kill -9 of a worker under load`, async () => {
  const dir = scratchDir();
  const database = join(dir, "jobs.db");
  const ledger = join(dir, "ledger.txt");
  const emu = await startEmulatorProcess([handler, "--db", database, "--no-watch", "--min-workers", "2", "--max-workers", "3"]);
  const acknowledged = new Set<string>();
  let requests = 0;
  let submitting = true;
  const loops = Array.from({ length: 4 }, async () => {
    while (submitting) {
      requests++;
      const answer = await send(`${emu.url}/run`, "POST", { input: { ledger, ms: Math.floor(Math.random() * 60) } });
      if (answer?.status === 200) acknowledged.add(answer.body.id);
      // Paced, so that the backlog left to drain after the kills stays small.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
  let kills = 0;
  while (kills < KILLS) {
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 300));
    const workers = workerProcesses(emu.url);
    if (workers.length === 0) continue;
    try {
      process.kill(workers[Math.floor(Math.random() * workers.length)] as number, "SIGKILL");
      kills++;
    } catch {
      // Gone meanwhile: another moment.
    }
  }
  submitting = false;
  await Promise.all(loops);
  record({ workerKills: kills, requests });
  const deadline = Date.now() + 90_000;
  for (;;) {
    const health = await send(`${emu.url}/health`);
    if ((health?.body?.jobs?.inQueue === 0 && health.body.jobs.inProgress === 0) || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(emu.alive()).toBe(true);
  await emu.stop();
  const result = account(acknowledged, database, ledger);
  expect(result.problems.slice(0, 10)).toEqual([]);
  expect(result).toMatchObject({ lost: 0, runTwice: 0 });
  expect(result.requeuedRuns).toBeGreaterThan(0);
});
