import { request } from "node:http";
import { describe, expect, it } from "vitest";
import type { Emulator } from "../../src/index.js";
import { call, startEmulator } from "../helpers/emulator.js";

/**
 * These tests play the worker's part by hand, with raw HTTP shaped like the official Python SDK's
 * requests. The pool's own worker is kept out of the way by a long simulated cold start.
 */
async function emulatorWithRawWorker(options = {}) {
  const emu = await startEmulator({ mock: true, coldStart: 600_000, pollHold: 2_000, ...options });
  emu.endpoint.addWorker("wraw", "s3cret", emu.pool.handlerVersion);
  return emu;
}

function workerUrl(emu: Emulator, route: string, query = "", token = "s3cret"): string {
  return `${emu.url}/${route}?gpu=LOCAL&token=${token}${query}`;
}

/** A POST shaped like the SDK's job-done and job-stream: JSON text sent as a form. */
async function postLikeSdk(url: string, body: unknown): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", charset: "utf-8", Authorization: "some-other-key" },
    body: JSON.stringify(body),
  });
}

describe("the worker protocol", () => {
  it("hands a queued job to job-take and records a form-encoded job-done", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: { n: 1 }, webhook: "http://127.0.0.1:9/hook", s3Config: { bucket: "b" } });
    const take = await fetch(workerUrl(emu, "job-take/wraw", "&job_in_progress=0"), { headers: { "Content-Type": "application/json" } });
    expect(take.status).toBe(200);
    expect(take.headers.get("content-type")).toBe("application/json");
    expect(await take.json()).toEqual({ id: run.id, input: { n: 1 }, webhook: "http://127.0.0.1:9/hook", s3Config: { bucket: "b" } });
    const done = await postLikeSdk(workerUrl(emu, `job-done/wraw/${run.id}`, "&isStream=false"), { output: { echo: 1 } });
    expect(done.status).toBe(200);
    const status = await call(emu, "GET", `/status/${run.id}`);
    expect(status.body).toMatchObject({ status: "COMPLETED", output: { echo: 1 }, workerId: "wraw" });
    expect(JSON.stringify(status.body)).not.toContain("bucket");
  });

  it("answers job-take-batch with an array of up to batch_size jobs", async () => {
    const emu = await emulatorWithRawWorker();
    for (const n of [1, 2, 3]) await call(emu, "POST", "/run", { input: n });
    const take = await fetch(workerUrl(emu, "job-take-batch/wraw", "&batch_size=2&job_in_progress=0"));
    expect((await take.json()).map((job: { input: number }) => job.input)).toEqual([1, 2]);
  });

  it("answers job-take with 204 when nothing is queued within the hold", async () => {
    const emu = await emulatorWithRawWorker({ pollHold: 300 });
    const take = await fetch(workerUrl(emu, "job-take/wraw", "&job_in_progress=0"));
    expect(take.status).toBe(204);
    expect(await take.text()).toBe("");
  });

  it("keeps the job queued when the worker hangs up on its take", async () => {
    const emu = await emulatorWithRawWorker({ pollHold: 10_000 });
    const taking = request(workerUrl(emu, "job-take/wraw", "&job_in_progress=0"));
    taking.on("error", () => {});
    taking.end();
    // Once the take is held open, hang up, then queue a job: it must not go to the closed take.
    await new Promise<void>((resolve) => {
      const check = () => (emu.endpoint.worker("wraw")?.take ? resolve() : setTimeout(check, 5));
      check();
    });
    taking.destroy();
    await new Promise<void>((resolve) => {
      const check = () => (emu.endpoint.worker("wraw")?.take ? setTimeout(check, 5) : resolve());
      check();
    });
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    expect((await call(emu, "GET", `/status/${run.id}`)).body.status).toBe("IN_QUEUE");
    const take = await fetch(workerUrl(emu, "job-take/wraw", "&job_in_progress=0"));
    expect((await take.json()).id).toBe(run.id);
  });

  it("keeps progress updates while running and ignores one that arrives after the result", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    await fetch(workerUrl(emu, "job-take/wraw", "&job_in_progress=0"));
    await postLikeSdk(workerUrl(emu, `job-done/wraw/${run.id}`, "&isStream=false"), { status: "IN_PROGRESS", output: "step 1/2" });
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "IN_PROGRESS", output: "step 1/2" });
    await postLikeSdk(workerUrl(emu, `job-done/wraw/${run.id}`, "&isStream=false"), { output: "done" });
    const late = await postLikeSdk(workerUrl(emu, `job-done/wraw/${run.id}`, "&isStream=false"), { status: "IN_PROGRESS", output: "late" });
    expect(late.status).toBe(200);
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "COMPLETED", output: "done" });
  });

  it("records error results, {} results and stopPod", async () => {
    const emu = await emulatorWithRawWorker();
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push((await call(emu, "POST", "/run", { input: n })).body.id);
    await fetch(workerUrl(emu, "job-take-batch/wraw", "&batch_size=3&job_in_progress=0"));
    await postLikeSdk(workerUrl(emu, `job-done/wraw/${ids[0]}`, "&isStream=false"), { output: { x: 1 }, error: "bad" });
    await postLikeSdk(workerUrl(emu, `job-done/wraw/${ids[1]}`, "&isStream=false"), {});
    await postLikeSdk(workerUrl(emu, `job-done/wraw/${ids[2]}`, "&isStream=false"), { output: { y: 2 }, stopPod: true });
    expect((await call(emu, "GET", `/status/${ids[0]}`)).body).toMatchObject({ status: "FAILED", output: { x: 1 }, error: "bad" });
    const empty = (await call(emu, "GET", `/status/${ids[1]}`)).body;
    expect(empty.status).toBe("COMPLETED");
    expect("output" in empty).toBe(false);
    expect((await call(emu, "GET", `/status/${ids[2]}`)).body).toMatchObject({ status: "COMPLETED", output: { y: 2 } });
  });

  it("appends job-stream chunks in arrival order", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    await fetch(workerUrl(emu, "job-take/wraw", "&job_in_progress=0"));
    for (const chunk of ["part0", "part1", "part2"]) await postLikeSdk(workerUrl(emu, `job-stream/wraw/${run.id}`, "&isStream=false"), { output: chunk });
    await postLikeSdk(workerUrl(emu, `job-done/wraw/${run.id}`, "&isStream=true"), { output: [] });
    expect((await call(emu, "GET", `/stream/${run.id}`)).body).toEqual({ status: "COMPLETED", stream: [{ output: "part0" }, { output: "part1" }, { output: "part2" }] });
    expect((await call(emu, "GET", `/status/${run.id}`)).body.output).toEqual([]);
  });

  it("fails a job whose result nests too deep, and refuses a chunk that does or that is not UTF-8", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    await fetch(workerUrl(emu, "job-take/wraw", "&job_in_progress=0"));
    const deep = `{"output": ${"[".repeat(600)}${"]".repeat(600)}}`;
    const chunk = await fetch(workerUrl(emu, `job-stream/wraw/${run.id}`), { method: "POST", body: deep });
    expect(chunk.status).toBe(400);
    expect(await chunk.json()).toEqual({ error: "the stream chunk nests arrays and objects deeper than 512 levels" });
    const latin1 = await fetch(workerUrl(emu, `job-stream/wraw/${run.id}`), { method: "POST", body: Buffer.from('{"output": "caf\xe9"}', "latin1") });
    expect(await latin1.json()).toEqual({ error: "the stream chunk is not valid UTF-8; send JSON text encoded as UTF-8" });
    expect((await fetch(workerUrl(emu, `job-done/wraw/${run.id}`, "&isStream=false"), { method: "POST", body: deep })).status).toBe(200);
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "FAILED", error: "the handler's result nests arrays and objects deeper than 512 levels" });
  });

  it("fails at once a job whose result is not UTF-8 or not JSON, naming the problem, rather than leaving it to time out", async () => {
    const emu = await emulatorWithRawWorker();
    for (const [body, error] of [
      [Buffer.from('{"output": "caf\xe9"}', "latin1"), "the handler's result is not valid UTF-8; send JSON text encoded as UTF-8"],
      ['{"output": ', "the handler's result is not valid JSON: "],
      ["[1]", "the handler's result must be a JSON object"],
    ] as const) {
      const { body: run } = await call(emu, "POST", "/run", { input: 1 });
      await fetch(workerUrl(emu, "job-take/wraw", "&job_in_progress=0"));
      const answer = await fetch(workerUrl(emu, `job-done/wraw/${run.id}`, "&isStream=false"), { method: "POST", body });
      expect(answer.status).toBe(400);
      const status = (await call(emu, "GET", `/status/${run.id}`)).body;
      expect(status.status).toBe("FAILED");
      expect(status.error.startsWith(error)).toBe(true);
    }
  });

  it("delivers a cancel of a running job through job-stop, and ignores its late result", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    await fetch(workerUrl(emu, "job-take/wraw", "&job_in_progress=0"));
    const stop = fetch(workerUrl(emu, "job-stop/wraw"));
    await call(emu, "POST", `/cancel/${run.id}`);
    const answer = await stop;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ jobsToStop: [run.id] });
    await postLikeSdk(workerUrl(emu, `job-done/wraw/${run.id}`, "&isStream=false"), { output: "late" });
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toEqual({ id: run.id, status: "CANCELLED", delayTime: expect.any(Number), executionTime: expect.any(Number), workerId: "wraw" });
    expect((await fetch(workerUrl(emu, "job-stop/wraw"))).status).toBe(204);
  });

  it("keeps a stop for the next job-stop poll when none is open", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    await fetch(workerUrl(emu, "job-take/wraw", "&job_in_progress=0"));
    await call(emu, "POST", `/cancel/${run.id}`);
    const answer = await fetch(workerUrl(emu, "job-stop/wraw"));
    expect(await answer.json()).toEqual({ jobsToStop: [run.id] });
  });

  it("records pings and shows a worker's own unhealthy report", async () => {
    const emu = await emulatorWithRawWorker();
    expect((await fetch(workerUrl(emu, "ping/wraw", "&runpod_version=1.12.0"))).status).toBe(200);
    expect(emu.endpoint.worker("wraw")?.sdkVersion).toBe("1.12.0");
    await fetch(workerUrl(emu, "ping/wraw", "&status=unhealthy&check=gpu&reason=no+CUDA"));
    expect((await call(emu, "GET", "/health")).body.workers.unhealthy).toBe(1);
  });

  it("refuses a wrong token or an unknown worker with 401", async () => {
    const emu = await emulatorWithRawWorker();
    const wrong = await fetch(workerUrl(emu, "job-take/wraw", "&job_in_progress=0", "nope"));
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: 'unknown worker "wraw" or wrong token' });
    expect((await fetch(workerUrl(emu, "job-take/ghost", "&job_in_progress=0"))).status).toBe(401);
    expect((await fetch(`${emu.url}/job-take/wraw`)).status).toBe(401);
  });
});

