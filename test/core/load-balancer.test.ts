import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/core/clock.js";
import { type EmulatorEvent, EventBus } from "../../src/core/events.js";
import { LoadBalancingEndpoint, type Routed } from "../../src/core/load-balancer.js";
import type { WorkerPool } from "../../src/core/worker-pool.js";

function setup(requestTimeoutMs = 10_000) {
  const clock = new FakeClock();
  const bus = new EventBus();
  const events: EmulatorEvent[] = [];
  bus.on((e) => events.push(e));
  const calls: string[] = [];
  let current = "v1";
  const pool: WorkerPool = {
    reconsider: () => calls.push("reconsider"),
    workerChanged: () => {},
    recycle: (id) => calls.push(`recycle ${id}`),
    kill: (id) => calls.push(`kill ${id}`),
    isCurrent: (worker) => worker.handlerVersion === current,
    shortfall: () => ({ throttled: 0, unhealthy: 0 }),
  };
  const endpoint = new LoadBalancingEndpoint({ id: "api", requestTimeoutMs }, { bus, clock }, () => pool);
  const start = (id: string, port: number) => {
    const worker = endpoint.addWorker(id, "", current, "flex");
    endpoint.listening(id, port, 100);
    return worker;
  };
  return { clock, endpoint, events, calls, start, newVersion: (v: string) => (current = v) };
}

const outcome = { status: 200, failed: false, method: "GET", path: "/" };
const workerOf = (routed: Routed) => ("lease" in routed ? routed.lease.workerId : routed.refused);

describe("LoadBalancingEndpoint", () => {
  it("holds a request while the worker initializes (204), routes it at the first 200, and counts the cold start", async () => {
    const t = setup();
    t.start("w1", 5001);
    let routed: Routed | undefined;
    void t.endpoint.route(undefined).then((r) => (routed = r));
    expect(t.endpoint.health().requests.waiting).toBe(1);
    expect(t.endpoint.queueState()).toMatchObject({ queued: 1, inProgress: 0 });
    t.clock.advance(300);
    t.endpoint.healthChecked("w1", 204, "");
    t.endpoint.healthChecked("w1", undefined, "not listening");
    await Promise.resolve();
    expect(routed).toBeUndefined();
    expect(t.endpoint.workers()[0]?.state).toBe("initializing");
    t.clock.advance(500);
    t.endpoint.healthChecked("w1", 200, "");
    await Promise.resolve();
    expect(routed && "lease" in routed && routed.lease).toMatchObject({ workerId: "w1", port: 5001 });
    expect(t.events).toContainEqual(expect.objectContaining({ type: "worker", workerId: "w1", state: "idle", coldStartMs: 800 }));
    expect(t.endpoint.workers()[0]?.state).toBe("running");
    if (routed && "lease" in routed) routed.lease.release(outcome);
    expect(t.endpoint.health()).toMatchObject({ requests: { completed: 1, inProgress: 0, waiting: 0 }, workers: { idle: 1, ready: 1 } });
    expect(t.events).toContainEqual(expect.objectContaining({ type: "request", workerId: "w1", status: 200, method: "GET" }));
  });

  it("refuses with no workers available once the request timeout passes", async () => {
    const t = setup(2_000);
    const routed = t.endpoint.route(undefined);
    t.clock.advance(2_000);
    expect(await routed).toEqual({ refused: "no workers available" });
    expect(t.endpoint.health().requests.waiting).toBe(0);
  });

  it("spreads requests over ready workers, least busy first, and takes out of rotation a worker whose health fails", async () => {
    const t = setup();
    for (const [id, port] of [["w1", 1], ["w2", 2]] as const) {
      t.start(id, port);
      t.endpoint.healthChecked(id, 200, "");
    }
    const first = await t.endpoint.route(undefined);
    const second = await t.endpoint.route(undefined);
    expect(new Set([workerOf(first), workerOf(second)])).toEqual(new Set(["w1", "w2"]));
    if ("lease" in first) first.lease.release(outcome);
    expect(workerOf(await t.endpoint.route(undefined))).toBe(workerOf(first));
    t.endpoint.healthChecked("w2", 500, "");
    expect(t.endpoint.workers().find((w) => w.id === "w2")?.state).toBe("unhealthy");
    expect(t.endpoint.health().workers.unhealthy).toBe(1);
    for (let i = 0; i < 3; i++) expect(workerOf(await t.endpoint.route(undefined))).toBe("w1");
  });

  it("follows affinity: soft prefers the named worker, strict waits for it and is refused when it is gone", async () => {
    const t = setup();
    for (const id of ["w1", "w2"]) {
      t.start(id, 1);
      t.endpoint.healthChecked(id, 200, "");
    }
    for (let i = 0; i < 3; i++) expect(workerOf(await t.endpoint.route({ workerId: "w2", strict: false }))).toBe("w2");
    expect(workerOf(await t.endpoint.route({ workerId: "w9", strict: false }))).toMatch(/^w[12]$/);
    expect(await t.endpoint.route({ workerId: "w9", strict: true })).toEqual({ refused: "affinity_worker_gone" });
    const w3 = t.start("w3", 3);
    const waiting = t.endpoint.route({ workerId: "w3", strict: true });
    t.endpoint.removeWorker(w3, { code: 1, signal: null, byEmulator: false, lastLines: [] });
    expect(await waiting).toEqual({ refused: "affinity_worker_gone" });
    t.start("w4", 4);
    const late = t.endpoint.route({ workerId: "w4", strict: true });
    t.clock.advance(10_000);
    expect(await late).toEqual({ refused: "worker_timeout" });
  });

  it("sends new requests to workers on the current code only, and recycles an outdated one when its requests end", async () => {
    const t = setup();
    const old = t.start("w1", 1);
    t.endpoint.healthChecked("w1", 200, "");
    const held = await t.endpoint.route(undefined);
    t.newVersion("v2");
    t.endpoint.registry.outdate(old, "finishing its requests on the previous code");
    let routed: Routed | undefined;
    void t.endpoint.route(undefined).then((r) => (routed = r));
    t.start("w2", 2);
    t.endpoint.healthChecked("w2", 200, "");
    await Promise.resolve();
    expect(routed && workerOf(routed)).toBe("w2");
    expect(t.calls).not.toContain("recycle w1");
    if ("lease" in held) held.lease.release(outcome);
    expect(t.calls).toContain("recycle w1");
  });

  it("withdraws a waiting request whose client left", async () => {
    const t = setup();
    const left = new AbortController();
    const routed = t.endpoint.route(undefined, left.signal);
    left.abort();
    expect(await routed).toEqual({ refused: "no workers available" });
    expect(t.endpoint.health().requests.waiting).toBe(0);
  });
});
