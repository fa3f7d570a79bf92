import { existsSync, readdirSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { call } from "../helpers/emulator.js";
import {
  answers,
  channelPath,
  emulatorWithRawWorker,
  frame,
  handshake,
  handshakeAnswer,
  headEnd,
  openChannel,
  prefix,
  raw,
  rawFrame,
  stillServes,
  tick,
  waitFor,
} from "../helpers/worker-channel.js";

// The worker channel against a hostile or broken client: what a client can send in the handshake and in
// frames must never end the emulator, stall its other clients, or lose or double a job.
describe("the worker channel's handshake, from a hostile client", () => {
  it("answers 400 to a path whose percent-encoding is malformed or a target that is not a URL, and serves on", async () => {
    const emu = await emulatorWithRawWorker();
    const malformed = [`/v2/%E0%A4%A/job-channel/wraw?token=s3cret`, `${new URL(emu.url).pathname}/job-channel/%zz?token=s3cret`, "/%"];
    // Node may refuse such a request line itself, or hand it to the upgrade: either way a 400.
    const notUrls = ["http://[/v2/x/job-channel/wraw", "http://a b/", "http://:99999/"];
    for (const target of [...malformed, ...notUrls]) {
      const conn = raw(emu, handshake(target));
      await conn.until((bytes) => headEnd(bytes) >= 0, 3_000);
      expect(conn.received().toString("latin1"), target).toMatch(/^HTTP\/1\.1 400 /);
    }
    await stillServes(emu);
  });

  it("refuses another method, even with a body, without reading the body as frames", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    const worker = await openChannel(emu);
    expect((await worker.request({ op: "take", free: 1 })).jobs).toEqual([{ id: run.id, input: 1 }]);
    const done = frame({ op: "done", id: run.id }, JSON.stringify({ output: "forged" }));
    for (const method of ["POST", "PUT", "DELETE"]) {
      const conn = raw(emu, Buffer.concat([Buffer.from(handshake(channelPath(emu), { method, extra: `Content-Length: ${done.length}\r\n` })), done]));
      expect((await handshakeAnswer(conn)).status).toBe(404);
      await conn.closed;
    }
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "IN_PROGRESS" });
  });

  it("reads no frame that followed a refused handshake", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    const worker = await openChannel(emu);
    expect((await worker.request({ op: "take", free: 1 })).jobs).toHaveLength(1);
    const forged = frame({ op: "done", id: run.id }, JSON.stringify({ output: "forged" }));
    for (const path of [channelPath(emu, "wraw", "nope"), channelPath(emu, "ghost"), "/v2/elsewhere/job-channel/wraw?token=s3cret", `${new URL(emu.url).pathname}/job-take/wraw?token=s3cret`]) {
      const conn = raw(emu, Buffer.concat([Buffer.from(handshake(path)), forged, forged]));
      expect([401, 404]).toContain((await handshakeAnswer(conn)).status);
      await conn.closed;
    }
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "IN_PROGRESS" });
    // The real worker's result still counts.
    expect(await worker.request({ op: "done", id: run.id }, JSON.stringify({ output: "real" }))).toEqual({});
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "COMPLETED", output: "real" });
  });

  it("reads a first frame that came with the handshake, however the bytes of both are cut", async () => {
    const emu = await emulatorWithRawWorker({ pollHold: 100 });
    const bytes = Buffer.concat([Buffer.from(handshake(channelPath(emu))), frame({ op: "take", free: 0, busy: false, ids: [], sizes: [] })]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const conn = raw(emu, bytes.subarray(0, cut));
      await tick(2);
      conn.socket.write(bytes.subarray(cut));
      await conn.until((received) => headEnd(received) >= 0 && answers(received.subarray(headEnd(received) + 4)).length === 1);
      const received = conn.received();
      expect(received.subarray(0, 12).toString()).toBe("HTTP/1.1 101");
      expect(answers(received.subarray(headEnd(received) + 4))).toEqual([{}]);
      conn.socket.destroy();
    }
    await stillServes(emu);
  });
});

