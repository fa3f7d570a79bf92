import { describe, expect, it } from "vitest";
import { call, fixture, nextEvent, runToEnd, startEmulator } from "../helpers/emulator.js";

const node = (path: string) => fixture(`node/${path}`);

describe("Node handlers", () => {
  it("runs a sync handler exported by name, keeping its console output with the job", async () => {
    const emu = await startEmulator({ handler: node("sync/handler.js") });
    const job = await runToEnd(emu, { n: 21 });
    expect(job).toMatchObject({ status: "COMPLETED", output: { doubled: 42 } });
    expect(emu.history(job.id)?.logs.map((l) => [l.level, l.message])).toEqual([["INFO", "doubling 21"]]);
  });

  it("streams an async generator's chunks, and aggregates a sync generator's with returnAggregateStream", async () => {
    const emu = await startEmulator({ handler: node("generator/handler.js") });
    const job = await runToEnd(emu, { count: 3, delay_ms: 10 });
    expect(job).toMatchObject({ status: "COMPLETED", output: [] });
    expect((await call(emu, "GET", `/stream/${job.id}`)).body.stream).toEqual([{ output: { token: 0 } }, { output: { token: 1 } }, { output: { token: 2 } }]);
    const sync = await startEmulator({ handler: node("sync-generator/handler.mjs") });
    expect((await runToEnd(sync, {})).output).toEqual(["one", "two", "three"]);
  });

  it("keeps pinging from its own thread while a synchronous handler holds the event loop", async () => {
    // 4 s of busy computation against a 2 s ping timeout: pings sent from the event loop would stop.
    const emu = await startEmulator({ handler: node("busy-loop/handler.js"), pingInterval: 1000, pingTimeout: 2000 });
    const unhealthy: string[] = [];
    emu.on("worker", (event) => event.state === "unhealthy" && unhealthy.push(event.detail ?? ""));
    const job = await runToEnd(emu, { ms: 4000 });
    expect(job).toMatchObject({ status: "COMPLETED", output: { spun: true } });
    expect(job.retries).toBeUndefined();
    expect(unhealthy).toEqual([]);
  });

  it("fails at once a job whose result is over what a worker may post, naming its size and the limit; the worker goes on", async () => {
    const emu = await startEmulator({ handler: node("large-result/handler.mjs"), executionTimeout: 60_000 }, { workerBodyLimit: 1_000_000 });
    const started = Date.now();
    const job = await runToEnd(emu, { bytes: 2_000_000 });
    expect(job).toMatchObject({ status: "FAILED", error: "the job's result of 2.000013 MB exceeds the 1 MB limit of what a worker may post" });
    // Well before the execution timeout, which is what a refused result used to wait for.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await runToEnd(emu, { echo: "next" })).toMatchObject({ status: "COMPLETED", output: "next" });
    expect(emu.endpoint.health().workers).toMatchObject({ unhealthy: 0 });
  });

  it("fails a throwing handler with the error's name, message and stack", async () => {
    const emu = await startEmulator({ handler: node("error/handler.js") });
    const job = await runToEnd(emu, { a: 1 });
    expect(job.status).toBe("FAILED");
    const error = JSON.parse(job.error);
    expect(error).toMatchObject({ error_type: "Error", error_message: 'something broke: {"a":1}' });
    expect(error.error_traceback).toMatch(/^Error: something broke[\s\S]*at handler \(.*fixtures\/node\/error\/handler\.js/);
  });

  it("shows context.progress as the IN_PROGRESS job's output", async () => {
    const emu = await startEmulator({ handler: node("progress/handler.mjs") });
    const { body: run } = await call(emu, "POST", "/run", { input: { step_ms: 800 } });
    await nextEvent(emu, (e) => e.type === "progress" && e.jobId === run.id);
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "IN_PROGRESS", output: "step 1/2" });
    expect((await call(emu, "GET", `/status-sync/${run.id}?wait=20000`)).body).toMatchObject({ status: "COMPLETED", output: { done: true } });
  });

  it("aborts context.signal on cancel, so the handler stops at once", async () => {
    const emu = await startEmulator({ handler: node("slow/handler.js"), maxWorkers: 1 });
    const { body: run } = await call(emu, "POST", "/run", { input: { ms: 60_000 } });
    await nextEvent(emu, (e) => e.type === "status" && e.job.id === run.id && e.job.status === "IN_PROGRESS");
    await call(emu, "POST", `/cancel/${run.id}`);
    // The same worker is free for the next job well before the cancelled one would have ended.
    const next = await runToEnd(emu, { ms: 10 });
    expect(next).toMatchObject({ status: "COMPLETED", output: { slept: 10 }, workerId: (await call(emu, "GET", `/status/${run.id}`)).body.workerId });
  });

  it("loads CommonJS and TypeScript modules, and honours config.concurrency", async () => {
    const cjs = await startEmulator({ handler: node("commonjs/handler.cjs") });
    expect((await runToEnd(cjs, 7)).output).toEqual({ commonjs: true, input: 7 });
    const ts = await startEmulator({ handler: node("typescript/handler.ts") });
    expect(ts.runtime.description).toMatch(/with tsx/);
    expect((await runToEnd(ts, { name: "ts" })).output).toEqual({ greeting: "hello ts" });
    const concurrent = await startEmulator({ handler: node("concurrent/handler.mjs"), maxWorkers: 1 });
    const ids = [];
    for (const n of [1, 2, 3]) ids.push((await call(concurrent, "POST", "/run", { input: { n, ms: 1000 } })).body.id);
    for (const id of ids) await call(concurrent, "GET", `/status-sync/${id}?wait=20000`);
    const jobs = ids.map((id) => concurrent.history(id)!.job);
    expect(new Set(jobs.map((j) => j.workerId)).size).toBe(1);
    expect(Math.max(...jobs.map((j) => j.takenAt!))).toBeLessThan(Math.min(...jobs.map((j) => j.finishedAt!)));
  });

  it("marks a module that fails at import unhealthy, with its error, before any job-take", async () => {
    const emu = await startEmulator({ handler: node("import-error/handler.mjs") });
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    const unhealthy = await nextEvent(emu, (e) => e.type === "worker" && e.state === "unhealthy");
    expect(unhealthy.type === "worker" && unhealthy.detail).toMatch(/exited with code 1[\s\S]*this handler cannot be loaded/);
    expect((await call(emu, "GET", `/status/${run.id}`)).body.status).toBe("IN_QUEUE");
  });
});
