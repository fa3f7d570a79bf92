import type { LoadBalancerHealthResponse } from "../types.js";
import type { Clock } from "./clock.js";
import type { EventBus, WorkerType } from "./events.js";
import type { QueueState } from "./job-state.js";
import { type PoolEndpoint, type WorkerExit, type WorkerPool, describeExit } from "./worker-pool.js";
import { type WorkerInfo, WorkerRegistry } from "./worker-registry.js";
import type { WorkerSlot } from "./worker-slot.js";
import { type Affinity, type RequestWaiter, RequestWaiters } from "./request-waiters.js";

export type { Affinity } from "./request-waiters.js";

/** The settings of one load-balancing endpoint; durations in milliseconds. */
export interface LoadBalancerSettings {
  id: string;
  /** How long a request waits for a ready worker before "no workers available". */
  requestTimeoutMs: number;
}

/** A request's hold on the worker it was routed to; `release` once its answer has ended. */
export interface Lease {
  workerId: string;
  port: number;
  release(outcome: { status: number; failed: boolean; method: string; path: string }): void;
}

/** Why a request got no worker, in the platform's words (SPEC §9). */
export type NoWorker = "no workers available" | "affinity_worker_gone" | "worker_timeout";

export type Routed = { lease: Lease } | { refused: NoWorker };

/**
 * One load-balancing endpoint (SPEC §9): requests go straight to a ready worker's own HTTP server, with
 * no queue and no retries. A worker is ready from its first `200` on the health path until it answers
 * anything else; a request with no ready worker waits (the scaler counts it) until one is ready or its
 * time runs out. Plain logic over an injected clock: the pool starts the servers, the proxy moves bytes.
 */
export class LoadBalancingEndpoint<P extends WorkerPool = WorkerPool> implements PoolEndpoint {
  readonly id: string;
  readonly pool: P;
  readonly registry: WorkerRegistry;
  private readonly waiters: RequestWaiters<Routed>;
  private readonly ports = new Map<string, number>();
  private inFlight = 0;
  private completed = 0;
  private failed = 0;
  private sequence = 0;
  /** Rotates among equally loaded workers. */
  private turn = 0;

  constructor(
    readonly settings: LoadBalancerSettings,
    private readonly parts: { bus: EventBus; clock: Clock },
    createPool: (endpoint: PoolEndpoint) => P,
  ) {
    this.id = settings.id;
    // No long-polls and no pings: a load-balancing worker is watched through its health path.
    this.registry = new WorkerRegistry(this.id, { pollHoldMs: 0, releaseGraceMs: 0, pingTimeoutMs: 0 }, parts.bus, parts.clock, {
      changed: (worker) => this.pool.workerChanged(worker),
      recycle: (worker) => this.pool.recycle(worker.id),
      silent: () => {},
      overdue: () => {},
    });
    this.waiters = new RequestWaiters<Routed>(parts.clock);
    this.pool = createPool(this);
  }

  get clock(): Clock {
    return this.parts.clock;
  }

  // ---------------------------------------------------------------- the proxy's side

  /**
   * A ready worker for one request: at once when there is one (the least busy, in turn), else once one
   * is ready, or refused after the request timeout. `affinity` asks for one worker (soft), or insists
   * (strict: refused at once when that worker is gone). An aborted `signal` withdraws the request.
   */
  route(affinity: Affinity | undefined, signal?: AbortSignal): Promise<Routed> {
    const routed = this.tryRoute(affinity);
    if (routed) return Promise.resolve(routed);
    return new Promise((resolve) => {
      const waiter = this.waiters.add(affinity, this.settings.requestTimeoutMs, resolve, { refused: affinity?.strict ? "worker_timeout" : "no workers available" });
      signal?.addEventListener(
        "abort",
        () => {
          this.waiters.remove(waiter);
          resolve({ refused: "no workers available" });
        },
        { once: true },
      );
      this.pool.reconsider();
    });
  }

  /** Request counts and the workers by state and type. */
  health(): LoadBalancerHealthResponse {
    const workers = this.registry.counts();
    const missing = this.pool.shortfall();
    workers.throttled += missing.throttled;
    workers.unhealthy += missing.unhealthy;
    return {
      requests: { completed: this.completed, failed: this.failed, inProgress: this.inFlight, waiting: this.waiters.size },
      workers,
      workerTypes: this.registry.types(),
      workerMemory: this.registry.memory(),
    };
  }

  /** Every worker that exists, with its state, since when, its cold start and pid. */
  workers(): WorkerInfo[] {
    return this.registry.list();
  }

  // ---------------------------------------------------------------- what the workers' runtime reports

  /** The worker's server was given `port` and its process started. */
  listening(workerId: string, port: number, pid: number | undefined): void {
    const worker = this.registry.get(workerId);
    if (!worker) return;
    this.ports.set(workerId, port);
    worker.pid = pid;
  }

