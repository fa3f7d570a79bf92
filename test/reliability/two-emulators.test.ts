import { join } from "node:path";
import { expect, it } from "vitest";
import { startCli } from "../helpers/cli.js";
import { scratchDir } from "../helpers/scratch.js";
import { account, send, startEmulatorProcess } from "./emulator-process.js";
import { record } from "./figures.js";

const handler = new URL("../../fixtures/node/ledger/handler.mjs", import.meta.url).pathname;

it("refuses a second emulator on the same database, naming the first, and runs each job once", async () => {
  const dir = scratchDir();
  const database = join(dir, "jobs.db");
  const ledger = join(dir, "ledger.txt");
  const first = await startEmulatorProcess([handler, "--db", database, "--no-watch"]);
  const acknowledged = new Set<string>();
  const submit = async (count: number) => {
    for (let n = 0; n < count; n++) {
      const answer = await send(`${first.url}/run`, "POST", { input: { ledger, ms: 5 } });
      if (answer?.status === 200) acknowledged.add(answer.body.id);
    }
  };
  const submitting = submit(200);
  const second = startCli([handler, "--db", database, "--no-watch", "--port", "0"]);
  expect(await second.exit(30_000)).toBe(1);
  expect(second.output.join("\n")).toContain(`pid ${first.pid}`);
  await submitting;
  for (const id of acknowledged) await send(`${first.url}/status-sync/${id}?wait=20000`, "POST");
  expect(first.alive()).toBe(true);
  await first.stop();
  record({ requests: acknowledged.size });
  const result = account(acknowledged, database, ledger);
  expect(result).toMatchObject({ acknowledged: 200, lost: 0, runTwice: 0, requeuedRuns: 0 });
});
