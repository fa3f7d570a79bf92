import { expect, it } from "vitest";
import { send, startEmulatorProcess } from "./emulator-process.js";
import { record } from "./figures.js";

const handler = new URL("../../fixtures/node/large-result/handler.mjs", import.meta.url).pathname;

it("fails at once a job whose 300 MB result is over the 256 MB a worker may post, and its worker takes the next job", async () => {
  const emu = await startEmulatorProcess([handler, "--in-memory", "--no-watch"]);
  const started = Date.now();
  const job = await send(`${emu.url}/runsync`, "POST", { input: { bytes: 300_000_000 } });
  expect(job?.body).toMatchObject({ status: "FAILED", error: "the job's result of 300.000013 MB exceeds the 256 MB limit of what a worker may post" });
  // Far from the 600 s execution timeout that a refused result used to wait for.
  expect(Date.now() - started).toBeLessThan(60_000);
  expect((await send(`${emu.url}/runsync`, "POST", { input: { echo: "next" } }))?.body).toMatchObject({ status: "COMPLETED", output: "next" });
  expect(emu.alive()).toBe(true);
  await emu.stop();
  record({ requests: 2 });
});