describe("the worker channel's frames, from a hostile client", () => {
  it("answers a header that is JSON but not an object with a 400, and keeps the connection", async () => {
    const emu = await emulatorWithRawWorker();
    const channel = await openChannel(emu);
    for (const text of ["null", "[]", "42", '"take"', "true", '[{"op":"take"}]', '{"__proto__":{"op":"take","free":1}}']) {
      expect(await channel.send(rawFrame(text))).toMatchObject({ status: 400, error: expect.stringMatching(/^unknown op/) });
    }
    expect(await channel.request({ op: "take", free: 0 })).toEqual({});
  });

  it("answers an op nested too deep to print with a 400, not an internal error, and keeps the connection", async () => {
    const emu = await emulatorWithRawWorker();
    const warnings: string[] = [];
    emu.events.on((event) => void (event.type === "warning" && warnings.push(event.message)));
    const channel = await openChannel(emu);
    const depth = 200_000;
    const answer = await channel.send(rawFrame(`{"op":${"[".repeat(depth)}${"]".repeat(depth)}}`)).catch((error: Error) => error.message);
    expect(warnings.filter((message) => message.startsWith("internal error")).map((message) => message.slice(0, 200))).toEqual([]);
    expect(answer).toMatchObject({ status: 400 });
    expect(await channel.request({ op: "take", free: 0 })).toEqual({});
  });

  it("answers each wrong type in a take with a 400 that says why, and keeps the connection", async () => {
    const emu = await emulatorWithRawWorker();
    const channel = await openChannel(emu);
    const wrong = [
      { op: "take", free: "1" },
      { op: "take", free: true },
      { op: "take", free: 1.5 },
      { op: "take", free: null },
      { op: "take", ids: "abc", sizes: [] },
      { op: "take", ids: [1], sizes: [0] },
      { op: "take", ids: [null], sizes: [0] },
      { op: "take", ids: [], sizes: "0" },
      { op: "take", ids: [], sizes: null },
      { op: "take", ids: [], sizes: {} },
    ];
    for (const header of wrong) expect(await channel.request(header), JSON.stringify(header)).toMatchObject({ status: 400, error: expect.any(String) });
    expect(await channel.request({ op: "take", free: 0 })).toEqual({});
  });

  it("fails the named jobs, with why, when sizes are fractional, negative, missing or too many, and double-finishes none", async () => {
    const emu = await emulatorWithRawWorker({ pollHold: 100 });
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push((await call(emu, "POST", "/run", { input: n })).body.id);
    const channel = await openChannel(emu);
    expect((await channel.request({ op: "take", free: 5 })).jobs).toHaveLength(5);
    const text = '{"output":1}';
    const cases: [string, unknown][] = [
      [ids[0] as string, [5.5, 6.5]],
      [ids[1] as string, [-1, 13]],
      [ids[2] as string, []],
      [ids[3] as string, [12, 0]],
      [ids[4] as string, [1e300]],
    ];
    for (const [id, sizes] of cases) expect(await channel.request({ op: "take", free: 0, ids: [id], sizes }, text), JSON.stringify(sizes)).toMatchObject({ status: 400 });
    for (const id of ids) expect((await call(emu, "GET", `/status/${id}`)).body, id).toMatchObject({ status: "FAILED", error: expect.stringMatching(/sizes/) });
    // A result after the failure changes nothing.
    expect(await channel.request({ op: "take", free: 0, ids: [ids[0]], sizes: [text.length] }, text)).toEqual({});
    expect((await call(emu, "GET", `/status/${ids[0]}`)).body).toMatchObject({ status: "FAILED" });
    expect((await call(emu, "GET", "/health")).body.jobs).toMatchObject({ completed: 0, failed: 5, inProgress: 0, inQueue: 0 });
  });

  it("counts a job once when its result comes twice, in one take or in two requests, or from another worker", async () => {
    const emu = await emulatorWithRawWorker({ pollHold: 100 });
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) ids.push((await call(emu, "POST", "/run", { input: n })).body.id);
    const mine = await openChannel(emu);
    const theirs = await openChannel(emu, "wother", "other");
    expect((await mine.request({ op: "take", free: 3 })).jobs).toHaveLength(3);
    const [a, b, c] = ids as [string, string, string];
    // Another worker's result for jobs it does not hold: ignored.
    const forged = JSON.stringify({ output: "forged" });
    expect(await theirs.request({ op: "done", id: a }, forged)).toEqual({});
    expect(await theirs.request({ op: "take", free: 0, ids: [b], sizes: [forged.length] }, forged)).toEqual({});
    expect(await theirs.request({ op: "stream", id: c }, JSON.stringify({ output: "forged" }))).toEqual({});
    for (const id of ids) expect((await call(emu, "GET", `/status/${id}`)).body).toMatchObject({ status: "IN_PROGRESS" });
    // The same id twice in one take: the first result counts.
    const first = JSON.stringify({ output: "first" });
    const second = JSON.stringify({ output: "second" });
    expect(await mine.request({ op: "take", free: 0, ids: [a, a], sizes: [first.length, second.length] }, first + second)).toEqual({});
    expect(await mine.request({ op: "done", id: b }, first)).toEqual({});
    expect(await mine.request({ op: "done", id: b }, second)).toEqual({});
    expect(await mine.request({ op: "done", id: c }, JSON.stringify({ error: "broke" }))).toEqual({});
    expect(await mine.request({ op: "done", id: c }, first)).toEqual({});
    expect((await call(emu, "GET", `/status/${a}`)).body).toMatchObject({ status: "COMPLETED", output: "first" });
    expect((await call(emu, "GET", `/status/${b}`)).body).toMatchObject({ status: "COMPLETED", output: "first" });
    expect((await call(emu, "GET", `/status/${c}`)).body).toMatchObject({ status: "FAILED", error: "broke" });
    expect((await call(emu, "GET", `/stream/${c}`)).body.stream ?? []).toEqual([]);
    expect((await call(emu, "GET", "/health")).body.jobs).toMatchObject({ completed: 2, failed: 1, inProgress: 0, inQueue: 0 });
  });

  it("gives the job of a take back to the queue when a second request came before its answer", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    const eager = await openChannel(emu);
    eager.socket.write(Buffer.concat([frame({ op: "take", free: 1 }), frame({ op: "take", free: 1 })]));
    await eager.closed;
    // No answer was written: the job was never handed out.
    expect(answers(eager.received().subarray(headEnd(eager.received()) + 4))).toEqual([]);
    await waitFor(async () => (await call(emu, "GET", `/status/${run.id}`)).body.status === "IN_QUEUE");
    const again = await openChannel(emu);
    expect((await again.request({ op: "take", free: 1 })).jobs).toEqual([{ id: run.id, input: 1 }]);
  });

  it("reads a frame trickled a byte at a time, and another split over a long pause", async () => {
    const emu = await emulatorWithRawWorker();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    const channel = await openChannel(emu);
    expect((await channel.request({ op: "take", free: 1 })).jobs).toHaveLength(1);
    const text = JSON.stringify({ output: "é".repeat(50) });
    const bytes = frame({ op: "take", free: 0, ids: [run.id], sizes: [Buffer.byteLength(text)] }, text);
    for (let at = 0; at < bytes.length; at++) {
      channel.socket.write(bytes.subarray(at, at + 1));
      await tick(1);
    }
    expect(await channel.next()).toEqual({});
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "COMPLETED", output: "é".repeat(50) });
    const fly = frame({ op: "fly" });
    channel.socket.write(fly.subarray(0, 5));
    await tick(300);
    expect(await channel.send(fly.subarray(5))).toMatchObject({ status: 400 });
  });

  it("gives back to the queue, or keeps held, no job when a connection ends in the middle of a frame", async () => {
    const emu = await emulatorWithRawWorker();
    const ids: string[] = [];
    for (let n = 0; n < 2; n++) ids.push((await call(emu, "POST", "/run", { input: n })).body.id);
    const channel = await openChannel(emu);
    expect((await channel.request({ op: "take", free: 1 })).jobs).toEqual([{ id: ids[0], input: 0 }]);
    const text = JSON.stringify({ output: "whole" });
    const bytes = frame({ op: "take", free: 1, ids: [ids[0]], sizes: [text.length] }, text);
    channel.socket.end(bytes.subarray(0, bytes.length - 3));
    await channel.closed;
    // Half a result is no result, and the take it carried never happened.
    expect((await call(emu, "GET", `/status/${ids[0]}`)).body).toMatchObject({ status: "IN_PROGRESS" });
    expect((await call(emu, "GET", `/status/${ids[1]}`)).body).toMatchObject({ status: "IN_QUEUE" });
    const again = await openChannel(emu);
    expect(await again.request({ op: "take", free: 1, ids: [ids[0]], sizes: [text.length] }, text)).toEqual({ jobs: [{ id: ids[1], input: 1 }] });
    expect((await call(emu, "GET", `/status/${ids[0]}`)).body).toMatchObject({ status: "COMPLETED", output: "whole" });
  });
});

