import { expect, it } from "vitest";
import { send, startEmulatorProcess } from "./emulator-process.js";
import { record } from "./figures.js";

const handler = new URL("../../fixtures/node/flood/handler.mjs", import.meta.url).pathname;

it("reads a 200 MB flood of output and a 200 MB line at pipe speed with bounded memory, /health answering throughout", async () => {
  const emu = await startEmulatorProcess([handler, "--in-memory", "--no-watch", "--idle-timeout", "1s"]);
  const lines = 2_000_000;
  const run = await send(`${emu.url}/run`, "POST", { input: { lines, width: 100, giant: 200_000_000 } });
  const latencies: number[] = [];
  let last: any;
  // Until the job's tail is kept: its last line is in the job's history.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const started = Date.now();
    const health = await send(`${emu.url}/health`);
    latencies.push(Date.now() - started);
    expect(health?.status).toBe(200);
    last = (await send(`${emu.url}/status/${run?.body.id}`))?.body;
    if (last?.status === "COMPLETED" && health?.body.workers.idle + health?.body.workers.running === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(last).toMatchObject({ status: "COMPLETED", output: { printed: lines } });
  record({ requests: latencies.length * 2 + 1, peakRssMB: emu.peakRssMB() });
  expect(emu.peakRssMB()).toBeLessThan(400);
  expect(Math.max(...latencies)).toBeLessThan(3000);
  expect(emu.alive()).toBe(true);
  await emu.stop();
});
