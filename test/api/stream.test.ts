import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { Emulator } from "../../src/index.js";
import { call, nextEvent, startEmulator } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

const CHUNKS = ["c0", "c1", "c2", "c3", "c4"];
const streaming = { mock: { stream: CHUNKS, delay_ms: 200 } };

/** Collects a job's events over WebSocket until the server closes the socket. */
function subscribe(emu: Emulator, query: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(`${emu.url.replace("http", "ws")}/ws${query}`, { headers });
  const events: any[] = [];
  ws.on("message", (data) => events.push(JSON.parse(String(data))));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
  return { ws, events, opened, closed };
}

describe("streaming", () => {
  it("returns chunks through /stream as they are yielded, each exactly once and in order", async () => {
    const emu = await startEmulator({ mock: true });
    const { body: run } = await call(emu, "POST", "/run", { input: streaming });
    const calls: { status: string; stream: { output: string }[] }[] = [];
    let status = "IN_QUEUE";
    while (status !== "COMPLETED") {
      const { body } = await call(emu, "POST", `/stream/${run.id}`);
      calls.push(body);
      status = body.status;
    }
    expect(calls.flatMap((c) => c.stream.map((s) => s.output))).toEqual(CHUNKS);
    expect(calls.some((c) => c.status !== "COMPLETED" && c.stream.length > 0)).toBe(true);
    expect(calls.filter((c) => c.stream.length > 0).length).toBeGreaterThan(1);
  });

  it("serves a 1-second poller every chunk exactly once too", async () => {
    const emu = await startEmulator({ mock: true });
    const { body: run } = await call(emu, "POST", "/run", { input: streaming });
    const seen: string[] = [];
    let status = "IN_QUEUE";
    while (status !== "COMPLETED") {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const { body } = await call(emu, "GET", `/stream/${run.id}`);
      seen.push(...body.stream.map((s: { output: string }) => s.output));
      status = body.status;
    }
    expect(seen).toEqual(CHUNKS);
  });

  it("holds /stream with nothing new for up to ?wait, and answers as soon as a chunk arrives", async () => {
    const emu = await startEmulator({ mock: true });
    const { body: run } = await call(emu, "POST", "/run", { input: { mock: { stream: ["only"], delay_ms: 1500 } } });
    const { body } = await call(emu, "GET", `/stream/${run.id}?wait=10000`);
    expect(body.stream).toEqual([{ output: "only" }]);
  });

  it("sends a job's chunks and its end over WebSocket, replaying what came before a late subscription", async () => {
    const emu = await startEmulator({ mock: true });
    const { body: run } = await call(emu, "POST", "/run", { input: streaming });
    const early = subscribe(emu, `?job=${run.id}`);
    await early.opened;
    await nextEvent(emu, (e) => e.type === "stream" && e.seq === 2);
    const late = subscribe(emu, `?job=${run.id}`);
    await Promise.all([early.closed, late.closed]);
    for (const client of [early, late]) {
      expect(client.events.filter((e) => e.type === "stream").map((e) => e.output)).toEqual(CHUNKS);
      expect(client.events.at(-1)).toMatchObject({ type: "status", status: "COMPLETED", jobId: run.id });
    }
  });

  it("feeds 200 subscribers of one job every chunk", async () => {
    const emu = await startEmulator({ mock: true });
    const { body: run } = await call(emu, "POST", "/run", { input: streaming });
    const clients = Array.from({ length: 200 }, () => subscribe(emu, `?job=${run.id}`));
    await Promise.all(clients.map((c) => c.opened));
    await Promise.all(clients.map((c) => c.closed));
    for (const client of clients) expect(client.events.filter((e) => e.type === "stream").map((e) => e.output)).toEqual(CHUNKS);
  });

  it("drops a subscriber that stops reading once its buffer is full, and the job completes regardless", async () => {
    const dir = scratchDir();
    const handler = join(dir, "big-chunks.mjs");
    // Twenty chunks of 900 kB: more than the kernel's socket buffers and the feed's limit together.
    writeFileSync(handler, 'export default async function* () { for (let i = 0; i < 20; i++) yield String(i).padEnd(900000, "x"); }\n');
    const emu = await startEmulator({ handler });
    const { body: run } = await call(emu, "POST", "/run", { input: {} });
    const reader = subscribe(emu, `?job=${run.id}`);
    const stalled = subscribe(emu, `?job=${run.id}`);
    await Promise.all([reader.opened, stalled.opened]);
    // Its socket is paused: nothing is read, so the server's buffer for it fills up.
    (stalled.ws as any)._socket.pause();
    const { body } = await call(emu, "GET", `/status-sync/${run.id}?wait=30000`);
    expect(body.status).toBe("COMPLETED");
    await reader.closed;
    expect(reader.events.filter((e) => e.type === "stream")).toHaveLength(20);
    (stalled.ws as any)._socket.resume();
    await stalled.closed;
    expect(stalled.events.filter((e) => e.type === "stream").length).toBeLessThan(20);
  });

  it("refuses a WebSocket from a web page the cors setting does not allow, and takes one from a local page", async () => {
    const emu = await startEmulator({ mock: true });
    const foreign = new WebSocket(`${emu.url.replace("http", "ws")}/ws`, { origin: "http://evil.example" });
    foreign.on("error", () => {});
    const refused = await new Promise<number>((resolve) => foreign.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0)));
    expect(refused).toBe(403);
    foreign.terminate();
    const local = new WebSocket(`${emu.url.replace("http", "ws")}/ws`, { origin: "http://localhost:5173" });
    await new Promise((resolve, reject) => {
      local.once("open", resolve);
      local.once("error", reject);
    });
    local.close();
  });

  it("applies the API key to WebSocket clients, by header or ?key=", async () => {
    const emu = await startEmulator({ mock: true, apiKey: "k" });
    const refused = subscribe(emu, "");
    await expect(refused.opened).rejects.toThrow(/401/);
    const byQuery = subscribe(emu, "?key=k");
    await byQuery.opened;
    const byHeader = subscribe(emu, "", { Authorization: "Bearer k" });
    await byHeader.opened;
    await call(emu, "POST", "/run", { input: 1 }, { Authorization: "k" });
    await nextEvent(emu, (e) => e.type === "status" && e.job.status === "COMPLETED");
    expect(byQuery.events.map((e) => e.type)).toContain("status");
    byQuery.ws.close();
    byHeader.ws.close();
  });
});