describe("job-done-batch, the emulator's own runtimes' results", () => {
  const takeAll = async (emu: Emulator, n: number) => {
    const take = await fetch(workerUrl(emu, "job-take-batch/wraw", `&batch_size=${n}&job_in_progress=0`));
    return ((await take.json()) as { id: string }[]).map((job) => job.id);
  };

  it("finishes each job named by id from an array of job-done bodies, and answers {} at once without batch_size", async () => {
    const emu = await emulatorWithRawWorker();
    for (const n of [1, 2]) await call(emu, "POST", "/run", { input: n });
    const [a, b] = await takeAll(emu, 2);
    const done = await postLikeSdk(workerUrl(emu, "job-done-batch/wraw", `&id=${a}&id=${b}`), [{ output: "A" }, { error: "B failed" }]);
    expect([done.status, await done.json()]).toEqual([200, {}]);
    expect((await call(emu, "GET", `/status/${a}`)).body).toMatchObject({ status: "COMPLETED", output: "A" });
    expect((await call(emu, "GET", `/status/${b}`)).body).toMatchObject({ status: "FAILED", error: "B failed" });
  });

  it("takes the next jobs on the same request with batch_size, after finishing the results it carries", async () => {
    const emu = await emulatorWithRawWorker();
    for (const n of [1, 2, 3]) await call(emu, "POST", "/run", { input: n });
    const [first] = await takeAll(emu, 1);
    // One result, as its own job-done body; the take it carries holds until a job is queued.
    const posting = postLikeSdk(workerUrl(emu, "job-done-batch/wraw", `&id=${first}&batch_size=5&job_in_progress=0`), { output: 1 });
    const taken = await posting;
    expect(taken.status).toBe(200);
    expect(((await taken.json()) as { input: number }[]).map((job) => job.input)).toEqual([2, 3]);
    expect((await call(emu, "GET", `/status/${first}`)).body).toMatchObject({ status: "COMPLETED", output: 1 });
    // With nothing queued, the take is held until a job is.
    const held = postLikeSdk(workerUrl(emu, "job-done-batch/wraw", "&batch_size=1&job_in_progress=0"), []);
    await new Promise<void>((resolve) => {
      const check = () => (emu.endpoint.worker("wraw")?.take ? resolve() : setTimeout(check, 5));
      check();
    });
    const { body: later } = await call(emu, "POST", "/run", { input: 4 });
    expect(await (await held).json()).toEqual([{ id: later.id, input: 4 }]);
  });

  it("fails every job it names when the body is not one job-done body per id", async () => {
    const emu = await emulatorWithRawWorker();
    for (const n of [1, 2]) await call(emu, "POST", "/run", { input: n });
    const [a, b] = await takeAll(emu, 2);
    const done = await postLikeSdk(workerUrl(emu, "job-done-batch/wraw", `&id=${a}&id=${b}&batch_size=1`), [{ output: "only one" }]);
    expect(done.status).toBe(400);
    const error = "the handler's results must be a JSON array of one object per id";
    expect(await done.json()).toEqual({ error });
    for (const id of [a, b]) expect((await call(emu, "GET", `/status/${id}`)).body).toMatchObject({ status: "FAILED", error });
  });
});
