import { type Socket, connect } from "node:net";
import { expect, it } from "vitest";
import { send, startEmulatorProcess } from "./emulator-process.js";
import { record } from "./figures.js";

const handler = new URL("../../fixtures/node/echo/handler.js", import.meta.url).pathname;
const WS_HEADERS = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
const H2C_HEADERS = "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n";

/** Opens a loopback connection; resolves once connected. */
function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1", () => resolve(socket));
    socket.on("error", () => {});
    socket.once("error", reject);
  });
}

/** Sends `head`, lets the server read (and maybe answer) it, then resets the connection (RST). */
async function sendAndReset(port: number, head: string, afterMs: number): Promise<void> {
  const socket = await open(port);
  socket.write(head);
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  socket.resetAndDestroy();
}

it("survives refused WebSocket upgrades and h2c upgrades cut by a TCP reset, with and without an API key", async () => {
  let requests = 0;
  for (const keyed of [false, true]) {
    const emu = await startEmulatorProcess([handler, "--in-memory", "--no-watch", ...(keyed ? ["--api-key", "secret"] : [])]);
    const port = Number(new URL(emu.url).port);
    const heads = [
      `GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n${WS_HEADERS}\r\n`,
      `GET /v2/local/ws HTTP/1.1\r\nHost: 127.0.0.1\r\n${WS_HEADERS}\r\n`,
      `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${H2C_HEADERS}\r\n`,
      `POST /v2/local/run HTTP/1.1\r\nHost: 127.0.0.1\r\n${H2C_HEADERS}Content-Type: application/json\r\nContent-Length: 20\r\n\r\n{"input"`,
    ];
    for (let round = 0; round < 15; round++) {
      await Promise.all(heads.map((head, i) => sendAndReset(port, head, (round + i) % 3 === 0 ? 0 : 5 * (round % 4))));
      requests += heads.length;
    }
    const health = await send(`${emu.url}/health`, "GET");
    expect(emu.alive()).toBe(true);
    expect(health?.status).toBe(keyed ? 401 : 200);
    await emu.stop();
  }
  record({ requests });
});

it("keeps answering /health while 300 slow-loris connections trickle their headers", async () => {
  const emu = await startEmulatorProcess([handler, "--in-memory", "--no-watch"]);
  const port = Number(new URL(emu.url).port);
  const sockets = await Promise.all(Array.from({ length: 300 }, () => open(port)));
  for (const socket of sockets) socket.write("GET /v2/local/health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  const latencies: number[] = [];
  for (let second = 0; second < 5; second++) {
    for (const socket of sockets) if (!socket.destroyed) socket.write(`X-Slow-${second}: a\r\n`);
    const started = Date.now();
    const health = await send(`${emu.url}/health`, "GET");
    expect(health?.status).toBe(200);
    latencies.push(Date.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  for (const socket of sockets) socket.destroy();
  record({ requests: 300 + latencies.length });
  expect(emu.alive()).toBe(true);
  // A loose bound: only a server held up by the idle connections misses it.
  expect(Math.max(...latencies)).toBeLessThan(2000);
  await emu.stop();
});
