import { execFileSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { EmulatorEvent, EndpointDeclaration } from "../../../src/index.js";
import type { RunningEmulator } from "../../../src/internal.js";
import { fixture, nextEvent, startEmulator } from "../../helpers/emulator.js";
import { hostRequest } from "../../helpers/host-request.js";
import { scratchDir } from "../../helpers/scratch.js";

const pythonServer = `python3 ${fixture("python/lb_server/server.py")}`;
const nodeServer = `${JSON.stringify(process.execPath)} ${fixture("node/lb-server/server.mjs")}`;

/** An emulator with one load-balancing endpoint "api", and that endpoint's own URL. */
async function loadBalancer(declaration: Partial<EndpointDeclaration>, options: Record<string, unknown> = {}): Promise<{ emu: RunningEmulator; url: string }> {
  const emu = await startEmulator({ ...options, endpoints: [{ id: "api", type: "load-balancing", command: pythonServer, ...declaration }] });
  return { emu, url: emu.endpoints[0]?.url as string };
}

/** FastAPI's example runs where the project has it; the other tests need only the standard library. */
const hasFastApi = (() => {
  try {
    execFileSync("python3", ["-c", "import fastapi, uvicorn"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const ready = (e: EmulatorEvent) => e.type === "worker" && e.state === "idle" && e.coldStartMs !== undefined;

describe("load-balancing endpoints", () => {
  it("starts a worker for the first request, holds it through the 204 phase, and answers from the user's server", async () => {
    const { emu, url } = await loadBalancer({ env: { MODEL_LOAD_SECONDS: "1" } });
    const states: string[] = [];
    emu.on("worker", (e) => states.push(e.state));
    expect(emu.endpoints[0]).toMatchObject({ id: "api", type: "load-balancing" });
    expect(url).not.toContain("/v2");
    const becameReady = nextEvent(emu, ready);
    const answer = await fetch(`${url}/generate`, { method: "POST", body: JSON.stringify({ prompt: "hi" }) });
    expect(answer.status).toBe(200);
    const body = await answer.json();
    const worker = (await becameReady) as Extract<EmulatorEvent, { type: "worker" }>;
    expect(body).toEqual({ worker: worker.workerId, echo: { prompt: "hi" } });
    expect(answer.headers.get("x-runpod-worker-id")).toBe(worker.workerId);
    // Started for the request, initializing while its health path answered 204, then ready.
    expect(states.slice(0, 2)).toEqual(["initializing", "idle"]);
    const health = await fetch(`${emu.baseUrl}/api/health`).then((r) => r.json());
    expect(health).toMatchObject({ requests: { completed: 1, failed: 0, inProgress: 0, waiting: 0 }, workers: { idle: 1, ready: 1 } });
  });

  it("refuses a body over 30 MB before any worker sees it", async () => {
    const { emu, url } = await loadBalancer({ env: { MODEL_LOAD_SECONDS: "0" } });
    const answer = await fetch(`${url}/generate`, { method: "POST", body: Buffer.alloc(31_000_000, 0x20) });
    expect(answer.status).toBe(413);
    expect((await answer.json()).error).toBe("request body of 31 MB exceeds the 30 MB limit of load-balancing endpoints");
    expect(emu.endpoints).toHaveLength(1);
    expect((await fetch(`${emu.baseUrl}/api/health`).then((r) => r.json())).requests).toEqual({ completed: 0, failed: 0, inProgress: 0, waiting: 0 });
  });

  it('answers "no workers available" when no worker becomes ready within the request timeout', async () => {
    const { emu, url } = await loadBalancer({ env: { MODEL_LOAD_SECONDS: "3600" }, requestTimeout: "1500ms" });
    const warned = nextEvent(emu, (e) => e.type === "warning" && /no workers available/.test(e.message));
    const answer = await fetch(`${url}/generate`, { method: "POST", body: "{}" });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ error: "no workers available" });
    expect((await warned).type).toBe("warning");
  });

  it("passes server-sent events through one by one, and keeps a request on the worker it names", async () => {
    const { url } = await loadBalancer({ env: { MODEL_LOAD_SECONDS: "0" }, maxWorkers: 2 });
    const answer = await fetch(`${url}/stream`);
    expect(answer.headers.get("content-type")).toBe("text/event-stream");
    const worker = answer.headers.get("x-runpod-worker-id") as string;
    const reader = (answer.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const events: unknown[] = [];
    let pending = "";
    const nextSse = async () => {
      while (!pending.includes("\n\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended after ${events.length} events`);
        pending += decoder.decode(value, { stream: true });
      }
      const [event, rest] = [pending.slice(0, pending.indexOf("\n\n")), pending.slice(pending.indexOf("\n\n") + 2)];
      pending = rest;
      events.push(JSON.parse(event.replace(/^data: /, "")));
    };
    // Each event after the first is sent only once the server is told to: it must arrive before the end.
    await nextSse();
    for (const i of [1, 2]) {
      const released = await fetch(`${url}/next`, { method: "POST", headers: { "X-Runpod-Worker-Id": `strict ${worker}` } });
      expect(released.headers.get("x-runpod-worker-id")).toBe(worker);
      await nextSse();
      expect(events).toHaveLength(i + 1);
    }
    expect(events).toEqual([0, 1, 2].map((i) => ({ i, worker })));
    expect((await reader.read()).done).toBe(true);
  });

  it("answers 404 to a strict affinity for a worker that is gone", async () => {
    const { url } = await loadBalancer({ env: { MODEL_LOAD_SECONDS: "0" } });
    const answer = await fetch(`${url}/whoami`, { headers: { "X-Runpod-Worker-Id": "strict w9-0000" } });
    expect(answer.status).toBe(404);
    expect((await answer.json()).error).toMatch(/^affinity_worker_gone/);
  });

  it("stops an idle worker after the idle timeout", async () => {
    const { emu, url } = await loadBalancer({ env: { MODEL_LOAD_SECONDS: "0" }, idleTimeout: "1s" });
    expect((await fetch(`${url}/whoami`)).status).toBe(200);
    const exited = (await nextEvent(emu, (e) => e.type === "worker" && e.state === "exited")) as Extract<EmulatorEvent, { type: "worker" }>;
    expect(exited.detail).toBeUndefined();
    expect(emu.pool.pids()).toEqual([]);
  });

  it("rolls its workers when the server's file is saved, failing no request", async () => {
    const dir = scratchDir();
    cpSync(fixture("python/lb_server/server.py"), join(dir, "server.py"));
    const { emu, url } = await loadBalancer({ cwd: dir, command: "python3 server.py", env: { MODEL_LOAD_SECONDS: "0.3" } }, { watch: true, reloadDebounce: 50 });
    const answers: { status: number; body: Record<string, unknown> }[] = [];
    const ask = async () => {
      const answer = await fetch(`${url}/generate`, { method: "POST", body: "1" });
      answers.push({ status: answer.status, body: await answer.json() });
    };
    await ask();
    const reloaded = nextEvent(emu, (e) => e.type === "reload");
    const source = readFileSync(join(dir, "server.py"), "utf8");
    writeFileSync(join(dir, "server.py"), source.replace('{"worker": WORKER, "echo"', '{"worker": WORKER, "edited": True, "echo"'));
    let stop = false;
    const load = (async () => {
      while (!stop) await ask();
    })();
    await reloaded;
    const deadline = Date.now() + 30_000;
    while (!answers.some((a) => a.body.edited) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    stop = true;
    await load;
    expect(answers.some((a) => a.body.edited)).toBe(true);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.body.worker)).size).toBeGreaterThan(1);
  }, 60_000);

  it("pipes WebSockets and routes ID.localhost on the API's port, with a Node server", async () => {
    const { emu, url } = await loadBalancer({ command: nodeServer, env: { MODEL_LOAD_SECONDS: "0" } });
    const viaHost = await hostRequest(emu.port, `api.localhost:${emu.port}`, "POST", "/generate", JSON.stringify({ a: 1 }));
    expect(viaHost.status).toBe(200);
    expect(JSON.parse(viaHost.text)).toEqual({ worker: viaHost.headers["x-runpod-worker-id"], echo: { a: 1 } });
    for (const [target, headers] of [
      [url.replace("http:", "ws:"), {}],
      [`ws://127.0.0.1:${emu.port}`, { Host: `api.localhost:${emu.port}` }],
    ] as const) {
      const ws = new WebSocket(`${target}/ws`, { headers });
      const upgraded = new Promise<string | undefined>((resolve, reject) => {
        ws.once("upgrade", (res) => resolve(res.headers["x-runpod-worker-id"] as string | undefined));
        ws.once("error", reject);
      });
      const reply = new Promise<string>((resolve) => ws.once("message", (data) => resolve(String(data))));
      await new Promise((resolve) => ws.once("open", resolve));
      ws.send("hello");
      const worker = await upgraded;
      expect(await reply).toBe(`${worker}: hello`);
      ws.close();
    }
  });

  it.skipIf(!hasFastApi)("serves the FastAPI example of RunPod's documentation under uvicorn", async () => {
    const { url } = await loadBalancer({ cwd: fixture("python/lb_fastapi"), command: "python3 -m uvicorn app:app --host 127.0.0.1 --port $PORT" });
    const answer = await fetch(`${url}/generate`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ prompt: "hi" }) });
    expect(await answer.json()).toEqual({ generated_text: "Response to: hi" });
    expect((await fetch(`${url}/docs`)).status).toBe(200);
    expect((await fetch(`${url}/openapi.json`)).status).toBe(200);
  });
});