describe("the worker channel's limits, against a hostile client", () => {
  it("skips an oversized payload without gathering it, answers 413 before it ended, and reads the next frame", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const emu = await emulatorWithRawWorker({}, { workerBodyLimit: 1_000 });
    const channel = await openChannel(emu);
    const total = 64 * 1024 * 1024;
    const piece = Buffer.alloc(256 * 1024, 0x78);
    const header = Buffer.from(JSON.stringify({ op: "stream", id: "nope" }));
    channel.socket.write(Buffer.concat([prefix(header.length, total), header]));
    expect(await channel.next()).toMatchObject({ status: 413 });
    gc();
    const before = process.memoryUsage();
    let peak = 0;
    for (let sent = 0; sent < total; sent += piece.length) {
      if (!channel.socket.write(piece)) await new Promise((resolve) => channel.socket.once("drain", resolve));
      if (sent % (8 * 1024 * 1024) === 0) {
        gc();
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - before.arrayBuffers);
      }
    }
    gc();
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - before.arrayBuffers);
    expect(peak).toBeLessThan(16 * 1024 * 1024);
    expect(await channel.request({ op: "fly" })).toMatchObject({ status: 400 });
    // The largest length the prefix can say: refused at once, the connection kept for the bytes to come.
    const most = await openChannel(emu);
    expect(await most.send(Buffer.concat([prefix(header.length, 0xffffffff), header]))).toEqual({
      status: 413,
      error: "a worker's request body may not exceed 0.001 MB",
    });
    expect(most.socket.destroyed).toBe(false);
  });

  it("refuses a take that names tens of thousands of jobs, without looking at one of them", async () => {
    const emu = await emulatorWithRawWorker();
    let warnings = 0;
    emu.events.on((event) => void (event.type === "warning" && warnings++));
    const channel = await openChannel(emu);
    // About 870 KB: within the 1 MiB a header may take; each id the worker does not hold would be a warning.
    const ids = Array.from({ length: 80_000 }, (_, i) => `j${i}`);
    expect(await channel.request({ op: "take", free: 0, ids, sizes: ids.map(() => 0) })).toEqual({ status: 400, error: "a take carries at most 10000 results, not 80000" });
    expect(warnings).toBe(0);
    await stillServes(emu);
  });

  it("keeps no connection, take or slot of the many channels opened and dropped in every state", async () => {
    const emu = await emulatorWithRawWorker({ pollHold: 60_000 });
    const header = Buffer.from(JSON.stringify({ op: "take", free: 1 }));
    const states = [
      // Half the handshake.
      () => Buffer.from(handshake(channelPath(emu)).slice(0, 30)),
      // The handshake alone.
      () => Buffer.from(handshake(channelPath(emu))),
      // A held take.
      () => Buffer.concat([Buffer.from(handshake(channelPath(emu))), frame({ op: "take", free: 1 })]),
      // Half a frame, its payload declared large.
      () => Buffer.concat([Buffer.from(handshake(channelPath(emu))), prefix(header.length, 100_000_000), header, Buffer.alloc(1000)]),
      // A refused handshake.
      () => Buffer.from(handshake(channelPath(emu, "wraw", "nope"))),
    ];
    // Where the system shows them, this process's open files: a connection the emulator kept is one more.
    const openFiles = () => (existsSync("/proc/self/fd") ? readdirSync("/proc/self/fd").length : 0);
    const filesBefore = openFiles();
    // More than the server's 1,000 connections, so that one kept would soon refuse the next.
    for (let round = 0; round < 11; round++) {
      const batch = Array.from({ length: 100 }, (_, i) => raw(emu, (states[i % states.length] as () => Buffer)()));
      await tick(20);
      for (const [i, conn] of batch.entries()) {
        // Half closed, reset, or destroyed.
        if (i % 3 === 0) conn.socket.end();
        else if (i % 3 === 1) conn.socket.resetAndDestroy();
        else conn.socket.destroy();
      }
      await Promise.all(batch.map((conn) => conn.closed));
    }
    await waitFor(() => emu.endpoint.worker("wraw")?.take === undefined);
    await waitFor(() => openFiles() - filesBefore < 50);
    // No dead channel's take is handed a job: it waits for a live one.
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    await tick(100);
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "IN_QUEUE" });
    const live = await openChannel(emu);
    expect(await live.request({ op: "take", free: 1 })).toEqual({ jobs: [{ id: run.id, input: 1 }] });
    await stillServes(emu);
  });

  it("ends its channels when the emulator closes, a take held and a frame half read", async () => {
    const emu = await emulatorWithRawWorker({ pollHold: 60_000 });
    const held = await openChannel(emu);
    held.socket.write(frame({ op: "take", free: 1 }));
    await waitFor(() => emu.endpoint.worker("wraw")?.take !== undefined);
    const half = await openChannel(emu);
    half.socket.write(frame({ op: "fly" }).subarray(0, 6));
    // The take is held for a minute, longer than the test may run: both must end because the emulator did.
    await emu.close();
    await Promise.all([held.closed, half.closed]);
  });

  it("hands no job to a channel whose worker the emulator removed", async () => {
    const emu = await emulatorWithRawWorker({ pollHold: 100 });
    const channel = await openChannel(emu);
    expect(await channel.request({ op: "take", free: 1 })).toEqual({ jobs: [] });
    const slot = emu.endpoint.worker("wraw");
    emu.endpoint.removeWorker(slot as NonNullable<typeof slot>, { code: 1, signal: null, byEmulator: false, lastLines: [] });
    expect(emu.endpoint.worker("wraw")).toBeUndefined();
    const { body: run } = await call(emu, "POST", "/run", { input: 1 });
    // Over HTTP the removed worker's take is refused.
    const http = await fetch(`${emu.url}/job-take/wraw?token=s3cret`);
    expect(http.status).toBe(401);
    // The channel opened before the removal must not keep the worker's credential alive.
    const answer = await channel.request({ op: "take", free: 1 }).catch((error: Error) => ({ closed: error.message }));
    channel.socket.destroy();
    await channel.closed;
    // A job handed to the removed worker is held by no one: nothing requeues it before its execution timeout.
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "IN_QUEUE" });
    expect(answer).toEqual({ error: 'unknown worker "wraw": the emulator removed it', status: 401 });
  });
});
