// The bundled runpod module against the recording of the official SDK (v1.12.0): for each scenario, the
// same handler runs on the bundled module against a fake platform, and its requests must have the
// recorded shapes — routes, query flags, headers and bodies.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { FakePlatform, type Recorded } from "../helpers/fake-platform.js";

interface TraceRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: string;
  json?: unknown;
  answer: { status: number; body?: string };
}
interface Scenario {
  name: string;
  requests: TraceRequest[];
}

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const trace = JSON.parse(readFileSync(here("../protocol/official-sdk-v1.12.0-trace.json"), "utf8")) as { scenarios: Scenario[] };
const PYTHONPATH = [here("../../src/workers/runtimes/python/site"), here("../../src/workers/runtimes/python/bundled")].join(":");

type Cleanup = (fn: () => unknown) => void;

/** A fake platform, closed when the test ends. */
async function platformFor(onTestFinished: Cleanup): Promise<{ platform: FakePlatform; base: string }> {
  const platform = new FakePlatform();
  const base = await platform.start();
  onTestFinished(() => platform.close());
  return { platform, base };
}

/** Starts the bundled module on a scenario's handler, with the recorded environment; killed when the test ends. */
function startWorker(base: string, handler: string, onTestFinished: Cleanup): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn("python3", ["-u", here(`../protocol/handlers/${handler}.py`)], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PYTHONPATH,
      RUNPOD_EMULATOR_PARENT_FD: "3",
      RUNPOD_WEBHOOK_GET_JOB: `${base}/job-take/$ID?gpu=LOCAL`,
      RUNPOD_WEBHOOK_POST_OUTPUT: `${base}/job-done/$RUNPOD_POD_ID/$ID?gpu=LOCAL`,
      RUNPOD_WEBHOOK_POST_STREAM: `${base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=LOCAL`,
      RUNPOD_WEBHOOK_PING: `${base}/ping/$RUNPOD_POD_ID`,
      RUNPOD_PING_INTERVAL: "1000",
      RUNPOD_AI_API_KEY: "API_KEY",
      RUNPOD_POD_ID: "WORKER",
      RUNPOD_POD_HOSTNAME: "WORKER",
      RUNPOD_ENDPOINT_ID: "EP",
      RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "true",
      RUNPOD_SKIP_GPU_CHECK: "true",
      PYTHONUNBUFFERED: "1",
    },
  });
  onTestFinished(() => {
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      // Already gone.
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited };
}

/** The jobs a scenario handed out, in order, as the fake answered them. */
function jobsOf(scenario: Scenario): Record<string, unknown>[] {
  return scenario.requests
    .filter((r) => r.path.includes("/job-take") && r.answer.status === 200 && r.answer.body)
    .flatMap((r) => [JSON.parse(r.answer.body as string)].flat());
}