  /**
   * One answer of the worker's health path: `200` ready, `204` still initializing, anything else (or no
   * answer, `status` undefined) unhealthy — except that a server not yet listening is still starting.
   */
  healthChecked(workerId: string, status: number | undefined, detail: string): void {
    const worker = this.registry.get(workerId);
    if (!worker || worker.stopping) return;
    if (status === 200) {
      const wasUnhealthy = worker.reportedUnhealthy !== undefined;
      worker.reportedUnhealthy = undefined;
      if (worker.firstTakeAt === undefined) this.registry.ready(worker);
      else if (wasUnhealthy) this.registry.refresh(worker, "healthy again");
      this.serveWaiting();
      return;
    }
    const starting = worker.firstTakeAt === undefined && (status === 204 || status === undefined);
    const reason = starting ? undefined : `its health check ${status === undefined ? "got no answer" : `answered ${status}`}${detail ? `: ${detail}` : ""}`;
    if (reason === worker.reportedUnhealthy) return;
    worker.reportedUnhealthy = reason;
    this.registry.refresh(worker, reason);
  }

  // ---------------------------------------------------------------- PoolEndpoint

  queueState(): QueueState {
    return { queued: this.waiters.size, inProgress: this.inFlight, oldestWaitMs: this.waiters.oldestWaitMs() };
  }

  addWorker(id: string, secret: string, handlerVersion: string | undefined, type: WorkerType = "flex"): WorkerSlot {
    return this.registry.add(id, secret, handlerVersion, type);
  }

  /** A load-balancing worker speaks no protocol to the emulator: its runtime gives it PORT and polls its health. */
  workerEnvironment(): Record<string, string> {
    return {};
  }

  removeWorker(worker: WorkerSlot, exit: WorkerExit): void {
    if (!this.registry.has(worker)) return;
    this.ports.delete(worker.id);
    const how = describeExit(exit);
    this.registry.remove(worker, exit.byEmulator ? undefined : how);
    this.waiters.refuseAffinity(worker.id, { refused: "affinity_worker_gone" });
    this.pool.reconsider();
  }

  announce(workerId: string, state: "throttled" | "unhealthy", detail: string): void {
    this.parts.bus.emit({ type: "worker", endpointId: this.id, time: this.clock.now(), workerId, state, detail });
  }

  /** A line the worker's server printed (load-balancing requests have no job to keep it with). */
  log(workerId: string, stream: "stdout" | "stderr", message: string, _jobId?: string, level?: string): void {
    this.parts.bus.emit({ type: "log", endpointId: this.id, time: this.clock.now(), workerId, stream, level, message });
  }

  warn(message: string): void {
    this.parts.bus.emit({ type: "warning", endpointId: this.id, time: this.clock.now(), message });
  }

  /** Refuses every waiting request (the emulator is closing). */
  close(): void {
    this.waiters.close({ refused: "no workers available" });
    this.registry.close();
  }

  // ---------------------------------------------------------------- internals

  /** New requests go to ready workers on the current code; outdated, stopping and unhealthy ones finish what they hold. */
  private routable(worker: WorkerSlot): boolean {
    const state = worker.state;
    return (state === "idle" || state === "running") && this.ports.has(worker.id) && this.pool.isCurrent(worker);
  }

  private tryRoute(affinity: Affinity | undefined): Routed | undefined {
    if (affinity) {
      const wanted = this.registry.get(affinity.workerId);
      if (wanted && this.routable(wanted)) return { lease: this.lease(wanted) };
      if (affinity.strict) return wanted ? undefined : { refused: "affinity_worker_gone" };
    }
    const ready = [...this.registry.all()].filter((worker) => this.routable(worker));
    if (ready.length === 0) return undefined;
    const least = Math.min(...ready.map((worker) => worker.held.size));
    const candidates = ready.filter((worker) => worker.held.size === least);
    return { lease: this.lease(candidates[this.turn++ % candidates.length] as WorkerSlot) };
  }

  private lease(worker: WorkerSlot): Lease {
    const requestId = `r${++this.sequence}`;
    const startedAt = this.clock.now();
    worker.held.add(requestId);
    this.inFlight++;
    this.registry.refresh(worker);
    let released = false;
    return {
      workerId: worker.id,
      port: this.ports.get(worker.id) as number,
      release: (outcome) => {
        if (released) return;
        released = true;
        this.inFlight--;
        if (outcome.failed) this.failed++;
        else this.completed++;
        worker.held.delete(requestId);
        const time = this.clock.now();
        this.parts.bus.emit({ type: "request", endpointId: this.id, time, workerId: worker.id, ...outcome, ms: time - startedAt });
        if (this.registry.has(worker)) this.registry.heldChanged(worker);
        this.pool.reconsider();
      },
    };
  }

  /** Hands ready workers to the requests waiting for one, oldest first. */
  private serveWaiting(): void {
    this.waiters.serve((waiter: RequestWaiter) => this.tryRoute(waiter.affinity));
  }
}
