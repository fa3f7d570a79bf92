// The bundled runpod module against the recording of the official Python SDK (v1.12.0) working as a
// worker: for each scenario an equivalent handler runs on the bundled module against a fake platform, and
// every request must have a shape the SDK sends (route, path, query keys, headers), every result must be
// the recorded one, and takes, pings and job-stop polls must follow the SDK's rules. Timing is the
// module's own (it skips the SDK's polling sleeps), so polls are checked by rule, not one by one.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { delimiter } from "node:path";
import type { Readable } from "node:stream";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type TestContext, afterAll, afterEach, describe, it } from "vitest";
import { type FakePlatform, type Job, type RecordedRequest, startFakePlatform, workerEnvironment } from "../helpers/fake-platform.js";
import { groupMembers } from "./process-groups.js";

interface TraceRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body?: string;
  answer: { status: number; body?: string };
}
interface Scenario {
  name: string;
  requests: TraceRequest[];
}
/** What a recorded request and one of the trace's have in common. */
interface Request {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, unknown>;
  body?: string;
}

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const trace = JSON.parse(readFileSync(here("../protocol/official-sdk-v1.12.0-trace.json"), "utf8")) as { scenarios: Scenario[] };
const PYTHONPATH = [here("../../src/workers/runtimes/python/site"), here("../../src/workers/runtimes/python/bundled")].join(delimiter);
// The interpreter itself, as the emulator spawns it: a version manager's shim would add its own start-up.
const PYTHON = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();
const HOLD_MS = 1000;
const WAIT_MS = 15_000;

const scenario = (number: string) => trace.scenarios.find((s) => s.name.startsWith(`${number} `)) as Scenario;
const routeOf = (r: { path: string }) => r.path.split("/")[3];
const isPost = (r: { method: string }) => r.method === "POST";
const isTake = (r: { path: string }) => routeOf(r).startsWith("job-take");
const header = (r: Request, name: string) => r.headers[name] ?? r.headers[name.toLowerCase()];

// ------------------------------------------------------------------ workers

