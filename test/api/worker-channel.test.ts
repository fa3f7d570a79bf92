import { describe, expect, it } from "vitest";
import { call } from "../helpers/emulator.js";
import { channelPath, emulatorWithRawWorker, frame, handshake, handshakeAnswer, openChannel, raw, tick, waitFor } from "../helpers/worker-channel.js";

/** A take carrying `results` ([id, job-done text] pairs). */
function take(free: number, results: [string, string][] = []) {
  return [{ op: "take", free, busy: false, ids: results.map(([id]) => id), sizes: results.map(([, text]) => Buffer.byteLength(text)) }, results.map(([, text]) => text).join("")] as const;
}

describe("the worker channel", () => {
  it("hands queued jobs to a take, and takes their results with the next one", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: first } = await call(emu, "POST", "/run", { input: { n: 1 }, webhook: "http://127.0.0.1:9/hook" });
    const { body: second } = await call(emu, "POST", "/run", { input: { n: 2 } });
    const channel = await openChannel(emu);
    expect(await channel.request(...take(8))).toEqual({
      jobs: [
        { id: first.id, input: { n: 1 }, webhook: "http://127.0.0.1:9/hook" },
        { id: second.id, input: { n: 2 } },
      ],
    });
    const results: [string, string][] = [
      [first.id, JSON.stringify({ output: { echo: "é" } })],
      [second.id, JSON.stringify({ error: "it broke" })],
    ];
    // Nothing more is queued: the take is held, then answered with none.
    expect(await channel.request(...take(8, results))).toEqual({ jobs: [] });
    expect((await call(emu, "GET", `/status/${first.id}`)).body).toMatchObject({ status: "COMPLETED", output: { echo: "é" }, workerId: "wraw" });
    expect((await call(emu, "GET", `/status/${second.id}`)).body).toMatchObject({ status: "FAILED", error: "it broke" });
  });

  it("keeps a job queued when the worker hangs up on its held take, and closes its end", async () => {
    // Held longer than the waits below: the take must end because the connection did.
    const emu = await emulatorWithRawWorker({ pollHold: 60_000 });
    const channel = await openChannel(emu);
    channel.socket.write(frame(...take(1)));
    await waitFor(() => emu.endpoint.worker("wraw")?.take !== undefined);
    channel.socket.end();
    await channel.closed;
    await waitFor(() => emu.endpoint.worker("wraw")?.take === undefined);
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    expect((await call(emu, "GET", `/status/${run.id}`)).body.status).toBe("IN_QUEUE");
    const again = await openChannel(emu);
    expect((await again.request(...take(1))).jobs).toEqual([{ id: run.id, input: 1 }]);
  });

  it("records progress updates, stream chunks and a result posted by themselves", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    const channel = await openChannel(emu);
    await channel.request(...take(1));
    expect(await channel.request({ op: "done", id: run.id }, JSON.stringify({ status: "IN_PROGRESS", output: "half" }))).toEqual({});
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "IN_PROGRESS", output: "half" });
    expect(await channel.request({ op: "stream", id: run.id }, JSON.stringify({ output: "chunk" }))).toEqual({});
    expect(await channel.request({ op: "done", id: run.id }, JSON.stringify({ output: "all" }))).toEqual({});
    expect((await call(emu, "GET", `/stream/${run.id}`)).body).toMatchObject({ status: "COMPLETED", stream: [{ output: "chunk" }] });
  });

  it("fails a job whose result cannot be read, with why, and finishes the others of the same take", async () => {
    const emu = await emulatorWithRawWorker();
    const ids = [];
    for (const n of [1, 2]) ids.push((await call(emu, "POST", "/run", { input: n })).body.id);
    const channel = await openChannel(emu);
    await channel.request(...take(2));
    expect(await channel.request(...take(0, [[ids[0], "{not json"], [ids[1], '{"output":2}']]))).toEqual({});
    expect((await call(emu, "GET", `/status/${ids[0]}`)).body).toMatchObject({ status: "FAILED", error: expect.stringMatching(/^the handler's result is not valid JSON/) });
    expect((await call(emu, "GET", `/status/${ids[1]}`)).body).toMatchObject({ status: "COMPLETED", output: 2 });
  });

  it("answers a malformed request with a 400 that says why, failing the jobs it named, and keeps the connection", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    const channel = await openChannel(emu);
    await channel.request(...take(1));
    expect(await channel.request({ op: "take", free: 1, ids: [run.id], sizes: [5] }, '{"output":1}')).toEqual({
      error: "the results' sizes do not add up to the payload",
      status: 400,
    });
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "FAILED", error: "the results' sizes do not add up to the payload" });
    expect(await channel.request({ op: "fly" })).toEqual({ error: 'unknown op "fly": take, done or stream', status: 400 });
    expect(await channel.request({ op: "take", free: -1 })).toEqual({ error: "free must be a whole number of jobs", status: 400 });
  });

  it("fails a job whose result is over the limit without gathering it, and keeps the connection", async () => {
    const emu = await emulatorWithRawWorker({}, { workerBodyLimit: 1_000 });
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    const channel = await openChannel(emu);
    await channel.request(...take(1));
    const answer = await channel.request(...take(0, [[run.id, JSON.stringify({ output: "x".repeat(5_000) })]]));
    expect(answer).toEqual({ error: "a worker's request body may not exceed 0.001 MB", status: 413 });
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "FAILED", error: expect.stringContaining("exceeds the 0.001 MB limit") });
    expect(await channel.request({ op: "fly" })).toMatchObject({ status: 400 });
  });

  it("closes a connection that sends what is not a frame, or a request before the last one's answer, and serves on", async () => {
    const emu = await emulatorWithRawWorker();
    const garbage = await openChannel(emu);
    garbage.socket.write(Buffer.concat([Buffer.from([0, 0, 0, 3, 0, 0, 0, 0]), Buffer.from("{{{")]));
    await garbage.closed;
    const huge = await openChannel(emu);
    huge.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]));
    await huge.closed;
    const eager = await openChannel(emu);
    eager.socket.write(Buffer.concat([frame(...take(1)), frame(...take(1))]));
    await eager.closed;
    expect((await call(emu, "GET", "/health")).status).toBe(200);
  });

  it("refuses a wrong token, an unknown worker or endpoint, and another path, in the handshake", async () => {
    const emu = await emulatorWithRawWorker();
    const refusal = async (path: string) => {
      const { status, rest } = await handshakeAnswer(raw(emu, handshake(path)));
      return { status, body: rest.toString() };
    };
    expect(await refusal(channelPath(emu, "wraw", "nope"))).toEqual({ status: 401, body: JSON.stringify({ error: 'unknown worker "wraw" or wrong token' }) });
    expect((await refusal(channelPath(emu, "ghost"))).status).toBe(401);
    expect(await refusal(channelPath(emu).replace("job-channel", "job-take"))).toMatchObject({ status: 404, body: expect.stringContaining("no worker channel at") });
    expect(await refusal("/v2/elsewhere/job-channel/wraw?token=s3cret")).toEqual({
      status: 404,
      body: JSON.stringify({ error: 'no endpoint "elsewhere"; this emulator serves "local"' }),
    });
  });

  it("finishes a result posted by itself as the HTTP route does: one that cannot be read fails its job, with why", async () => {
    const emu = await emulatorWithRawWorker();
    const deep = `{"output": ${"[".repeat(600)}${"]".repeat(600)}}`;
    const cases = [
      { body: "{not json", answer: { status: 400, error: expect.stringMatching(/^the handler's result is not valid JSON/) }, job: { status: "FAILED", error: expect.stringMatching(/^the handler's result is not valid JSON/) } },
      { body: "[1]", answer: { status: 400, error: "the handler's result must be a JSON object" }, job: { status: "FAILED", error: "the handler's result must be a JSON object" } },
      // As the HTTP route: failed, and answered as taken, since the worker could do nothing else with it.
      { body: deep, answer: {}, job: { status: "FAILED", error: "the handler's result nests arrays and objects deeper than 512 levels" } },
      { body: "", answer: {}, job: { status: "COMPLETED" } },
    ];
    const channel = await openChannel(emu);
    for (const { body, answer, job } of cases) {
      const { body: run } = await call(emu, "POST", "/run", { input: 1 });
      await channel.request(...take(1));
      expect(await channel.request({ op: "done", id: run.id }, body)).toEqual(answer);
      expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject(job);
    }
  });

  it("warns of a stream chunk over 1 MB, as the HTTP route does", async () => {
    const emu = await emulatorWithRawWorker();
    const warnings: string[] = [];
    emu.events.on((event) => void (event.type === "warning" && warnings.push(event.message)));
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    const channel = await openChannel(emu);
    await channel.request(...take(1));
    expect(await channel.request({ op: "stream", id: run.id }, JSON.stringify({ output: "x".repeat(1_500_000) }))).toEqual({});
    expect(warnings).toEqual([`job ${run.id}: a stream chunk of 1.5 MB (over 1 MB) from worker wraw`]);
  });

  it("closes a connection whose frame does not arrive in full in time, stalled or trickled, and keeps one quiet between frames", async () => {
    const emu = await emulatorWithRawWorker({}, { channelFrameMs: 300 });
    const quiet = await openChannel(emu);
    expect(await quiet.request({ op: "fly" })).toMatchObject({ status: 400 });
    const stalled = await openChannel(emu);
    stalled.socket.write(frame({ op: "fly" }, "").subarray(0, 10));
    const trickled = await openChannel(emu);
    const bytes = frame({ op: "stream", id: "j" }, JSON.stringify({ output: "x".repeat(100) }));
    let sent = 0;
    const drip = setInterval(() => trickled.socket.write(bytes.subarray(sent, ++sent)), 50);
    await Promise.all([stalled.closed, trickled.closed]).finally(() => clearInterval(drip));
    expect(sent).toBeLessThan(bytes.length);
    // Quiet for longer than a frame may take, between two frames.
    await tick(400);
    expect(await quiet.request({ op: "fly" })).toMatchObject({ status: 400 });
  });
});
