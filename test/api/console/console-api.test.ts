import { appendFileSync, cpSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunningEmulator } from "../../../src/internal.js";
import { call, fixture, nextEvent, runToEnd, startEmulator } from "../../helpers/emulator.js";
import { scratchDir } from "../../helpers/scratch.js";

/** A GET of the console's API (or any path) on the emulator, over real HTTP. */
async function consoleGet(emu: RunningEmulator, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(new URL(path, emu.consoleUrl), { headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: response.headers.get("content-type")?.includes("json") ? JSON.parse(text) : undefined };
}

describe("the console's JSON API", () => {
  it("describes each endpoint: kind, handler, queue, workers by state, job counts and recent timings", async () => {
    const emu = await startEmulator({ mock: true });
    await runToEnd(emu, { done: 1 });
    await runToEnd(emu, { mock: { raise: "boom" } });
    const { status, body } = await consoleGet(emu, "/console/api/endpoints");
    expect(status).toBe(200);
    expect(body.endpoints).toHaveLength(1);
    const [endpoint] = body.endpoints;
    expect(endpoint).toMatchObject({ id: "local", kind: "queue", handler: "the mock handler", queue: { inQueue: 0, inProgress: 0 }, jobs: { completed: 1, failed: 1 }, problems: [] });
    expect(endpoint.workers.idle + endpoint.workers.running).toBe(1);
    expect(endpoint.timings).toHaveLength(2);
    expect(endpoint.timings[0]).toEqual({ finishedAt: expect.any(Number), delayTime: expect.any(Number), executionTime: expect.any(Number) });
  });

  it("describes every endpoint of a config, queue and load-balancing, each with its own jobs, and their workers", async () => {
    const server = `${JSON.stringify(process.execPath)} ${fixture("node/lb-server/server.mjs")}`;
    const emu = await startEmulator({
      endpoints: [
        { id: "queue-a", handler: "mock" },
        { id: "api", type: "load-balancing", command: server, minWorkers: 1, env: { MODEL_LOAD_SECONDS: "0" } },
      ],
    });
    const done = await runToEnd(emu, { n: 1 });
    // The load-balancing worker may have become ready before any listener could hear it: its count is read until it is.
    await expect.poll(async () => (await consoleGet(emu, "/console/api/endpoints")).body.endpoints[1].workers.idle, { timeout: 20_000 }).toBe(1);
    const { body } = await consoleGet(emu, "/console/api/endpoints");
    expect(body.endpoints.map((e: { id: string; kind: string }) => [e.id, e.kind])).toEqual([["queue-a", "queue"], ["api", "load-balancing"]]);
    expect(body.endpoints[1]).toMatchObject({ handler: server, requests: { completed: 0, waiting: 0 }, workers: { idle: 1 } });
    expect((await consoleGet(emu, "/console/api/jobs?endpoint=queue-a")).body.jobs.map((j: { id: string }) => j.id)).toEqual([done.id]);
    const workers = (await consoleGet(emu, "/console/api/workers")).body.workers.map((w: { endpointId: string }) => w.endpointId);
    expect(workers).toEqual(expect.arrayContaining(["queue-a", "api"]));
  });

  it("lists jobs newest first a page at a time, and filters them by status, endpoint and text", async () => {
    const emu = await startEmulator({ mock: true });
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push((await runToEnd(emu, n === 2 ? { mock: { raise: "no" } } : { n, tag: n === 3 ? "findme" : "other" })).id);
    const first = await consoleGet(emu, "/console/api/jobs?limit=2");
    expect(first.body.jobs.map((job: { id: string }) => job.id)).toEqual([ids[4], ids[3]]);
    expect(first.body.jobs[0]).toMatchObject({ endpointId: "local", kind: "run", status: "COMPLETED", workerId: expect.any(String), delayTime: expect.any(Number), executionTime: expect.any(Number), createdAt: expect.any(Number) });
    const second = await consoleGet(emu, `/console/api/jobs?limit=2&before=${first.body.next}`);
    const third = await consoleGet(emu, `/console/api/jobs?limit=2&before=${second.body.next}`);
    expect([...second.body.jobs, ...third.body.jobs].map((job: { id: string }) => job.id)).toEqual([ids[2], ids[1], ids[0]]);
    expect(third.body.next).toBeNull();
    expect((await consoleGet(emu, "/console/api/jobs?status=FAILED")).body.jobs.map((job: { id: string }) => job.id)).toEqual([ids[2]]);
    expect((await consoleGet(emu, "/console/api/jobs?q=findme")).body.jobs.map((job: { id: string }) => job.id)).toEqual([ids[3]]);
    expect((await consoleGet(emu, `/console/api/jobs?q=${ids[1]?.slice(0, 12)}`)).body.jobs.map((job: { id: string }) => job.id)).toEqual([ids[1]]);
    expect((await consoleGet(emu, "/console/api/jobs?endpoint=other")).body.jobs).toEqual([]);
  });

  it("refuses a filter it cannot read with one sentence naming it", async () => {
    const emu = await startEmulator({ mock: true });
    expect(await consoleGet(emu, "/console/api/jobs?status=RUNNING")).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^status must be one of IN_QUEUE, .*got "RUNNING"$/) } });
    expect(await consoleGet(emu, "/console/api/jobs?before=-3")).toMatchObject({ status: 400, body: { error: 'query parameter "before" must be a whole number, got "-3"' } });
    expect(await consoleGet(emu, "/console/api/jobs/nope")).toMatchObject({ status: 404, body: { error: 'no job "nope" in the history' } });
  });

  it("gives a failed Python job's whole record: the exception read apart, traceback lines, logs with times, no s3Config", async () => {
    const emu = await startEmulator({ handler: fixture("python/error/handler.py") });
    const failed = await runToEnd(emu, { value: "x" }, { s3Config: { accessId: "secret" } });
    expect(failed.status).toBe("FAILED");
    const { body } = await consoleGet(emu, `/console/api/jobs/${failed.id}`);
    expect(body.exception).toMatchObject({ type: "ValueError", message: expect.stringContaining("invalid literal for int()") });
    expect(body.exception.traceback.join("\n")).toMatch(/Traceback[\s\S]*in parse[\s\S]*ValueError/);
    expect(body.job).toMatchObject({ id: failed.id, status: "FAILED", input: { value: "x" }, handlerVersion: expect.any(String), workerId: failed.workerId });
    expect(body.job).not.toHaveProperty("s3Config");
    expect(JSON.stringify(body)).not.toContain("secret");
    expect(body.logs.map((line: { message: string }) => line.message).join("\n")).toContain(`plain print for ${failed.id}`);
    expect(body.logs[0]).toMatchObject({ at: expect.any(Number), workerId: failed.workerId });
    expect(body).toMatchObject({ expired: false, known: true, chunks: [], webhooks: [] });
  });

  it("gives a streamed job's chunks in order", async () => {
    const emu = await startEmulator({ mock: true });
    const done = await runToEnd(emu, { mock: { stream: ["a", { b: 2 }, 3] } });
    expect((await consoleGet(emu, `/console/api/jobs/${done.id}`)).body.chunks).toEqual(["a", { b: 2 }, 3]);
  });

  it("lists workers with state, since, cold start, jobs done, handler version, and their processes' CPU and memory", async () => {
    const emu = await startEmulator({ handler: fixture("python/echo/handler.py") });
    const done = await runToEnd(emu, { hi: 1 });
    const { body } = await consoleGet(emu, "/console/api/workers");
    expect(body.workers).toHaveLength(1);
    const [worker] = body.workers;
    expect(worker).toMatchObject({ endpointId: "local", id: done.workerId, state: "idle", since: expect.any(Number), coldStartMs: expect.any(Number), jobsDone: 1, jobs: [], current: true, pid: expect.any(Number) });
    expect(worker.handlerVersion).toEqual(expect.any(String));
    if (process.platform === "linux") {
      expect(worker.usage.rssBytes).toBeGreaterThan(1_000_000);
      expect(worker.usage.cpuSeconds).toBeGreaterThan(0);
      // The share needs two readings.
      expect(worker.usage.cpuPercent).toBeUndefined();
      const again = await consoleGet(emu, "/console/api/workers");
      expect(again.body.workers[0].usage.cpuPercent).toEqual(expect.any(Number));
    }
  });

  it("asks for the client API key when one is set; the page and its files load without it", async () => {
    const emu = await startEmulator({ mock: true, apiKey: "sesame" });
    expect(await consoleGet(emu, "/console/api/endpoints")).toMatchObject({ status: 401, body: { error: expect.stringContaining("missing API key") } });
    expect((await consoleGet(emu, "/console/api/jobs", { Authorization: "Bearer wrong" })).status).toBe(401);
    expect((await consoleGet(emu, "/console/api/jobs", { Authorization: "Bearer sesame" })).status).toBe(200);
    expect((await consoleGet(emu, "/")).status).toBe(200);
    expect((await consoleGet(emu, "/console/main.js")).status).toBe(200);
  });
});

