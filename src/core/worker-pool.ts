import type { Clock } from "./clock.js";
import type { WorkerType } from "./events.js";
import type { QueueState } from "./job-state.js";
import type { WorkerPort } from "./worker-port.js";
import type { WorkerSlot } from "./worker-slot.js";
import type { WorkerRegistry } from "./worker-registry.js";

/**
 * The seam between an endpoint and the pool that runs its workers' processes. The endpoint decides
 * (which worker gets which job, which is stuck or silent, which must go); the pool acts on processes.
 * The endpoint builds its pool once, from a factory given at construction, and hands it a
 * `PoolEndpoint`: each side knows the other only through these two interfaces.
 */
export interface WorkerPool {
  /** The queue or the workers changed: time to reconsider how many workers there should be. */
  reconsider(): void;
  /** A worker's state changed (its first job-take, idle, running, unhealthy…). */
  workerChanged(worker: WorkerSlot): void;
  /** Replace the worker once it holds no job: it asked to be (refresh_worker), or it went idle outdated. */
  recycle(workerId: string): void;
  /** End the worker's processes at once: it did not let go of a stopped job, or stopped answering. */
  kill(workerId: string): void;
  /** Whether the worker runs the current handler code, so it may be given jobs. */
  isCurrent(worker: WorkerSlot): boolean;
  /** Workers the pool wants that do not exist. */
  shortfall(): PoolShortfall;
}

/** Workers wanted but missing, as /health counts them (SPEC §3.2). */
export interface PoolShortfall {
  /** Wanted, but no GPU is free for them. */
  throttled: number;
  /** Failed to start (before their first job-take), and not yet tried again. */
  unhealthy: number;
}

/** How a worker process ended. `byEmulator`: the emulator stopped it (reload, scale-down, refresh, kill). */
export interface WorkerExit {
  code: number | null;
  signal: string | null;
  byEmulator: boolean;
  lastLines: string[];
  /** Why the pool killed it, said instead of the exit code or signal: it went over its memory limit. */
  killedFor?: string;
}

/** How a worker's exit reads in messages: "exited with code 1", "was killed by SIGKILL (…)", or why the pool killed it. */
export function describeExit(exit: Pick<WorkerExit, "code" | "signal" | "killedFor">): string {
  return exit.killedFor ?? (exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`);
}

/** What a pool may ask of its endpoint. */
export interface PoolEndpoint {
  readonly id: string;
  readonly clock: Clock;
  /** The queue as the scaler sees it. */
  queueState(): QueueState;
  /** Registers a worker about to start. */
  addWorker(id: string, secret: string, handlerVersion: string | undefined, type: WorkerType): WorkerSlot;
  /**
   * The variables through which the worker reaches the platform: the worker protocol's URLs for a queue
   * endpoint (`apiBase` is `http://127.0.0.1:PORT/v2`), none for a load-balancing one.
   */
  workerEnvironment(workerId: string, secret: string, apiBase: string): Record<string, string>;
  /** The worker protocol as calls, for a worker run in this process; none where workers are servers (load balancing). */
  port?(worker: WorkerSlot): WorkerPort;
  /**
   * Its workers: `outdate` one that runs superseded code (it takes no new job, and is recycled once it
   * holds none); `drain` one the pool is stopping (its polls are answered at once, it gets no more jobs).
   */
  readonly registry: Pick<WorkerRegistry, "outdate" | "drain">;
  /** The worker's process is gone: its jobs go back to the queue or fail (SPEC §3.4). */
  removeWorker(worker: WorkerSlot, exit: WorkerExit): void;
  /** Announces a state of the pool's own that no existing worker has: `throttled` or `unhealthy`. */
  announce(workerId: string, state: "throttled" | "unhealthy", detail: string): void;
  /** A line a worker printed. */
  log(workerId: string, stream: "stdout" | "stderr", message: string, jobId?: string, level?: string): void;
  warn(message: string, jobId?: string): void;
}
