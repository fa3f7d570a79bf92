import { execFile } from "node:child_process";
import { type OutgoingHttpHeaders, request } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { type ConnectionLimits, connectionLimits, createApiServer } from "../../src/api/server.js";
import type { Emulator } from "../../src/index.js";
import { apiAppOf } from "../helpers/api-app.js";
import { call, startEmulator } from "../helpers/emulator.js";
import { type RawConnection, head, rawConnection, responses } from "../helpers/raw-http.js";

const WS_HEADERS = { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": 13 };
const H2C_HEADERS = { Connection: "Upgrade, HTTP2-Settings", Upgrade: "h2c", "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA" };

/** Resolves once `connection` received `count` complete responses. */
async function answers(connection: RawConnection, count = 1) {
  return responses(await connection.until(`${count} response(s)`, (text) => responses(text).length >= count));
}

/**
 * A second API server over an emulator's endpoint, with its own connection limits, that reports internal
 * errors and shows its own end of each connection.
 */
async function apiServer(emu: Emulator, limits: Partial<ConnectionLimits> = {}) {
  const internalErrors: unknown[] = [];
  const app = apiAppOf(emu, { onInternalError: (error) => internalErrors.push(error) });
  const { server } = createApiServer(app, (message) => internalErrors.push(message), { ...connectionLimits, ...limits });
  const serverSockets: Socket[] = [];
  server.on("connection", (socket: Socket) => serverSockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, port: (server.address() as AddressInfo).port, internalErrors, serverSockets };
}

/** POSTs `bytes` of body in 1 MB writes with Node's own client; resolves with what it saw. */
function postLarge(port: number, path: string, bytes: number, headers: OutgoingHttpHeaders = {}) {
  return new Promise<{ status?: number; body: string; error?: string }>((resolve) => {
    const seen: { status?: number; body: string; error?: string } = { body: "" };
    const req = request({ port, host: "127.0.0.1", method: "POST", path, headers: { "Content-Type": "application/json", "Content-Length": bytes, ...headers } }, (res) => {
      seen.status = res.statusCode;
      res.on("data", (data) => (seen.body += data));
    });
    req.on("error", (error: NodeJS.ErrnoException) => (seen.error = error.code ?? error.message));
    req.on("close", () => resolve(seen));
    const chunk = Buffer.alloc(1_000_000, "x");
    let sent = 0;
    const write = () => {
      while (sent < bytes) {
        const part = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
        sent += part.length;
        if (!req.write(part)) return void req.once("drain", write);
      }
      req.end();
    };
    write();
  });
}

describe("the HTTP server", () => {
  it("leaves the global Request and Response as they were", async () => {
    const [BeforeRequest, BeforeResponse] = [globalThis.Request, globalThis.Response];
    const emu = await startEmulator({ mock: true });
    expect((await call(emu, "GET", "/health")).status).toBe(200);
    expect(globalThis.Request).toBe(BeforeRequest);
    expect(globalThis.Response).toBe(BeforeResponse);
  });

  it("survives connections reset after a refused WebSocket handshake or an Upgrade request", async () => {
    const emu = await startEmulator({ mock: true, apiKey: "k" });
    const host = { Host: `127.0.0.1:${emu.port}` };
    const requests = [
      head("GET /v2/local/nothing HTTP/1.1", { ...host, ...WS_HEADERS }),
      head("GET /v2/local/ws HTTP/1.1", { ...host, ...WS_HEADERS }),
      head("GET /elsewhere HTTP/1.1", { ...host, ...H2C_HEADERS }),
      head("GET http://[ HTTP/1.1", { ...host, ...WS_HEADERS }),
    ];
    for (const text of requests) {
      const answered = await rawConnection(emu.port);
      answered.socket.write(text);
      await answers(answered);
      answered.socket.resetAndDestroy();
      const cut = await rawConnection(emu.port);
      cut.socket.write(text);
      cut.socket.resetAndDestroy();
      await Promise.all([answered.closed, cut.closed]);
    }
    // A process that crashed could not answer (and would have ended this test file).
    expect((await call(emu, "GET", "/health", undefined, { Authorization: "k" })).status).toBe(200);
  });

  it("answers a request that also asks for an upgrade (curl --http2) as the plain request it is", async () => {
    const emu = await startEmulator({ mock: true, coldStart: 600_000 });
    const connection = await rawConnection(emu.port);
    const host = { Host: `127.0.0.1:${emu.port}` };
    connection.socket.write(head("GET /v2/local/health HTTP/1.1", { ...host, ...H2C_HEADERS }));
    const [health] = await answers(connection);
    expect(health).toMatchObject({ status: 200, body: { jobs: { inQueue: 0 } } });
    // With a body too, and the connection goes on serving.
    const body = '{"input":{"hi":1}}';
    connection.socket.write(head("POST /v2/local/run HTTP/1.1", { ...host, ...H2C_HEADERS, "Content-Type": "application/json", "Content-Length": body.length }) + body);
    const [, run] = await answers(connection, 2);
    expect(run).toMatchObject({ status: 200, body: { status: "IN_QUEUE" } });
    connection.socket.write(head(`GET /v2/local/status/${run?.body.id} HTTP/1.1`, host));
    const [, , status] = await answers(connection, 3);
    expect(status).toMatchObject({ status: 200, body: { id: run?.body.id } });
  });

  it("answers requests it cannot read with one JSON error", async () => {
    const emu = await startEmulator({ mock: true });
    const cases: [string, number, RegExp][] = [
      [head("GET /v2\\local/health HTTP/1.1", { Host: "127.0.0.1" }), 400, /^malformed request: Backslash in request path$/],
      ["G@T / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, /^malformed HTTP request: /],
      [head("GET / HTTP/1.1", { Host: "127.0.0.1", "X-Big": "x".repeat(20_000) }), 431, /^the request's headers are too large$/],
    ];
    for (const [text, status, message] of cases) {
      const connection = await rawConnection(emu.port);
      connection.socket.write(text);
      const [answer] = await answers(connection);
      expect(answer?.status, text.slice(0, 30)).toBe(status);
      expect(answer?.body.error, text.slice(0, 30)).toMatch(message);
    }
  });

  it("answers a WebSocket handshake to another path as a plain request, and refuses the feed's with a JSON error", async () => {
    const emu = await startEmulator({ mock: true, apiKey: "k" });
    const host = { Host: `127.0.0.1:${emu.port}` };
    const other = await rawConnection(emu.port);
    other.socket.write(head("GET /v2/local/health HTTP/1.1", { ...host, ...WS_HEADERS, Authorization: "k" }));
    expect((await answers(other))[0]).toMatchObject({ status: 200, body: { jobs: { inQueue: 0 } } });
    const refused = await rawConnection(emu.port);
    refused.socket.write(head("GET /v2/local/ws HTTP/1.1", { ...host, ...WS_HEADERS }));
    expect(responses(await refused.closed)).toEqual([
      { status: 401, headers: expect.objectContaining({ connection: "close" }), body: { error: expect.stringMatching(/missing API key/) } },
    ]);
  });

  it("lets Node's client read the 413 of an oversized /run, on a kept-alive connection or not", async () => {
    const emu = await startEmulator({ mock: true, coldStart: 600_000 });
    const expected = { status: 413, body: JSON.stringify({ error: "request body of 12 MB exceeds the 10 MB limit of /run" }) };
    expect(await postLarge(emu.port, "/v2/local/run", 12_000_000)).toEqual(expected);
    expect(await postLarge(emu.port, "/v2/local/run", 12_000_000, { Connection: "close" })).toEqual(expected);
    expect((await call(emu, "GET", "/health")).body.jobs.inQueue).toBe(0);
  });

  it("lets Python's urllib read the 413 of an oversized /run", async () => {
    const emu = await startEmulator({ mock: true, coldStart: 600_000 });
    const script = [
      "import json, sys, urllib.request, urllib.error",
      "req = urllib.request.Request(sys.argv[1], data=b'x' * 12_000_000, method='POST', headers={'Content-Type': 'application/json'})",
      "try:",
      "    urllib.request.urlopen(req)",
      "except urllib.error.HTTPError as e:",
      "    print(json.dumps({'status': e.code, 'body': json.loads(e.read())}))",
    ].join("\n");
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile("python3", ["-c", script, `${emu.url}/run`], { timeout: 20_000 }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out))),
    );
    expect(JSON.parse(stdout)).toEqual({ status: 413, body: { error: "request body of 12 MB exceeds the 10 MB limit of /run" } });
  });

  it("answers Expect: 100-continue with the 413 and no 100 when the declared body is too large", async () => {
    const emu = await startEmulator({ mock: true, coldStart: 600_000 });
    const connection = await rawConnection(emu.port);
    connection.socket.write(head("POST /v2/local/run HTTP/1.1", { Host: `127.0.0.1:${emu.port}`, "Content-Type": "application/json", "Content-Length": 12_000_000, Expect: "100-continue" }));
    const text = await connection.closed;
    expect(text).not.toMatch(/100 Continue/);
    expect(responses(text)).toEqual([{ status: 413, headers: expect.anything(), body: { error: "request body of 12 MB exceeds the 10 MB limit of /run" } }]);
    // A body within the limit gets its 100 and runs.
    const small = await rawConnection(emu.port);
    const body = '{"input":1}';
    small.socket.write(head("POST /v2/local/run HTTP/1.1", { Host: `127.0.0.1:${emu.port}`, "Content-Type": "application/json", "Content-Length": body.length, Expect: "100-continue" }));
    await small.until("100 Continue", (t) => t.startsWith("HTTP/1.1 100 Continue\r\n\r\n"));
    small.socket.write(body);
    expect((await answers(small, 2))[1]).toMatchObject({ status: 200, body: { status: "IN_QUEUE" } });
  });

  it("takes a client that drops its upload midway for what it is, not an internal error", async () => {
    const emu = await startEmulator({ mock: true, coldStart: 600_000 });
    const api = await apiServer(emu);
    const warnings: string[] = [];
    emu.events.on((event) => event.type === "warning" && warnings.push(event.message));
    const connection = await rawConnection(api.port);
    connection.socket.write(`${head("POST /v2/local/run HTTP/1.1", { Host: "127.0.0.1", "Content-Type": "application/json", "Content-Length": 100_000 })}{"input":"xxxx`);
    // Once the server holds the request, hang up and wait until its side of the connection is closed too.
    await expect.poll(() => api.serverSockets.length).toBe(1);
    const serverSide = new Promise((resolve) => api.serverSockets[0]?.once("close", resolve));
    connection.socket.resetAndDestroy();
    await serverSide;
    expect(api.internalErrors).toEqual([]);
    expect(warnings).toEqual([]);
    expect((await call(emu, "GET", "/health")).body.jobs.inQueue).toBe(0);
  });

  it("keeps the chunks for later when a client held by /stream leaves", async () => {
    const emu = await startEmulator({ mock: true, coldStart: 600_000 });
    emu.endpoint.addWorker("wraw", "s3cret", emu.pool.handlerVersion);
    const api = await apiServer(emu);
    const base = `http://127.0.0.1:${api.port}/v2/local`;
    const { body: run } = await call(base, "POST", "/run", { input: 1 });
    expect((await call(base, "GET", "/job-take/wraw?token=s3cret&job_in_progress=0")).body.id).toBe(run.id);
    const before = api.serverSockets.length;
    const held = await rawConnection(api.port);
    held.socket.write(head(`GET /v2/local/stream/${run.id}?wait=20000 HTTP/1.1`, { Host: "127.0.0.1" }));
    await expect.poll(() => api.serverSockets.length).toBe(before + 1);
    const serverSide = new Promise((resolve) => api.serverSockets[before]?.once("close", resolve));
    held.socket.destroy();
    await serverSide;
    await call(base, "POST", `/job-stream/wraw/${run.id}?token=s3cret`, { output: "kept" });
    expect((await call(base, "GET", `/stream/${run.id}`)).body).toEqual({ status: "IN_PROGRESS", stream: [{ output: "kept" }] });
  });

  it("closes slow or silent connections with a 408, and never cuts a long-poll short", async () => {
    const emu = await startEmulator({ mock: true, coldStart: 600_000 });
    const api = await apiServer(emu, { headersMs: 300, requestMs: 600, keepAliveMs: 300, checkEveryMs: 50 });
    const host = { Host: "127.0.0.1" };
    const silent = await rawConnection(api.port);
    const halfHead = await rawConnection(api.port);
    halfHead.socket.write("GET /v2/local/health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const shortBody = await rawConnection(api.port);
    shortBody.socket.write(`${head("POST /v2/local/run HTTP/1.1", { ...host, "Content-Length": 100 })}{"input"`);
    const endlessChunks = await rawConnection(api.port);
    endlessChunks.socket.write(head("POST /v2/local/run HTTP/1.1", { ...host, "Transfer-Encoding": "chunked" }));
    const drip = setInterval(() => endlessChunks.socket.writable && endlessChunks.socket.write("1\r\n \r\n"), 100);
    onTestFinished(() => clearInterval(drip));
    for (const connection of [silent, halfHead, shortBody, endlessChunks]) {
      expect(responses(await connection.closed)).toEqual([
        { status: 408, headers: expect.anything(), body: { error: expect.stringMatching(/^the request did not arrive in time/) } },
      ]);
    }
    // An idle kept-alive connection is closed after its answer.
    const idle = await rawConnection(api.port);
    idle.socket.write(head("GET /v2/local/health HTTP/1.1", host));
    expect(responses(await idle.closed).map((r) => r.status)).toEqual([200]);
    // A held request outlives the request timeout: only receiving it counts.
    const { body: run } = await call(`http://127.0.0.1:${api.port}/v2/local`, "POST", "/run", { input: 1 });
    const held = await call(`http://127.0.0.1:${api.port}/v2/local`, "GET", `/stream/${run.id}?wait=1500`);
    expect(held).toMatchObject({ status: 200, body: { status: "IN_QUEUE", stream: [] } });
    expect(api.internalErrors).toEqual([]);
  });

  it("refuses connections beyond its limit at once, and serves again when they are gone", async () => {
    const emu = await startEmulator({ mock: true, coldStart: 600_000 });
    const api = await apiServer(emu, { headersMs: 500, checkEveryMs: 50, connections: 5 });
    const held = await Promise.all(Array.from({ length: 5 }, () => rawConnection(api.port)));
    await expect.poll(() => api.serverSockets.length).toBe(5);
    const extra = await rawConnection(api.port);
    expect(await extra.closed).toBe("");
    await Promise.all(held.map((connection) => connection.closed));
    expect((await call(`http://127.0.0.1:${api.port}/v2/local`, "GET", "/health")).status).toBe(200);
  });
});
