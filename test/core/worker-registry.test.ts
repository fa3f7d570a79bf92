import { describe, expect, it } from "vitest";
import { FakeClock } from "../../src/core/clock.js";
import { type EmulatorEvent, EventBus } from "../../src/core/events.js";
import { WorkerRegistry } from "../../src/core/worker-registry.js";

function setup(pingTimeoutMs = 30_000) {
  const clock = new FakeClock();
  const bus = new EventBus();
  const announced: string[] = [];
  bus.on((e: EmulatorEvent) => {
    if (e.type === "worker") announced.push(`${e.workerId} ${e.state}${e.detail ? `: ${e.detail}` : ""}`);
  });
  const heard: string[] = [];
  const registry = new WorkerRegistry("ep", { pollHoldMs: 30_000, releaseGraceMs: 5_000, pingTimeoutMs }, bus, clock, {
    changed: (worker) => heard.push(`changed ${worker.id} ${worker.state}`),
    silent: (worker) => heard.push(`silent ${worker.id}`),
    overdue: (worker, jobId) => heard.push(`overdue ${worker.id} ${jobId}`),
  });
  return { clock, registry, announced, heard };
}

describe("WorkerRegistry", () => {
  it("announces a worker's life: initializing, ready with its cold start, and exited", () => {
    const t = setup();
    const worker = t.registry.add("w1", "s", "v1");
    t.clock.advance(840);
    t.registry.ready(worker);
    t.registry.remove(worker, "exited with code 3");
    t.registry.remove(worker, "twice");
    expect(t.announced).toEqual(["w1 initializing", "w1 idle", "w1 exited: exited with code 3"]);
    expect(t.heard).toEqual(["changed w1 idle"]);
    expect(t.registry.get("w1")).toBeUndefined();
  });

  it("announces a state only when it changes, or with a new detail", () => {
    const t = setup();
    const worker = t.registry.add("w1", "s", undefined);
    t.registry.ready(worker);
    t.registry.refresh(worker);
    worker.held.add("j1");
    t.registry.refresh(worker);
    t.registry.refresh(worker);
    worker.outdated = true;
    t.registry.refresh(worker, "finishing its job on the previous code");
    expect(t.announced).toEqual(["w1 initializing", "w1 idle", "w1 running", "w1 outdated: finishing its job on the previous code"]);
  });

  it("holds job-take and job-stop polls until answered or the hold passes", async () => {
    const t = setup();
    const worker = t.registry.add("w1", "s", undefined);
    const take = t.registry.holdTake(worker, 2);
    expect(worker.take?.max).toBe(2);
    t.clock.advance(30_000);
    expect(await take).toEqual([]);
    const stops = t.registry.holdStops(worker);
    worker.held.add("j1");
    t.registry.stopJob(worker, "j1");
    expect(await stops).toEqual(["j1"]);
  });

  it("calls a stopped job overdue after the grace, unless the worker let go of it", () => {
    const t = setup();
    const worker = t.registry.add("w1", "s", undefined);
    for (const job of ["j1", "j2"]) {
      worker.held.add(job);
      t.registry.stopJob(worker, job);
    }
    t.registry.releaseAllBut(worker, new Set(["j2"]));
    expect([...worker.held]).toEqual(["j2"]);
    t.clock.advance(5_000);
    expect(t.heard).toEqual(["overdue w1 j2"]);
    expect(t.registry.release(worker, "j2")).toBe(true);
    expect(t.registry.release(worker, "j2")).toBe(false);
  });

  it("calls a worker silent after the ping timeout without any request, and revives it when heard from", () => {
    const t = setup();
    const worker = t.registry.add("w1", "s", undefined);
    t.registry.seen(worker);
    t.registry.ready(worker);
    t.clock.advance(20_000);
    t.registry.seen(worker);
    t.clock.advance(29_999);
    expect(worker.silent).toBe(false);
    t.clock.advance(1);
    expect(t.heard.slice(-2)).toEqual(["changed w1 unhealthy", "silent w1"]);
    expect(t.announced.at(-1)).toBe("w1 unhealthy: nothing heard from it for 30000 ms (no ping, job-take or result)");
    expect(worker.acceptsJobs).toBe(false);
    t.registry.seen(worker);
    expect(worker.state).toBe("idle");
    t.clock.advance(30_000);
    expect(t.heard.filter((h) => h.startsWith("silent"))).toHaveLength(2);
  });

  it("watches no worker for silence with a ping timeout of 0, nor one that is stopping", () => {
    const off = setup(0);
    const quiet = off.registry.add("w1", "s", undefined);
    off.registry.seen(quiet);
    off.clock.advance(600_000);
    expect(quiet.silent).toBe(false);
    const t = setup();
    const stopping = t.registry.add("w1", "s", undefined);
    t.registry.seen(stopping);
    stopping.stopping = true;
    t.clock.advance(600_000);
    expect(stopping.silent).toBe(false);
  });

  it("counts the workers by state as /health shows them, and lists them", () => {
    const t = setup();
    const [idle, running, outdated, reported] = ["w1", "w2", "w3", "w4"].map((id) => t.registry.add(id, "s", "v1"));
    t.registry.add("w5", "s", "v1");
    const stopping = t.registry.add("w6", "s", "v1");
    for (const worker of [idle, running, outdated, reported]) t.registry.ready(worker);
    running.held.add("j1");
    outdated.held.add("j2");
    outdated.outdated = true;
    reported.reportedUnhealthy = "gpu: no CUDA";
    stopping.stopping = true;
    expect(t.registry.counts()).toEqual({ idle: 1, initializing: 1, ready: 1, running: 2, throttled: 0, unhealthy: 1 });
    expect(t.registry.list().map((w) => [w.id, w.state, w.jobs])).toEqual([
      ["w1", "idle", []], ["w2", "running", ["j1"]], ["w3", "outdated", ["j2"]], ["w4", "unhealthy", []], ["w5", "initializing", []], ["w6", "stopping", []],
    ]);
  });

  it("answers every poll and stops every timer when closed", async () => {
    const t = setup();
    const worker = t.registry.add("w1", "s", undefined);
    t.registry.seen(worker);
    worker.held.add("j1");
    t.registry.stopJob(worker, "j1");
    const take = t.registry.holdTake(worker, 1);
    t.registry.close();
    expect(await take).toEqual([]);
    t.clock.advance(600_000);
    expect(t.heard).toEqual([]);
  });
});