/** What must match of a POST: route, flags, headers that the platform reads, and the body. */
function postShape(r: { path: string; query: Record<string, string>; headers: Record<string, unknown>; body?: string }) {
  const header = (name: string) => r.headers[name] ?? r.headers[name.toLowerCase()];
  let body: unknown = r.body;
  const parsed = JSON.parse(r.body ?? "null") as { error?: string };
  // An exception's body holds a traceback: compare its keys and the exception, not the frames.
  if (parsed && typeof parsed.error === "string" && parsed.error.startsWith("{")) {
    const inner = JSON.parse(parsed.error) as Record<string, string>;
    body = { errorKeys: Object.keys(inner).sort(), type: inner.error_type, message: inner.error_message, traceback: /^Traceback/.test(inner.error_traceback) };
  }
  return {
    path: r.path.replace(/^.*\/v2\//, "/v2/"),
    query: r.query,
    contentType: header("Content-Type"),
    charset: header("charset"),
    authorization: header("Authorization"),
    body,
  };
}

const posts = (requests: { method: string }[]) => requests.filter((r) => r.method === "POST");

const scenarios: [string, { stopJob1AfterMs?: number; sigtermAfterJob1Ms?: number; exitsByItself?: boolean }][] = [
  ["01", {}], ["02", {}], ["03", {}], ["04", {}], ["05", {}], ["06", {}], ["07", {}],
  ["08", { exitsByItself: true }], ["09", {}], ["10", {}], ["11", {}], ["12", {}],
  ["13", { stopJob1AfterMs: 1000 }], ["14", {}], ["15", { sigtermAfterJob1Ms: 1500 }], ["17", { stopJob1AfterMs: 1000 }],
];

describe("the bundled runpod module speaks the official SDK's protocol", () => {
  it.concurrent.for(scenarios)("scenario %s", async ([number, script], { expect, onTestFinished }) => {
    const scenario = trace.scenarios.find((s) => s.name.startsWith(`${number} `)) as Scenario;
    const { platform, base } = await platformFor(onTestFinished);
    const jobs = jobsOf(scenario);
    // Scenario 15 keeps its second job queued: a worker told to stop must not take it.
    const queued = script.sigtermAfterJob1Ms ? [...jobs, { id: "JOB2", input: { sleep: 4 } }] : jobs;
    for (const job of queued) platform.enqueue(job);
    const worker = startWorker(base, number, onTestFinished);

    if (script.stopJob1AfterMs) {
      await platform.until(() => platform.handedOut.has("JOB1"));
      setTimeout(() => platform.stop(["JOB1"]), script.stopJob1AfterMs);
    }
    if (script.sigtermAfterJob1Ms) {
      await platform.until(() => platform.handedOut.has("JOB1"));
      setTimeout(() => worker.child.exitCode === null && process.kill(-(worker.child.pid as number), "SIGTERM"), script.sigtermAfterJob1Ms);
    }
    const expected = posts(scenario.requests);
    await platform.until((requests) => posts(requests).length >= expected.length);
    if (script.exitsByItself) {
      expect(await worker.exited).toBe(0);
    } else {
      // Room for a request that should not come, then the platform's SIGTERM: a clean exit.
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (!script.sigtermAfterJob1Ms) process.kill(-(worker.child.pid as number), "SIGTERM");
      expect(await worker.exited).toBe(0);
    }

    expect(posts(platform.requests).map(postShape)).toEqual(expected.map(postShape));

    const takes = platform.requests.filter((r) => r.route.startsWith("job-take"));
    const recordedTakes = scenario.requests.filter((r) => r.path.includes("/job-take"));
    const takeShape = (r: { path: string; query: Record<string, string> }) => [r.path.replace(/^.*\/v2\//, "/v2/"), Object.keys(r.query).sort(), r.query.batch_size];
    expect(takeShape(takes[0] as Recorded)).toEqual(takeShape(recordedTakes[0]));
    for (const take of takes) expect(take.headers.authorization).toBe("API_KEY");
    const stops = platform.requests.filter((r) => r.route === "job-stop");
    expect(stops.length).toBeGreaterThan(0);
    for (const stop of stops) expect([stop.path, stop.query]).toEqual(["/v2/EP/job-stop/WORKER", { gpu: "LOCAL" }]);
    if (script.sigtermAfterJob1Ms) expect(platform.handedOut.has("JOB2")).toBe(false);
  }, 30_000);

  it("reports held jobs in its pings, as job_id, with its version", async ({ onTestFinished }) => {
    const { platform, base } = await platformFor(onTestFinished);
    for (const job of jobsOf(trace.scenarios[11])) platform.enqueue(job);
    startWorker(base, "12", onTestFinished);
    await platform.until((requests) => requests.some((r) => r.route === "ping" && r.query.job_id?.split(",").length === 3));
    const ping = platform.requests.find((r) => r.route === "ping" && r.query.job_id) as Recorded;
    expect(ping.query.job_id.split(",").sort()).toEqual(["JOB1", "JOB2", "JOB3"]);
    expect(ping.query.runpod_version).toMatch(/^\d+\.\d+\.\d+/);
    expect(ping.headers.authorization).toBe("API_KEY");
  });

  it("takes its whole process group down when the emulator's end of its pipe closes", async ({ onTestFinished }) => {
    const { platform, base } = await platformFor(onTestFinished);
    const worker = startWorker(base, "01", onTestFinished);
    await platform.until((requests) => requests.some((r) => r.route === "job-take"));
    const group = -(worker.child.pid as number);
    (worker.child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
    expect(await worker.exited).toBe(null);
    const deadline = Date.now() + 5000;
    let alive = true;
    while (alive && Date.now() < deadline) {
      try {
        process.kill(group, 0);
        await new Promise((resolve) => setTimeout(resolve, 50));
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
  });
});
