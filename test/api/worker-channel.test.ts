import { type Socket, connect } from "node:net";
import { describe, expect, it } from "vitest";
import { call, startEmulator } from "../helpers/emulator.js";

/**
 * The worker channel played by hand: a raw connection, its handshake, and frames written byte by byte
 * here (not with the emulator's own encoder). The pool's own worker is kept out of the way by a long
 * simulated cold start.
 */
async function emulatorWithRawWorker(options = {}, internals = {}) {
  const emu = await startEmulator({ mock: true, coldStart: 600_000, pollHold: 2_000, ...options }, internals);
  emu.endpoint.addWorker("wraw", "s3cret", emu.pool.handlerVersion);
  return emu;
}

function frame(header: unknown, payload = ""): Buffer {
  const head = Buffer.from(JSON.stringify(header));
  const body = Buffer.from(payload);
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32BE(head.length, 0);
  lengths.writeUInt32BE(body.length, 4);
  return Buffer.concat([lengths, head, body]);
}

interface Channel {
  socket: Socket;
  /** The handshake's answer: its status line and body. */
  handshake: { status: number; body: string };
  /** Writes raw bytes and reads the next answer frame's header. */
  send(bytes: Buffer): Promise<any>;
  request(header: unknown, payload?: string): Promise<any>;
  closed: Promise<void>;
}

async function openChannel(emu: { url: string }, path = "/job-channel/wraw?token=s3cret"): Promise<Channel> {
  const { port } = new URL(emu.url);
  const socket = connect({ host: "127.0.0.1", port: Number(port) });
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  let buffer = Buffer.alloc(0);
  let waiting: (() => void) | undefined;
  socket.on("data", (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    waiting?.();
  });
  const until = (ready: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (ready() ? resolve() : undefined);
      const timer = setTimeout(() => reject(new Error(`no answer; got ${JSON.stringify(buffer.toString())}`)), 10_000);
      waiting = () => ready() && (clearTimeout(timer), resolve());
      void closed.then(() => (clearTimeout(timer), ready() ? resolve() : reject(new Error("the connection closed"))));
      check();
    });
  socket.write(`GET ${new URL(emu.url).pathname}${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: runpod-emulator-worker-channel\r\n\r\n`);
  await until(() => buffer.includes("\r\n\r\n"));
  const end = buffer.indexOf("\r\n\r\n");
  const head = buffer.subarray(0, end).toString();
  const status = Number(head.slice(9, 12));
  if (status !== 101) await closed;
  const handshake = { status, body: buffer.subarray(end + 4).toString() };
  buffer = status === 101 ? buffer.subarray(end + 4) : Buffer.alloc(0);
  const send = async (bytes: Buffer) => {
    socket.write(bytes);
    const whole = () => buffer.length >= 8 && buffer.length >= 8 + buffer.readUInt32BE(0) + buffer.readUInt32BE(4);
    await until(whole);
    const size = buffer.readUInt32BE(0);
    const header = JSON.parse(buffer.subarray(8, 8 + size).toString());
    buffer = buffer.subarray(8 + size + buffer.readUInt32BE(4));
    return header;
  };
  return { socket, handshake, send, request: (header, payload) => send(frame(header, payload)), closed };
}

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
    expect(channel.handshake.status).toBe(101);
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
    expect(answer).toEqual({ error: expect.stringContaining("exceeds the 0.001 MB limit of what a worker may post"), status: 413 });
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
    expect((await openChannel(emu, "/job-channel/wraw?token=nope")).handshake).toEqual({ status: 401, body: JSON.stringify({ error: 'unknown worker "wraw" or wrong token' }) });
    expect((await openChannel(emu, "/job-channel/ghost?token=s3cret")).handshake.status).toBe(401);
    expect((await openChannel(emu, "/job-take/wraw?token=s3cret")).handshake).toMatchObject({ status: 404, body: expect.stringContaining("no worker channel at") });
    const { port } = new URL(emu.url);
    const other = await openChannel({ url: `http://127.0.0.1:${port}/v2/elsewhere` });
    expect(other.handshake).toEqual({ status: 404, body: JSON.stringify({ error: 'no endpoint "elsewhere"' }) });
  });
});

async function waitFor(ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
