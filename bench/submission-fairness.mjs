// `submissionFairness`: do workers keep their share while many clients submit? 128 connections POST /run
// as fast as they are answered for 10 s, to a no-op handler on 4 workers × 8 on a file database; meanwhile
// jobs must keep completing. Then the queue drains, and the emulator's memory must come back.
import http from "node:http";
import { join } from "node:path";
import { request, root, rssMB, startEmulator, tempDir } from "./lib.mjs";

const CONNECTIONS = 128;
const WINDOW_MS = 10_000;
const DRAIN_LIMIT_MS = 120_000;

/** POSTs /run on `connections` connections of their own until `until`; resolves with the jobs accepted. */
async function submit(url, connections, until) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const body = JSON.stringify({ input: { n: 1 } });
  let accepted = 0;
  const one = () =>
    new Promise((resolve) => {
      const req = http.request(`${url}/run`, { method: "POST", agent, headers: { "Content-Type": "application/json", "Content-Length": body.length } }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
      });
      req.on("error", () => resolve(false));
      req.end(body);
    });
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < until) if (await one()) accepted++;
  }));
  agent.destroy();
  return accepted;
}

const health = async (url) => (await request(`${url}/health`)).body.jobs;

/** Adds its rows through `row(figure, value, floor, unit, note)`. */
export async function submissionFairness(row) {
  const noop = join(root, "bench/handlers/noop.mjs");
  const emu = await startEmulator([noop, "--db", join(tempDir(), "bench.db"), "--no-watch", "--min-workers", "4", "--max-workers", "4"]);
  for (;;) {
    const { body } = await request(`${emu.url}/health`);
    if (body.workers.idle >= 4) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const rssBefore = await rssMB(emu.child.pid);
  const start = await health(emu.url);
  const began = Date.now();
  const accepted = await submit(emu.url, CONNECTIONS, began + WINDOW_MS);
  const window = (Date.now() - began) / 1000;
  const during = await health(emu.url);
  const completedDuring = during.completed - start.completed;
  let peak = await rssMB(emu.child.pid);
  const drainStart = Date.now();
  for (;;) {
    const jobs = await health(emu.url);
    peak = Math.max(peak, await rssMB(emu.child.pid));
    if ((jobs.inQueue === 0 && jobs.inProgress === 0) || Date.now() - drainStart > DRAIN_LIMIT_MS) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const drainSeconds = (Date.now() - drainStart) / 1000;
  // A few seconds idle, for the collector to give memory back.
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const rssAfter = await rssMB(emu.child.pid);
  const submitRate = Math.round(accepted / window);
  row(`submissionFairness: /run accepted per second, ${CONNECTIONS} connections`, submitRate, undefined, "jobs/s");
  row("submissionFairness: jobs completed per second while they submit", Math.round(completedDuring / window), submitRate, "jobs/s", "floor: the submission rate; ratio 1 = processing keeps up");
  row("submissionFairness: time to drain the queue after the burst", Number(drainSeconds.toFixed(1)), undefined, "s");
  row("submissionFairness: peak RSS during the burst", peak, rssBefore, "MB", "floor: the same emulator before it");
  row("submissionFairness: RSS 5 s after the queue drained", rssAfter, rssBefore, "MB", "floor: the same emulator before it");
  await emu.stop();
}
