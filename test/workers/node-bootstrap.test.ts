// The Node runtime's bootstrap against a fake platform, started as the emulator starts it: the requests it
// makes and their exact bodies for every kind of handler, batch takes, job-stop, per-job log lines,
// shutdown, import failures and the parent watchdog.
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type FakePlatform, type Job, type RecordedRequest as Recorded, startFakePlatform } from "../helpers/fake-platform.js";
import { scratchDir } from "../helpers/scratch.js";
import { groupMembers } from "./process-groups.js";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const bootstrap = here("../../src/workers/runtimes/node/bootstrap.mjs");
const fixture = (path: string) => here(`../../fixtures/node/${path}`);
const POD = "w1";
const SECRET = "SECRET";

interface Worker {
  child: ChildProcess;
  platform: FakePlatform;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout: string[];
  stderr: string[];
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fake platform with `jobs` queued, and the bootstrap on `handler` against it; both gone after the test. */
async function startWorker(handler: string, jobs: Job[] = [], holdMs = 500, env: (base: string) => Record<string, string> = () => ({})): Promise<Worker> {
  const platform = await startFakePlatform({ holdMs });
  const { base } = platform;
  cleanups.push(() => platform.close());
  for (const job of jobs) platform.enqueue(job);
  const child = spawn(process.execPath, [...(handler.endsWith(".ts") ? ["--import", "tsx"] : []), bootstrap, handler], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      RUNPOD_WEBHOOK_GET_JOB: `${base}/job-take/$ID?gpu=LOCAL&token=${SECRET}`,
      RUNPOD_WEBHOOK_POST_OUTPUT: `${base}/job-done/$RUNPOD_POD_ID/$ID?gpu=LOCAL&token=${SECRET}`,
      RUNPOD_WEBHOOK_POST_STREAM: `${base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=LOCAL&token=${SECRET}`,
      RUNPOD_WEBHOOK_PING: `${base}/ping/$RUNPOD_POD_ID?token=${SECRET}`,
      RUNPOD_PING_INTERVAL: "1000",
      RUNPOD_AI_API_KEY: SECRET,
      RUNPOD_POD_ID: POD,
      RUNPOD_POD_HOSTNAME: POD,
      RUNPOD_ENDPOINT_ID: "EP",
      RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "true",
      RUNPOD_SKIP_GPU_CHECK: "true",
      RUNPOD_EMULATOR_PARENT_FD: "3",
      ...env(base),
    },
  });
  cleanups.push(() => {
    try {
      process.kill(-(child.pid as number), "SIGKILL");
    } catch {
      // Already gone.
    }
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => stdout.push(line));
  createInterface({ input: child.stderr! }).on("line", (line) => stderr.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return { child, platform, exited, stdout, stderr };
}

const isTake = (r: Recorded) => r.route === "job-take" || r.route === "job-take-batch";
const postsFor = (requests: Recorded[], route: string, job: string) => requests.filter((r) => r.route === route && r.path.endsWith(`/${job}`));
const bodiesOf = (requests: Recorded[]) => requests.map((r) => r.body);

/** Waits for job-done posts of these jobs (the last of each one's posts, as raw body text). */
async function results(worker: Worker, ids: string[], timeoutMs = 10_000): Promise<Record<string, Recorded>> {
  await worker.platform.until(`results of ${ids.join(", ")}`, (rs) => ids.every((id) => postsFor(rs, "job-done", id).some((r) => !r.body.includes('"IN_PROGRESS"'))), timeoutMs);
  return Object.fromEntries(ids.map((id) => [id, postsFor(worker.platform.requests, "job-done", id).at(-1) as Recorded]));
}

function exitWithin(worker: Worker, ms: number) {
  return Promise.race([worker.exited, new Promise((_, reject) => setTimeout(() => reject(new Error(`the worker did not exit within ${ms} ms`)), ms))]);
}

describe("Node bootstrap: outcomes in the official SDK's shapes", () => {
  it("posts each kind of returned value, with the SDK's query flags and headers", async () => {
    const inputs = { J1: { n: 1 }, J2: null, J3: {}, J4: { error: "bad", x: 1 }, J5: { error: { code: 7 } } };
    const worker = await startWorker(fixture("echo/handler.js"), Object.entries(inputs).map(([id, input]) => ({ id, input })));
    const done = await results(worker, Object.keys(inputs));
    expect(Object.fromEntries(Object.entries(done).map(([id, r]) => [id, r.body]))).toEqual({
      J1: '{"output":{"n":1}}',
      J2: '{"output":null}',
      J3: "{}",
      J4: '{"output":{"x":1},"error":"bad"}',
      J5: '{"error":{"code":7}}',
    });
    expect(done.J1).toMatchObject({ method: "POST", path: `/v2/EP/job-done/${POD}/J1`, query: { gpu: "LOCAL", token: SECRET, isStream: "false" } });
    expect(done.J1.headers).toMatchObject({ authorization: SECRET, "content-type": "application/x-www-form-urlencoded" });

    const takes = worker.platform.requests.filter(isTake);
    expect(takes.slice(0, 5).map((r) => [r.method, r.path, r.query])).toEqual(
      Array(5).fill(["GET", `/v2/EP/job-take/${POD}`, { gpu: "LOCAL", token: SECRET, job_in_progress: "0" }]),
    );
    const stop = worker.platform.requests.find((r) => r.route === "job-stop");
    expect(stop).toMatchObject({ method: "GET", path: `/v2/EP/job-stop/${POD}`, query: { gpu: "LOCAL", token: SECRET } });
    // Pings come from a thread of the worker's own, which may start after the first jobs ran.
    await worker.platform.until("a ping", (all) => all.some((r) => r.route === "ping"));
    const ping = worker.platform.requests.find((r) => r.route === "ping");
    expect(ping).toMatchObject({ method: "GET", path: `/v2/EP/ping/${POD}`, query: { token: SECRET, runpod_version: "node-emulator" } });
    expect(ping!.headers).toMatchObject({ authorization: SECRET });
  });

  it("turns a returned refresh_worker into stopPod, then takes nothing more and exits 0", async () => {
    const worker = await startWorker(fixture("echo/handler.js"), [
      { id: "J1", input: { refresh_worker: true, y: 2 } },
      { id: "J2", input: { n: 2 } },
    ]);
    const done = await results(worker, ["J1"]);
    expect(done.J1.body).toBe('{"output":{"y":2},"stopPod":true}');
    expect(await exitWithin(worker, 5000)).toEqual({ code: 0, signal: null });
    expect(worker.platform.requests.filter(isTake)).toHaveLength(1);
  });

  it("fails a thrown error with the SDK's payload: type, message, traceback, hostname, worker and version", async () => {
    const worker = await startWorker(fixture("error/handler.js"), [{ id: "J1", input: { a: 1 } }]);
    const { J1 } = await results(worker, ["J1"]);
    expect(J1.query.isStream).toBe("false");
    const body = JSON.parse(J1.body);
    expect(Object.keys(body)).toEqual(["error"]);
    const error = JSON.parse(body.error);
    expect(Object.keys(error)).toEqual(["error_type", "error_message", "error_traceback", "hostname", "worker_id", "runpod_version"]);
    expect(error).toMatchObject({ error_type: "Error", error_message: 'something broke: {"a":1}', hostname: POD, worker_id: POD, runpod_version: "node-emulator" });
    expect(error.error_traceback).toMatch(/^Error: something broke: \{"a":1\}\n\s+at handler \(file:\/\/.*fixtures\/node\/error\/handler\.js:\d+:\d+\)/);
  });

  it("streams an async generator's chunks in order, then posts job-done {output: []} with isStream=true", async () => {
    const worker = await startWorker(fixture("generator/handler.js"), [{ id: "J1", input: { count: 3, delay_ms: 5 } }]);
    await results(worker, ["J1"]);
    const posts = worker.platform.requests.filter((r) => r.method === "POST");
    expect(posts.map((r) => [r.route, r.query.isStream, r.body])).toEqual([
      ["job-stream", "false", '{"output":{"token":0}}'],
      ["job-stream", "false", '{"output":{"token":1}}'],
      ["job-stream", "false", '{"output":{"token":2}}'],
      ["job-done", "true", '{"output":[]}'],
    ]);
  });

  it("aggregates a sync generator's chunks into its result with returnAggregateStream", async () => {
    const worker = await startWorker(fixture("sync-generator/handler.mjs"), [{ id: "J1", input: {} }]);
    const { J1 } = await results(worker, ["J1"]);
    expect(bodiesOf(postsFor(worker.platform.requests, "job-stream", "J1"))).toEqual(['{"output":"one"}', '{"output":"two"}', '{"output":"three"}']);
    expect([J1.query.isStream, J1.body]).toEqual(["true", '{"output":["one","two","three"]}']);
  });

  it("posts context.progress as IN_PROGRESS job-done bodies before the result", async () => {
    const worker = await startWorker(fixture("progress/handler.mjs"), [{ id: "J1", input: { step_ms: 10 } }]);
    await results(worker, ["J1"]);
    expect(bodiesOf(postsFor(worker.platform.requests, "job-done", "J1"))).toEqual([
      '{"status":"IN_PROGRESS","output":"step 1/2"}',
      '{"status":"IN_PROGRESS","output":{"percent":50}}',
      '{"output":{"done":true}}',
    ]);
  });

  it("loads a CommonJS module exporting { handler }", async () => {
    const worker = await startWorker(fixture("commonjs/handler.cjs"), [{ id: "J1", input: 7 }]);
    expect((await results(worker, ["J1"])).J1.body).toBe('{"output":{"commonjs":true,"input":7}}');
  });

  it("runs a TypeScript handler under tsx, taking as many jobs as its config.concurrency", async () => {
    const worker = await startWorker(fixture("typescript/handler.ts"), [{ id: "J1", input: { name: "ts" } }]);
    expect((await results(worker, ["J1"])).J1.body).toBe('{"output":{"greeting":"hello ts"}}');
    expect(worker.platform.requests.find(isTake)).toMatchObject({ route: "job-take-batch", query: { batch_size: "2", job_in_progress: "0" } });
  });
});

describe("Node bootstrap: concurrency, stops and logs", () => {
  it("takes a batch for three free slots, overlaps async jobs, and writes each job's log lines as JSON naming it", async () => {
    const worker = await startWorker(fixture("concurrent/handler.mjs"), [
      { id: "J1", input: { n: 1, ms: 600 } },
      { id: "J2", input: { n: 2, ms: 100 } },
      { id: "J3", input: { n: 3, ms: 300 } },
    ]);
    await results(worker, ["J1", "J2", "J3"]);
    const takes = worker.platform.requests.filter(isTake);
    expect(takes.slice(0, 2).map((r) => [r.route, r.query.batch_size, r.query.job_in_progress])).toEqual([
      ["job-take-batch", "3", "0"],
      ["job-take", undefined, "1"],
    ]);
    // Taken together, they end in the order of their lengths: they ran at the same time.
    const done = worker.platform.requests.filter((r) => r.route === "job-done");
    expect(done.map((r) => [r.path.split("/").at(-1), r.body])).toEqual([
      ["J2", '{"output":{"n":2}}'],
      ["J3", '{"output":{"n":3}}'],
      ["J1", '{"output":{"n":1}}'],
    ]);
    await vi.waitFor(() => expect(worker.stderr).toHaveLength(3), { timeout: 5000 });
    expect(worker.stdout.map((line) => JSON.parse(line))).toEqual([1, 2, 3].map((n) => ({ requestId: `J${n}`, message: `job ${n} started`, level: "INFO" })));
    expect(worker.stderr.map((line) => JSON.parse(line))).toEqual([2, 3, 1].map((n) => ({ requestId: `J${n}`, message: `job ${n} done`, level: "WARN" })));
  });

  it("names the job in the log lines of a handler that runs one job at a time, and not in lines outside a job", async () => {
    const handler = join(scratchDir(), "one-at-a-time.mjs");
    writeFileSync(handler, `console.log("loading");
      export default async (job) => { await new Promise((resolve) => setTimeout(resolve, 10)); console.warn("working on", job.input); return 1; };`);
    const worker = await startWorker(handler, [{ id: "J1", input: 7 }]);
    await results(worker, ["J1"]);
    await vi.waitFor(() => expect(worker.stderr).toHaveLength(1), { timeout: 5000 });
    expect(worker.stdout).toEqual(["loading"]);
    expect(JSON.parse(worker.stderr[0] as string)).toEqual({ requestId: "J1", message: "working on 7", level: "WARN" });
  });

  it("aborts a stopped job's signal, posts nothing for it, and frees its slot for the next job", async () => {
    const worker = await startWorker(fixture("slow/handler.js"), [{ id: "J1", input: { ms: 60_000 } }]);
    // The ping (every second here) names the jobs held.
    await worker.platform.until("a ping holding J1", (rs) => rs.some((r) => r.route === "ping" && r.query.job_id === "J1"));
    worker.platform.stopJobs(["J1"]);
    await worker.platform.until("a second take", (rs) => rs.filter(isTake).length >= 2);
    expect(worker.platform.requests.filter(isTake)[1].query.job_in_progress).toBe("0");
    worker.platform.enqueue({ id: "J2", input: { ms: 10 } });
    expect((await results(worker, ["J2"])).J2.body).toBe('{"output":{"slept":10}}');
    expect(worker.platform.requests.filter((r) => r.path.endsWith("/J1"))).toEqual([]);
  });
});

describe("Node bootstrap: the emulator's job-done-batch", () => {
  const startWorkerWithResults = (handler: string, jobs: Job[]) =>
    startWorker(handler, jobs, 500, (base) => ({ RUNPOD_EMULATOR_POST_RESULTS: `${base}/job-done-batch/$RUNPOD_POD_ID?gpu=LOCAL&token=${SECRET}` }));

  it("posts each result with the next take, in one request, and no job-done", async () => {
    const worker = await startWorkerWithResults(fixture("echo/handler.js"), [
      { id: "J1", input: 1 },
      { id: "J2", input: 2 },
    ]);
    await worker.platform.until("J2's result", (rs) => rs.some((r) => r.route === "job-done-batch" && r.query.id === "J2"));
    const sent = worker.platform.requests.filter((r) => r.route !== "ping" && r.route !== "job-stop");
    expect(sent.slice(0, 3).map((r) => [r.method, r.route, r.query.id, r.query.batch_size, r.query.job_in_progress, r.body])).toEqual([
      ["GET", "job-take", undefined, undefined, "0", ""],
      ["POST", "job-done-batch", "J1", "1", "0", "{\"output\":1}"],
      ["POST", "job-done-batch", "J2", "1", "0", "{\"output\":2}"],
    ]);
    expect(sent.filter((r) => r.route === "job-done")).toEqual([]);
  });

  it("posts the results of jobs that end in the same turn together, as an array", async () => {
    // Three jobs at once, all answered when the third arrives.
    const handler = join(scratchDir(), "together.mjs");
    writeFileSync(handler, `export const config = { concurrency: 3 };
      let open; const all = new Promise((resolve) => (open = resolve)); let n = 0;
      export default async (job) => { if (++n === 3) open(); await all; return job.input; };`);
    const worker = await startWorkerWithResults(handler, [1, 2, 3].map((n) => ({ id: `J${n}`, input: n })));
    const post = await worker.platform.waitFor("the results", (r) => r.route === "job-done-batch");
    expect(new URLSearchParams(post.search).getAll("id")).toEqual(["J1", "J2", "J3"]);
    expect(post.json).toEqual([{ output: 1 }, { output: 2 }, { output: 3 }]);
    // Nothing was left to take, so the take it carried asked for all three slots.
    expect(post.query).toMatchObject({ batch_size: "3", job_in_progress: "0" });
    expect(worker.platform.requests.filter((r) => r.route === "job-done")).toEqual([]);
  });
});

describe("Node bootstrap: process life", () => {
  it("on SIGTERM finishes the running job, posts its result, takes nothing more and exits 0", async () => {
    const worker = await startWorker(fixture("slow/handler.js"), [
      { id: "J1", input: { ms: 300 } },
      { id: "J2", input: { ms: 10 } },
    ]);
    await worker.platform.until("a take", (rs) => rs.some(isTake));
    process.kill(-(worker.child.pid as number), "SIGTERM");
    expect(await exitWithin(worker, 5000)).toEqual({ code: 0, signal: null });
    expect(postsFor(worker.platform.requests, "job-done", "J1").map((r) => r.body)).toEqual(['{"output":{"slept":300}}']);
    expect(worker.platform.requests.filter(isTake)).toHaveLength(1);
  });

  it("on SIGTERM while idle gives up its held take and stop poll and exits 0 at once", async () => {
    const worker = await startWorker(fixture("echo/handler.js"), [], 30_000);
    await worker.platform.until("a take and a job-stop poll", (rs) => rs.some(isTake) && rs.some((r) => r.route === "job-stop"));
    process.kill(-(worker.child.pid as number), "SIGTERM");
    expect(await exitWithin(worker, 3000)).toEqual({ code: 0, signal: null });
  });

  it("exits 1 with the import error's stack, before any request, when the module cannot be loaded", async () => {
    const worker = await startWorker(fixture("import-error/handler.mjs"));
    expect(await exitWithin(worker, 5000)).toEqual({ code: 1, signal: null });
    const stderr = worker.stderr.join("\n");
    expect(stderr).toMatch(/could not import the handler .*import-error\/handler\.mjs/);
    expect(stderr).toMatch(/Error: this handler cannot be loaded\n\s+at .*handler\.mjs/);
    expect(worker.platform.requests).toEqual([]);
  });

  it("exits 1 when the module exports no function", async () => {
    const dir = scratchDir();
    writeFileSync(join(dir, "handler.mjs"), "export const handler = 42;\n");
    const worker = await startWorker(join(dir, "handler.mjs"));
    expect(await exitWithin(worker, 5000)).toEqual({ code: 1, signal: null });
    expect(worker.stderr.join("\n")).toMatch(/exports no handler function/);
    expect(worker.platform.requests).toEqual([]);
  });

  it("takes its whole process group down when the emulator's end of fd 3 closes", async () => {
    // A handler that leaves a child of its own in the group, like a server it started at import.
    const dir = scratchDir();
    writeFileSync(
      join(dir, "handler.mjs"),
      'import { spawn } from "node:child_process";\nspawn("sleep", ["60"], { stdio: "ignore" });\nexport default (job) => job.input;\n',
    );
    const worker = await startWorker(join(dir, "handler.mjs"));
    await worker.platform.until("a take", (rs) => rs.some(isTake));
    const pgid = worker.child.pid as number;
    expect(groupMembers(pgid).length).toBe(2);
    (worker.child.stdio[3] as Socket).destroy();
    expect(await exitWithin(worker, 5000)).toEqual({ code: null, signal: "SIGKILL" });
    await vi.waitFor(() => expect(groupMembers(pgid)).toEqual([]), { timeout: 5000 });
  });
});
