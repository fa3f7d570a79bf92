import { join } from "node:path";
import { expect, it } from "vitest";
import { workerProcesses } from "../helpers/global-setup.js";
import { scratchDir } from "../helpers/scratch.js";
import { type EmulatorProcess, account, send, startEmulatorProcess } from "./emulator-process.js";
import { record } from "./figures.js";

const handler = new URL("../../fixtures/node/ledger/handler.mjs", import.meta.url).pathname;
const KILLS = 20;
const SUBMITTERS = 16;

/** Submits jobs on `SUBMITTERS` connections until `stop()`; every id answered 200 is acknowledged. */
function load(emu: EmulatorProcess, ledger: string, acknowledged: Set<string>) {
  let stopped = false;
  let requests = 0;
  const loops = Array.from({ length: SUBMITTERS }, async () => {
    while (!stopped && emu.alive()) {
      requests++;
      const answer = await send(`${emu.url}/run`, "POST", { input: { ledger, ms: Math.floor(Math.random() * 40) } });
      if (answer?.status === 200 && typeof answer.body?.id === "string") acknowledged.add(answer.body.id);
    }
  });
  return async () => {
    stopped = true;
    await Promise.all(loops);
    return requests;
  };
}

async function gone(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (workerProcesses(url).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

it(`loses no acknowledged job and runs none twice beyond documented requeues over ${KILLS} kill -9 of the emulator under load`, async () => {
  const dir = scratchDir();
  const database = join(dir, "jobs.db");
  const ledger = join(dir, "ledger.txt");
  const args = [handler, "--db", database, "--no-watch", "--max-workers", "2"];
  const acknowledged = new Set<string>();
  let requests = 0;
  for (let kill = 0; kill < KILLS; kill++) {
    const emu = await startEmulatorProcess(args);
    const stopLoad = load(emu, ledger, acknowledged);
    // A random moment: while jobs are being submitted, taken, run and finished.
    await new Promise((resolve) => setTimeout(resolve, 150 + Math.random() * 900));
    await emu.kill9();
    requests += await stopLoad();
    await gone(emu.url);
  }
  record({ emulatorKills: KILLS, requests });

  // A last run finishes what the kills left.
  const emu = await startEmulatorProcess(args);
  const deadline = Date.now() + 90_000;
  for (;;) {
    const health = await send(`${emu.url}/health`);
    if ((health?.body?.jobs?.inQueue === 0 && health.body.jobs.inProgress === 0) || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await emu.stop();
  const result = account(acknowledged, database, ledger);
  expect(result.problems.slice(0, 10)).toEqual([]);
  expect(result).toMatchObject({ lost: 0, runTwice: 0 });
  expect(result.acknowledged).toBeGreaterThan(KILLS * 10);
});
