import { type Socket, connect } from "node:net";
import { expect } from "vitest";
import type { RunningEmulator } from "../../src/internal.js";
import { call, startEmulator } from "./emulator.js";

// The worker channel played by hand, for its tests: raw connections, handshakes, and frames written
// byte by byte here (not with the emulator's own encoder).

/**
 * An emulator with two workers registered by hand, "wraw" (token "s3cret") and "wother" ("other"); the
 * pool's own is kept out of the way by a long simulated cold start.
 */
export async function emulatorWithRawWorker(options = {}, internals = {}) {
  const emu = await startEmulator({ mock: true, coldStart: 600_000, pollHold: 2_000, ...options }, internals);
  emu.endpoint.addWorker("wraw", "s3cret", emu.pool.handlerVersion);
  emu.endpoint.addWorker("wother", "other", emu.pool.handlerVersion);
  return emu;
}

export function prefix(headerBytes: number, payloadBytes: number): Buffer {
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32BE(headerBytes, 0);
  lengths.writeUInt32BE(payloadBytes, 4);
  return lengths;
}

export function frame(header: unknown, payload: string | Buffer = ""): Buffer {
  const head = Buffer.from(JSON.stringify(header));
  const body = Buffer.from(payload);
  return Buffer.concat([prefix(head.length, body.length), head, body]);
}

/** A frame whose header is the raw text given (not necessarily JSON). */
export function rawFrame(headerText: string, payload = ""): Buffer {
  const head = Buffer.from(headerText);
  const body = Buffer.from(payload);
  return Buffer.concat([prefix(head.length, body.length), head, body]);
}

export function handshake(path: string, { method = "GET", extra = "" } = {}): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: runpod-emulator-worker-channel\r\n${extra}\r\n`;
}

export const channelPath = (emu: RunningEmulator, worker = "wraw", token = "s3cret") => `${new URL(emu.url).pathname}/job-channel/${worker}?token=${token}`;

export interface Raw {
  socket: Socket;
  /** Every byte received so far. */
  received: () => Buffer;
  closed: Promise<void>;
  /** Resolves once `ready` holds for the bytes received, rejects after 10 s or at close without it. */
  until(ready: (bytes: Buffer) => boolean, ms?: number): Promise<void>;
}

/** A raw connection to the emulator's port that writes `first` (a handshake, maybe more) at once. */
export function raw(emu: RunningEmulator, first: string | Buffer): Raw {
  const socket = connect({ host: "127.0.0.1", port: Number(new URL(emu.url).port) });
  socket.setNoDelay(true);
  socket.on("error", () => {});
  const pieces: Buffer[] = [];
  let buffer = Buffer.alloc(0);
  const waiters = new Set<() => void>();
  socket.on("data", (chunk: Buffer) => {
    pieces.push(chunk);
    buffer = Buffer.concat(pieces);
    for (const wake of waiters) wake();
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.write(first);
  const until = (ready: (bytes: Buffer) => boolean, ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (error) reject(error);
        else resolve();
      };
      const wake = () => ready(buffer) && done();
      const timer = setTimeout(() => done(new Error(`no answer within ${ms} ms; got ${JSON.stringify(buffer.toString("latin1").slice(0, 300))}`)), ms);
      waiters.add(wake);
      void closed.then(() => (ready(buffer) ? done() : done(new Error(`the connection closed; got ${JSON.stringify(buffer.toString("latin1").slice(0, 300))}`))));
      wake();
    });
  return { socket, received: () => buffer, closed, until };
}

export const headEnd = (bytes: Buffer) => bytes.indexOf("\r\n\r\n");

/** The status of the handshake's answer, and what came after its head. */
export async function handshakeAnswer(conn: Raw): Promise<{ status: number; rest: Buffer }> {
  await conn.until((bytes) => headEnd(bytes) >= 0);
  const bytes = conn.received();
  return { status: Number(bytes.subarray(9, 12).toString()), rest: bytes.subarray(headEnd(bytes) + 4) };
}

/** The answer frames' headers in `bytes` (after the handshake's head). */
export function answers(bytes: Buffer): any[] {
  const out = [];
  let at = 0;
  while (bytes.length - at >= 8) {
    const head = bytes.readUInt32BE(at);
    const total = 8 + head + bytes.readUInt32BE(at + 4);
    if (bytes.length - at < total) break;
    out.push(JSON.parse(bytes.subarray(at + 8, at + 8 + head).toString()));
    at += total;
  }
  return out;
}

/** A channel past its handshake, for requests one at a time. */
export async function openChannel(emu: RunningEmulator, worker = "wraw", token = "s3cret") {
  const conn = raw(emu, handshake(channelPath(emu, worker, token)));
  const { status } = await handshakeAnswer(conn);
  expect(status).toBe(101);
  const afterHead = () => conn.received().subarray(headEnd(conn.received()) + 4);
  let seen = 0;
  const next = async () => {
    await conn.until(() => answers(afterHead()).length > seen);
    return answers(afterHead())[seen++];
  };
  return {
    ...conn,
    next,
    send: (bytes: Buffer) => (conn.socket.write(bytes), next()),
    request: (header: unknown, payload?: string | Buffer) => (conn.socket.write(frame(header, payload)), next()),
  };
}

/** The emulator still serves others: its health, and a job run to its end by a worker on another channel. */
export async function stillServes(emu: RunningEmulator): Promise<void> {
  expect((await call(emu, "GET", "/health")).status).toBe(200);
  const submitted = call(emu, "POST", "/runsync?wait=20000", { input: { check: true } });
  const worker = await openChannel(emu, "wother", "other");
  let jobs: any[] = [];
  for (let tries = 0; tries < 20 && jobs.length === 0; tries++) jobs = (await worker.request({ op: "take", free: 1, busy: false })).jobs;
  expect(jobs).toHaveLength(1);
  const text = JSON.stringify({ output: { fine: true } });
  expect(await worker.request({ op: "take", free: 0, ids: [jobs[0].id], sizes: [Buffer.byteLength(text)] }, text)).toEqual({});
  expect((await submitted).body).toMatchObject({ status: "COMPLETED", output: { fine: true } });
  worker.socket.destroy();
}

export async function waitFor(ready: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
