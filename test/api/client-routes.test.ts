import { describe, expect, it } from "vitest";
import { call, nextEvent, runToEnd, startEmulator } from "../helpers/emulator.js";

/** A /run body of exactly `bytes` bytes. */
function bodyOfSize(bytes: number): string {
  const frame = '{"input":""}';
  return `{"input":"${"x".repeat(bytes - frame.length)}"}`;
}

describe("the client API", () => {
  it("queues with /run and reports the status object with /status (GET and POST)", async () => {
    const emu = await startEmulator({ mock: true });
    const run = await call(emu, "POST", "/run", { input: { hi: 1 } });
    expect(run.status).toBe(200);
    expect(run.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}-u1$/), status: "IN_QUEUE" });
    const done = await call(emu, "GET", `/status-sync/${run.body.id}?wait=20000`);
    expect(done.body).toEqual({
      id: run.body.id, status: "COMPLETED", output: { hi: 1 },
      delayTime: expect.any(Number), executionTime: expect.any(Number), workerId: expect.any(String),
    });
    for (const method of ["GET", "POST"]) expect((await call(emu, method, `/status/${run.body.id}`)).body).toEqual(done.body);
  });

  it("answers /runsync with the whole status object and a sync- id", async () => {
    const emu = await startEmulator({ mock: true });
    const { status, body } = await call(emu, "POST", "/runsync", { input: { hi: 1 } });
    expect(status).toBe(200);
    expect(body).toEqual({
      id: expect.stringMatching(/^sync-/), status: "COMPLETED", output: { hi: 1 },
      delayTime: expect.any(Number), executionTime: expect.any(Number), workerId: expect.any(String),
    });
  });

  it("answers /runsync with the pending state when ?wait runs out, and the job goes on", async () => {
    const emu = await startEmulator({ mock: true });
    const { body } = await call(emu, "POST", "/runsync?wait=1000", { input: { mock: { delay_ms: 2500, output: "late" } } });
    expect(["IN_QUEUE", "IN_PROGRESS"]).toContain(body.status);
    expect(body.output).toBeUndefined();
    const final = await call(emu, "GET", `/status-sync/${body.id}?wait=20000`);
    expect(final.body).toMatchObject({ status: "COMPLETED", output: "late" });
  });

  it("shortens a job's lifetime with /status?ttl", async () => {
    const emu = await startEmulator({ mock: true });
    const job = await runToEnd(emu, 1);
    expect((await call(emu, "GET", `/status/${job.id}?ttl=0`)).status).toBe(200);
    expect((await call(emu, "GET", `/status/${job.id}`)).status).toBe(404);
  });

  it("returns stream chunks once each with /stream, and [] after the end", async () => {
    const emu = await startEmulator({ mock: true });
    const job = await runToEnd(emu, { mock: { stream: ["a", "b", "c"] } });
    expect(job.status).toBe("COMPLETED");
    expect((await call(emu, "POST", `/stream/${job.id}`)).body).toEqual({ status: "COMPLETED", stream: [{ output: "a" }, { output: "b" }, { output: "c" }] });
    expect((await call(emu, "GET", `/stream/${job.id}`)).body).toEqual({ status: "COMPLETED", stream: [] });
  });

  it("cancels with an empty body sent as application/json, and leaves a finished job as it is", async () => {
    const emu = await startEmulator({ mock: true });
    const { body: run } = await call(emu, "POST", "/run", { input: { mock: { delay_ms: 20_000 } } });
    const response = await fetch(`${emu.url}/cancel/${run.id}`, { method: "POST", headers: { "Content-Type": "application/json" } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ id: run.id, status: "CANCELLED" });
    const finished = await runToEnd(emu, 1);
    expect((await call(emu, "POST", `/cancel/${finished.id}`)).body).toEqual({ id: finished.id, status: "COMPLETED" });
  });

  it("retries a FAILED job with the same id and refuses a COMPLETED one", async () => {
    const emu = await startEmulator({ mock: true });
    const failed = await runToEnd(emu, { mock: { error: "bad" } });
    expect(failed).toMatchObject({ status: "FAILED", error: "bad" });
    expect((await call(emu, "POST", `/retry/${failed.id}`)).body).toEqual({ id: failed.id, status: "IN_QUEUE" });
    const again = await call(emu, "GET", `/status-sync/${failed.id}?wait=20000`);
    expect(again.body).toMatchObject({ status: "FAILED", retries: 1 });
    const completed = await runToEnd(emu, 1);
    const refused = await call(emu, "POST", `/retry/${completed.id}`);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/is COMPLETED; only FAILED or TIMED_OUT jobs can be retried/);
    expect((await call(emu, "GET", "/health")).body.jobs.retried).toBe(1);
  });

  it("purges queued jobs but not running ones, and counts jobs in /health", async () => {
    const emu = await startEmulator({ mock: true, maxWorkers: 1 });
    const { body: running } = await call(emu, "POST", "/run", { input: { mock: { delay_ms: 1500 } } });
    await nextEvent(emu, (e) => e.type === "status" && e.job.id === running.id && e.job.status === "IN_PROGRESS");
    await call(emu, "POST", "/run", { input: 2 });
    await call(emu, "POST", "/run", { input: 3 });
    const purged = await call(emu, "POST", "/purge-queue");
    expect(purged.body).toEqual({ removed: 2, status: "completed" });
    expect((await call(emu, "GET", `/status-sync/${running.id}?wait=20000`)).body.status).toBe("COMPLETED");
    const health = await call(emu, "GET", "/health");
    expect(health.body).toEqual({
      jobs: { completed: 1, failed: 0, inProgress: 0, inQueue: 0, retried: 0 },
      workers: { idle: 1, initializing: 0, ready: 1, running: 0, throttled: 0, unhealthy: 0 },
      workerTypes: { active: 0, flex: 1, extra: 0 },
      workerMemory: expect.any(Object),
    });
  });

  it("refuses bodies over 10 MB on /run and 20 MB on /runsync with 413, creating no job; 15 MB on /runsync runs", async () => {
    const emu = await startEmulator({ mock: true });
    const run = await call(emu, "POST", "/run", bodyOfSize(10_000_001));
    expect(run).toMatchObject({ status: 413, body: { error: "request body of 10.000001 MB exceeds the 10 MB limit of /run" } });
    const runsync = await call(emu, "POST", "/runsync", bodyOfSize(20_000_001));
    expect(runsync).toMatchObject({ status: 413, body: { error: "request body of 20.000001 MB exceeds the 20 MB limit of /runsync" } });
    expect((await call(emu, "GET", "/health")).body.jobs).toMatchObject({ inQueue: 0, inProgress: 0, completed: 0 });
    const big = await call(emu, "POST", "/runsync", bodyOfSize(15_000_000));
    expect(big.status).toBe(200);
    expect(big.body.status).toBe("COMPLETED");
    expect(big.body.output.length).toBe(15_000_000 - 12);
  });

  it("refuses a chunked body over the limit as it arrives", async () => {
    const emu = await startEmulator({ mock: true, maxRunBody: 1000 });
    const chunks = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"input":"'));
        controller.enqueue(new TextEncoder().encode("x".repeat(2000)));
        controller.enqueue(new TextEncoder().encode('"}'));
        controller.close();
      },
    });
    const response = await fetch(`${emu.url}/run`, { method: "POST", body: chunks, duplex: "half" } as RequestInit);
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ error: "request body exceeds the 0.001 MB limit of /run" });
  });
});