interface Worker {
  pid: number;
  child: ChildProcess;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Per test: what afterEach ends (tests run concurrently, so each test's own). */
const owned = new Map<string, { workers: Worker[]; platforms: FakePlatform[] }>();

function ownedBy(context: TestContext) {
  let mine = owned.get(context.task.id);
  if (!mine) owned.set(context.task.id, (mine = { workers: [], platforms: [] }));
  return mine;
}

async function fakePlatform(context: TestContext): Promise<FakePlatform> {
  const platform = await startFakePlatform({ holdMs: HOLD_MS });
  ownedBy(context).platforms.push(platform);
  return platform;
}

/** Runs a handler of test/protocol/handlers on the bundled module, in a process group of its own. */
function startWorker(context: TestContext, handler: string, platform: FakePlatform, env: Record<string, string> = {}): Worker {
  const child = spawn(PYTHON, ["-u", here(`../protocol/handlers/${handler}.py`)], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    env: { ...process.env, ...workerEnvironment(platform), PYTHONPATH, RUNPOD_EMULATOR_PARENT_FD: "3", ...env },
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream as Readable }).on("line", (line) => output.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const worker = { pid: child.pid as number, child, output, exited };
  ownedBy(context).workers.push(worker);
  context.onTestFailed(() => console.error(`worker ${handler} printed:\n${output.join("\n")}`));
  return worker;
}

function signalGroup(worker: Worker, signal: NodeJS.Signals): void {
  try {
    process.kill(-worker.pid, signal);
  } catch {
    // The group is gone already.
  }
}

afterEach((context) => {
  const mine = owned.get(context.task.id);
  owned.delete(context.task.id);
  for (const worker of mine?.workers ?? []) signalGroup(worker, "SIGKILL");
  return Promise.all((mine?.platforms ?? []).map((platform) => platform.close())).then(() => undefined);
});

afterAll(() => {
  for (const { workers } of owned.values()) for (const worker of workers) signalGroup(worker, "SIGKILL");
});

function within<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves when `ready()` holds, checking every 50 ms: for changes that send no event. */
async function until(what: string, ready: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ------------------------------------------------------------------ shapes

/** Everything about a request that does not depend on timing or on ids: route, path, query keys, headers. */
function shapeOf(r: Request): string {
  const query = Object.keys(r.query).sort();
  return JSON.stringify({
    method: r.method,
    path: r.path.replace(/\/JOB\d+$/, "/<job>"),
    query,
    gpu: r.query.gpu,
    contentType: header(r, "Content-Type"),
    charset: header(r, "charset"),
    authorization: header(r, "Authorization"),
  });
}

/** Every shape the SDK sent (scenario 18 aside: it shows a credentials file replacing the key). */
const sdkShapes = new Set(trace.scenarios.filter((s) => !s.name.startsWith("18 ")).flatMap((s) => s.requests.map(shapeOf)));

/** A result as compared: exact text, except an exception's, whose traceback names other files and lines. */
function resultOf(r: Request) {
  const parsed = JSON.parse(r.body ?? "null") as { error?: unknown };
  let body: unknown = r.body;
  if (typeof parsed?.error === "string" && parsed.error.startsWith("{")) {
    const inner = JSON.parse(parsed.error) as Record<string, string>;
    body = {
      keys: Object.keys(parsed),
      innerKeys: Object.keys(inner),
      error_type: inner.error_type,
      error_message: inner.error_message,
      hostname: inner.hostname,
      worker_id: inner.worker_id,
      traceback: [inner.error_traceback.split("\n")[0], inner.error_traceback.trimEnd().split("\n").pop()],
    };
  }
  return { path: r.path, isStream: r.query.isStream, query: Object.keys(r.query), body };
}

/** The jobs a scenario's fake handed out, in order. */
function jobsOf(s: Scenario): Job[] {
  return s.requests.filter((r) => isTake(r) && r.answer.status === 200).flatMap((r) => [JSON.parse(r.answer.body as string)].flat());
}

/**
 * Takes by the SDK's rules: with `free` = concurrency − jobs held, plain job-take when one slot is free,
 * job-take-batch with batch_size=free when more, never when none; job_in_progress=1 while a job is held.
 * A job is held from the take that got it until its final job-done, or until the platform stopped it.
 */
function takeProblems(platform: FakePlatform, concurrency: number): string[] {
  const got = new Map<string, number>();
  const finishedAt = new Map<string, number>();
  const stoppedAt = new Map<string, number>();
  const problems: string[] = [];
  for (const r of platform.requests) {
    if (r.route === "job-done" && (r.json as { status?: string })?.status !== "IN_PROGRESS") finishedAt.set(r.path.split("/").pop() as string, r.seq);
    if (r.route === "job-stop" && r.answer?.status === 200) for (const id of JSON.parse(r.answer.body).jobsToStop) stoppedAt.set(id, r.answer.t);
  }
  for (const take of platform.requests.filter(isTake)) {
    const held = [...got.keys()].filter((id) => !((finishedAt.get(id) ?? Infinity) < take.seq) && !((stoppedAt.get(id) ?? Infinity) <= take.t));
    const free = concurrency - held.length;
    const expected = { route: free === 1 ? "job-take" : "job-take-batch", batch_size: free > 1 ? String(free) : undefined, job_in_progress: held.length > 0 ? "1" : "0" };
    const actual = { route: take.route, batch_size: take.query.batch_size, job_in_progress: take.query.job_in_progress };
    if (free < 1 || JSON.stringify(actual) !== JSON.stringify(expected)) {
      problems.push(`take #${take.seq} holding [${held}]: ${JSON.stringify(actual)}, expected ${free < 1 ? "none" : JSON.stringify(expected)}`);
    }
    if (take.answer?.status === 200) for (const job of [JSON.parse(take.answer.body)].flat() as Job[]) got.set(job.id, take.seq);
  }
  return problems;
}

/** Pings carry the SDK's version and, as job_id, only jobs the worker had been given. */
function pingProblems(platform: FakePlatform): string[] {
  const problems: string[] = [];
  for (const ping of platform.requests.filter((r) => r.route === "ping")) {
    if (!/^1\.12\.0/.test(ping.query.runpod_version ?? "")) problems.push(`ping #${ping.seq}: runpod_version ${ping.query.runpod_version}`);
    for (const id of ping.query.job_id?.split(",") ?? []) {
      const handed = platform.handedOut.get(id);
      if (handed === undefined || handed > ping.t) problems.push(`ping #${ping.seq} lists ${id}, not given to it`);
    }
  }
  return problems;
}

/** job-stop is polled again a second after a 204 (never in a tight loop), and at once after stops came. */
function stopPollProblems(platform: FakePlatform): string[] {
  const polls = platform.requests.filter((r) => r.route === "job-stop");
  const problems: string[] = [];
  for (const [i, poll] of polls.entries()) {
    const next = polls[i + 1];
    if (!next || !poll.answer) continue;
    const gap = next.t - poll.answer.t;
    if (poll.answer.status === 204 && gap < 950) problems.push(`job-stop #${next.seq} came ${gap} ms after a 204`);
    if (poll.answer.status === 200 && gap > 500) problems.push(`job-stop #${next.seq} came ${gap} ms after stops`);
  }
  return problems;
}

// ------------------------------------------------------------------ scenarios

interface Script {
  concurrency?: number;
  /** Queued besides the jobs the recording handed out; the worker must never take them. */
  untaken?: Job[];
  /** job-stop answers {"jobsToStop": ["JOB1"]} once a ping shows the worker holds JOB1. */
  stopJob1?: boolean;
  /** SIGTERM to the group once JOB1 is handed out. */
  sigtermDuringJob1?: boolean;
  /** The worker ends by itself after its result (refresh_worker in its config). */
  exitsByItself?: boolean;
}

const scripts: [string, Script][] = [
  ["01", {}],
  ["02", {}],
  ["03", {}],
  ["04", {}],
  ["05", {}],
  ["06", {}],
  ["07", {}],
  ["08", { exitsByItself: true, untaken: [{ id: "JOB2", input: { a: 2 } }] }],
  ["09", {}],
  ["10", {}],
  ["11", {}],
  ["12", { concurrency: 3 }],
  ["13", { stopJob1: true }],
  ["14", {}],
  ["15", { sigtermDuringJob1: true, untaken: [{ id: "JOB2", input: { sleep: 4 } }] }],
  ["17", { stopJob1: true }],
];

describe.concurrent("the bundled runpod module speaks the official SDK's protocol", () => {
  it.for(scripts)("scenario %s", async ([number, script], context) => {
    const { expect } = context;
    const recorded = scenario(number);
    const platform = await fakePlatform(context);
    platform.enqueue(...jobsOf(recorded), ...(script.untaken ?? []));
    const worker = startWorker(context, number, platform);

    if (script.stopJob1) {
      await platform.waitFor("a ping listing JOB1", (r) => r.route === "ping" && r.query.job_id === "JOB1", WAIT_MS);
      platform.stopJobs(["JOB1"]);
    }
    if (script.sigtermDuringJob1) {
      await platform.waitFor("the first take", isTake);
      expect(platform.handedOut.has("JOB1")).toBe(true);
      signalGroup(worker, "SIGTERM");
      platform.release();
    }
    const expected = recorded.requests.filter(isPost);
    await platform.waitFor(`${expected.length} results`, (r) => isPost(r) && platform.requests.filter(isPost).length >= expected.length, WAIT_MS);
    // The stop channel runs beside the take from start-up, whatever the job does.
    await platform.waitFor("a job-stop poll", (r) => r.route === "job-stop", WAIT_MS);
    if (!script.exitsByItself && !script.sigtermDuringJob1) {
      signalGroup(worker, "SIGTERM");
      platform.release();
    }
    expect(await within("a clean exit", worker.exited, WAIT_MS)).toEqual({ code: 0, signal: null });

    const requests = platform.requests;
    expect(requests.filter(isPost).map(resultOf)).toEqual(expected.map(resultOf));
    expect(requests.filter((r) => !sdkShapes.has(shapeOf(r))).map((r) => `#${r.seq} ${shapeOf(r)}`)).toEqual([]);
    expect(takeProblems(platform, script.concurrency ?? 1)).toEqual([]);
    expect(pingProblems(platform)).toEqual([]);
    expect(stopPollProblems(platform)).toEqual([]);
    for (const job of script.untaken ?? []) expect(platform.handedOut.has(job.id)).toBe(false);
    if (script.exitsByItself || script.sigtermDuringJob1) expect(requests.filter(isTake)).toHaveLength(1);
  });

  it("lists the jobs it holds in its pings, and none once they are done", async (context) => {
    const { expect } = context;
    const platform = await fakePlatform(context);
    platform.enqueue(...[1, 2, 3].map((n) => ({ id: `JOB${n}`, input: { n, sleep: 2.5 } })));
    startWorker(context, "12", platform);
    await platform.waitFor("a ping listing three jobs", (r) => r.route === "ping" && r.query.job_id?.split(",").length === 3, WAIT_MS);
    const listing = platform.requests.find((r) => r.route === "ping" && r.query.job_id) as RecordedRequest;
    expect(listing.query.job_id.split(",").sort()).toEqual(["JOB1", "JOB2", "JOB3"]);
    const last = await platform.waitFor("the third result", (r) => r.route === "job-done" && platform.requests.filter(isPost).length === 3, WAIT_MS);
    const after = await platform.waitFor("a ping after the results", (r) => r.route === "ping" && r.seq > last.seq, WAIT_MS);
    expect(after.query).toEqual({ runpod_version: "1.12.0+emulator" });
  });

  it("drops a job whose stop came before the take that brought it", async (context) => {
    const { expect } = context;
    const platform = await fakePlatform(context);
    startWorker(context, "17", platform);
    const take = await platform.waitFor("a held take", isTake, WAIT_MS);
    const poll = await platform.waitFor("a held job-stop poll", (r) => r.route === "job-stop", WAIT_MS);
    platform.stopJobs(["JOB1"]);
    await platform.waitFor("the poll after the stop", (r) => r.route === "job-stop" && r.seq > poll.seq, WAIT_MS);
    expect(take.answer).toBeUndefined();
    platform.enqueue({ id: "JOB1", input: { sleep: 20 } }, { id: "JOB2", input: { sleep: 0 } });
    const done = await platform.waitFor("a result", isPost, WAIT_MS);
    expect([done.path, done.body]).toEqual(["/v2/EP/job-done/WORKER/JOB2", '{"output": {"slept": 0}}']);
    expect(takeProblems(platform, 1)).toEqual([]);
  });

  it("runs and reports a job handed to a take that was open at SIGTERM, where the SDK drops it", async (context) => {
    const { expect } = context;
    const platform = await fakePlatform(context);
    const worker = startWorker(context, "16", platform);
    await platform.waitFor("a held take", isTake);
    signalGroup(worker, "SIGTERM");
    platform.enqueue({ id: "JOB1", input: { late: true } });
    const done = await platform.waitFor("JOB1's result", (r) => r.route === "job-done", WAIT_MS);
    expect(done.body).toBe('{"output": {"echo": {"late": true}}}');
    platform.release();
    expect(await within("a clean exit", worker.exited, WAIT_MS)).toEqual({ code: 0, signal: null });
  });

  it("posts each sync result with the next take in one request where the emulator offers job-done-batch", async (context) => {
    const { expect } = context;
    const platform = await fakePlatform(context);
    platform.enqueue({ id: "JOB1", input: 1 }, { id: "JOB2", input: 2 });
    const worker = startWorker(context, "01", platform, { RUNPOD_EMULATOR_POST_RESULTS: `${platform.base}/job-done-batch/$RUNPOD_POD_ID?gpu=LOCAL` });
    await platform.waitFor("JOB2's result", (r) => r.route === "job-done-batch" && r.query.id === "JOB2", WAIT_MS);
    const posts = platform.requests.filter(isPost).map((r) => [r.path, r.query, r.body]);
    expect(posts).toEqual([
      ["/v2/EP/job-done-batch/WORKER", { gpu: "LOCAL", id: "JOB1", batch_size: "1", job_in_progress: "0" }, '{"output": {"echo": 1}}'],
      ["/v2/EP/job-done-batch/WORKER", { gpu: "LOCAL", id: "JOB2", batch_size: "1", job_in_progress: "0" }, '{"output": {"echo": 2}}'],
    ]);
    // Its held take (carrying JOB2's result) ends at SIGTERM as any take does.
    signalGroup(worker, "SIGTERM");
    platform.release();
    expect(await within("a clean exit", worker.exited, WAIT_MS)).toEqual({ code: 0, signal: null });
  });

  it.skipIf(!existsSync("/proc/self/stat"))("takes its whole process group down when the emulator's end of fd 3 closes", async (context) => {
    const { expect } = context;
    const platform = await fakePlatform(context);
    const worker = startWorker(context, "watchdog", platform);
    await platform.waitFor("the first take", isTake, WAIT_MS);
    const line = worker.output.find((l) => l.startsWith('{"descendants"')) as string;
    const descendants = (JSON.parse(line) as { descendants: number[] }).descendants;
    expect(groupMembers(worker.pid)).toEqual(expect.arrayContaining([worker.pid, ...descendants]));

    (worker.child.stdio[3] as Readable).destroy();
    expect(await within("the worker's end", worker.exited, 5000)).toEqual({ code: null, signal: "SIGKILL" });
    await until("an empty process group", () => groupMembers(worker.pid).length === 0, 5000);
  });
});
