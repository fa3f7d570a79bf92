import { describe, expect, it } from "vitest";
import { call, fixture, nextEvent, startEmulator } from "./helpers/emulator.js";
import { hostRequest } from "./helpers/host-request.js";

describe("several endpoints in one emulator", () => {
  it("runs each queue endpoint's jobs on its own handler, and a handler calls another endpoint with the emulator's key", async () => {
    const emu = await startEmulator({
      apiKey: "secret",
      endpoints: [
        { id: "embed", handler: fixture("node/echo/handler.js") },
        { id: "caller", handler: fixture("python/call_endpoint/handler.py") },
        { id: "api", type: "load-balancing", command: `python3 ${fixture("python/lb_server/server.py")}`, env: { MODEL_LOAD_SECONDS: "0" } },
      ],
    });
    expect(emu.endpoints.map(({ id, type }) => [id, type])).toEqual([["embed", "queue"], ["caller", "queue"], ["api", "load-balancing"]]);
    const auth = { Authorization: "Bearer secret" };
    const embed = await call(`${emu.baseUrl}/embed`, "POST", "/runsync", { input: { text: "hi" } }, auth);
    expect(embed.body).toMatchObject({ status: "COMPLETED", output: { text: "hi" } });
    const called = await call(`${emu.baseUrl}/caller`, "POST", "/runsync", { input: { endpoint: "embed", input: { n: 7 } } }, auth);
    expect(called.body).toMatchObject({ status: "COMPLETED", output: { called: "embed", status: "COMPLETED", output: { n: 7 } } });
    expect(emu.history(called.body.id)?.job.endpointId).toBe("caller");
    // Each endpoint counts its own jobs; the load-balancing one has requests and workers instead.
    expect((await call(`${emu.baseUrl}/embed`, "GET", "/health", undefined, auth)).body.jobs.completed).toBe(2);
    expect((await call(`${emu.baseUrl}/caller`, "GET", "/health", undefined, auth)).body.jobs.completed).toBe(1);
    const lbHealth = await call(`${emu.baseUrl}/api`, "GET", "/health", undefined, auth);
    expect(lbHealth.body).toMatchObject({ requests: { completed: 0, inProgress: 0, waiting: 0 } });
    expect((await call(`${emu.baseUrl}/nope`, "GET", "/health", undefined, auth)).status).toBe(404);
  }, 60_000);

  it("refuses the queue API on a load-balancing endpoint, and server paths on a queue endpoint", async () => {
    const emu = await startEmulator({
      endpoints: [
        { id: "embed", mock: true },
        { id: "api", type: "load-balancing", command: "sleep 30" },
      ],
    });
    const refused = await call(`${emu.baseUrl}/api`, "POST", "/run", { input: {} });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/^not allowed for QB API: "api" is a load-balancing endpoint/);
    const onQueue = await hostRequest(emu.port, `embed.localhost:${emu.port}`, "POST", "/generate", "{}");
    expect(onQueue.status).toBe(400);
    expect(JSON.parse(onQueue.text).error).toMatch(/"embed" is a queue endpoint/);
  });

  it("announces every event with its endpoint", async () => {
    const emu = await startEmulator({ endpoints: [{ id: "a", mock: true }, { id: "b", mock: true }] });
    const done = nextEvent(emu, (e) => e.type === "status" && e.job.status === "COMPLETED");
    await call(`${emu.baseUrl}/b`, "POST", "/run", { input: {} });
    expect((await done).endpointId).toBe("b");
  });
});
