import type { Clock } from "./core/clock.js";
import type { EmulatorEvent } from "./core/events.js";
import type { HandlerFunction } from "./workers/inline-worker.js";

/** Everything that configures an emulator; the CLI flags map onto these one to one. */
export interface EmulatorOptions {
  /**
   * Path of the handler file (Python or Node), "mock" for the built-in mock worker, or a JavaScript
   * function (sync, async or a generator), which runs in this process behind the same queue and protocol.
   */
  handler?: string | HandlerFunction;
  /** Same as handler "mock". */
  mock?: boolean;
  /** 0 = any free port. */
  port?: number;
  host?: string;
  endpointId?: string;
  /** When set, every client route requires it (Bearer or raw). */
  apiKey?: string;
  /** The Python interpreter for .py handlers. */
  python?: string;
  /** SQLite file; default `.runpod-emulator/emulator.db` under cwd. */
  db?: string;
  inMemory?: boolean;
  minWorkers?: number;
  maxWorkers?: number;
  /** Seconds a worker above the minimum may stay idle. */
  idleTimeout?: number;
  scaler?: "queue-delay" | "request-count";
  /** Seconds the oldest job may wait before the queue-delay scaler adds a worker. */
  queueDelay?: number;
  /** Jobs per worker for the request-count scaler. */
  requestsPerWorker?: number;
  /** Seconds; the endpoint's default execution timeout. */
  executionTimeout?: number;
  /** Milliseconds of simulated start-up before a new worker's process starts. */
  coldStart?: number;
  flashboot?: boolean;
  /** "all", "none" or a list of indices such as "0,2". */
  gpus?: string;
  gpusPerWorker?: number;
  watch?: boolean;
  /** Finished jobs kept in the database; older ones are deleted with their logs and chunks. */
  historyLimit?: number;
  /** The folder handlers run in; default the process's cwd. */
  cwd?: string;
  /** The environment workers start from; default the process's. */
  env?: NodeJS.ProcessEnv;

  // Fine-tuning, mostly for tests; durations in milliseconds.
  /** Default TTL of a job. */
  ttl?: number;
  /** How long the API answers for a finished /run job. */
  runRetention?: number;
  /** How long the API answers for a finished /runsync job. */
  runsyncRetention?: number;
  /** Body limits in bytes. */
  maxRunBody?: number;
  maxRunsyncBody?: number;
  /** How long job-take and job-stop long-polls are held. */
  pollHold?: number;
  /** SIGTERM → SIGKILL grace when stopping a worker. */
  stopGrace?: number;
  /** How long a worker may keep a cancelled or timed-out job before it is killed. */
  releaseGrace?: number;
  pingInterval?: number;
  /**
   * How long a worker may go without any request (ping, job-take, result) before it is unhealthy, and
   * killed if it holds jobs, which are then handled as a lost worker's; default 3 ping intervals, 0: never.
   */
  pingTimeout?: number;
  /** How long file changes are collected into one reload. */
  reloadDebounce?: number;
  /** Delay between webhook attempts, and how long one attempt may take. */
  webhookRetryDelay?: number;
  webhookTimeout?: number;
  clock?: Clock;
  /** Receives every event from the very start (the first workers' start-up included). */
  onEvent?: (event: EmulatorEvent) => void;
}

/** The defaults: the hosted platform's where it has one (SPEC §1.4, §3.2). */
export const defaults = {
  port: 8000,
  host: "127.0.0.1",
  endpointId: "local",
  minWorkers: 0,
  maxWorkers: 3,
  idleTimeout: 5,
  scaler: "queue-delay" as const,
  queueDelay: 4,
  requestsPerWorker: 1,
  executionTimeout: 600,
  coldStart: 0,
  flashboot: false,
  gpus: "all",
  watch: true,
  historyLimit: 100_000,
  ttl: 86_400_000,
  runRetention: 30 * 60_000,
  runsyncRetention: 60_000,
  maxRunBody: 10_000_000,
  maxRunsyncBody: 20_000_000,
  pollHold: 30_000,
  stopGrace: 5_000,
  releaseGrace: 5_000,
  pingInterval: 10_000,
  reloadDebounce: 150,
  webhookRetryDelay: 10_000,
  webhookTimeout: 10_000,
};
