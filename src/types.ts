/** The shapes of the hosted queue API (SPEC §1), exported for applications that test against the emulator. */

export type JobStatus = "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED" | "FAILED" | "CANCELLED" | "TIMED_OUT";

export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);

/** `policy` of a /run or /runsync request. All durations in milliseconds. */
export interface JobPolicy {
  executionTimeout?: number;
  ttl?: number;
  lowPriority?: boolean;
}

/** The body of POST /run and /runsync. */
export interface RunRequest<Input = unknown> {
  input: Input;
  webhook?: string;
  policy?: JobPolicy;
  s3Config?: Record<string, unknown>;
}

/** Answer of POST /run (and /retry). */
export interface RunResponse {
  id: string;
  status: "IN_QUEUE";
}

/** The status object of /status, /runsync, /status-sync and /cancel. */
export interface JobStatusObject<Output = unknown> {
  id: string;
  status: JobStatus;
  delayTime?: number;
  executionTime?: number;
  output?: Output;
  error?: string;
  workerId?: string;
  retries?: number;
}

/** Answer of /stream/{id}: only the chunks not returned by an earlier call. */
export interface StreamResponse<Chunk = unknown> {
  status: JobStatus;
  stream: { output: Chunk }[];
}

/** Answer of POST /purge-queue. */
export interface PurgeQueueResponse {
  removed: number;
  status: "completed";
}

/** Worker counts of GET /health, as the hosted Workers tab shows them. */
export interface HealthWorkers {
  idle: number;
  initializing: number;
  ready: number;
  running: number;
  throttled: number;
  unhealthy: number;
}

/** The workers that exist by how the platform counts them: the minimum, up to the maximum, beyond it in a spike (an emulator addition). */
export interface WorkerTypeCounts {
  active: number;
  flex: number;
  extra: number;
}

/** A worker's memory, as sampled (an emulator addition): the resident bytes of its processes now and at most, and its limit (workerMemory). */
export interface WorkerMemory {
  usedBytes: number;
  peakBytes: number;
  limitBytes?: number;
}

/** Answer of GET /health. */
export interface HealthResponse {
  jobs: { completed: number; failed: number; inProgress: number; inQueue: number; retried: number };
  workers: HealthWorkers;
  workerTypes?: WorkerTypeCounts;
  /** Each worker's memory by worker id, where it is measured (worker processes, on Linux); an emulator addition. */
  workerMemory?: Record<string, WorkerMemory>;
}

/** Answer of GET /health on a load-balancing endpoint: requests instead of jobs (an emulator addition). */
export interface LoadBalancerHealthResponse {
  requests: { completed: number; failed: number; inProgress: number; waiting: number };
  workers: HealthWorkers;
  workerTypes: WorkerTypeCounts;
  /** As HealthResponse's. */
  workerMemory?: Record<string, WorkerMemory>;
}

/** Every error body. */
export interface ErrorResponse {
  error: string;
}