describe("the console's page", () => {
  it("is served at / with its own files and the chart library, from this emulator only, beside the API", async () => {
    const emu = await startEmulator({ mock: true });
    const page = await consoleGet(emu, "/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const references = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string).filter((ref) => !ref.startsWith("#") && !ref.startsWith("data:"));
    expect(references).toEqual(expect.arrayContaining(["/console/vendor/uplot.js", "/console/vendor/uplot.css", "/console/console.css", "/console/main.js"]));
    for (const reference of references) {
      const asset = await consoleGet(emu, reference);
      expect(asset.status, reference).toBe(200);
      expect(asset.headers.get("content-type"), reference).toMatch(/^text\/(javascript|css)/);
    }
    // Every module the page imports is served too.
    const modules = new Set<string>(["main.js"]);
    for (const name of modules) {
      const source = (await consoleGet(emu, `/console/${name}`)).text;
      for (const match of source.matchAll(/from "\.\/([\w-]+\.js)"/g)) modules.add(match[1] as string);
    }
    for (const name of modules) expect((await consoleGet(emu, `/console/${name}`)).status, name).toBe(200);
    expect(modules.size).toBeGreaterThan(5);
    expect(await consoleGet(emu, "/console/missing.js")).toMatchObject({ status: 404, body: { error: "no route /console/missing.js; the console is at /" } });
    expect(await call(emu, "GET", "/health")).toMatchObject({ status: 200 });
    expect(await consoleGet(emu, "/elsewhere")).toMatchObject({ status: 404 });
  });
});

describe("the console's word on workers that cannot serve", () => {
  it("names why the endpoint's workers are unhealthy: a handler that fails at import shows its error", async () => {
    const emu = await startEmulator({ handler: fixture("python/import_error/handler.py") });
    await call(emu, "POST", "/run", { input: {} });
    await nextEvent(emu, (event) => event.type === "worker" && event.state === "unhealthy");
    const { body } = await consoleGet(emu, "/console/api/endpoints");
    const [endpoint] = body.endpoints;
    expect(endpoint.workers.unhealthy).toBeGreaterThan(0);
    expect(endpoint.problems[0]).toMatchObject({ state: "unhealthy", detail: expect.stringMatching(/ModuleNotFoundError|No module named/) });
  });

  it("shows a worker outdated by a save as finishing on the previous code, with its version", async () => {
    const handler = join(scratchDir(), "handler.py");
    cpSync(fixture("python/slow_async/handler.py"), handler);
    const emu = await startEmulator({ handler, watch: true, reloadDebounce: 50 });
    const { body: job } = await call(emu, "POST", "/run", { input: { seconds: 30 } });
    await nextEvent(emu, (event) => event.type === "status" && event.job.id === job.id && event.job.status === "IN_PROGRESS");
    const outdated = nextEvent(emu, (event) => event.type === "worker" && event.state === "outdated");
    appendFileSync(handler, "\n# saved again\n");
    await outdated;
    const { body } = await consoleGet(emu, "/console/api/workers");
    const worker = body.workers.find((w: { jobs: string[] }) => w.jobs.includes(job.id));
    expect(worker).toMatchObject({ state: "outdated", current: false, detail: expect.stringContaining("previous code") });
    await call(emu, "POST", `/cancel/${job.id}`);
  });
});
