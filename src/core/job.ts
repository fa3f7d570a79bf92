import type { JobPolicy, JobStatus, JobStatusObject } from "../types.js";
import { TERMINAL_STATUSES } from "../types.js";

export type JobKind = "run" | "runsync";

/** Everything the emulator knows about one job; the store persists exactly this. */
export interface Job {
  id: string;
  endpointId: string;
  kind: JobKind;
  status: JobStatus;
  input: unknown;
  /** `undefined` means "no output", which is not the same as an output of `null`. */
  output?: unknown;
  error?: string;
  policy: JobPolicy;
  webhook?: string;
  s3Config?: Record<string, unknown>;
  createdAt: number;
  takenAt?: number;
  finishedAt?: number;
  delayTime?: number;
  executionTime?: number;
  workerId?: string;
  /** Shown as `retries`: requeues by /retry and after a worker was lost. */
  retries: number;
  /** How often a worker died holding this job; the second loss fails it. */
  lost: number;
  handlerVersion?: string;
  /** The handler file of the endpoint that took the job (absolute), when it runs a file. */
  handlerFile?: string;
  /** When the API stops answering for this job (TTL, or retention after a terminal state). */
  expiresAt: number;
  /** Stream chunks received so far, and how many /stream has already returned. */
  streamCount: number;
  streamCursor: number;
}

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** The status object of SPEC §1.3: fields appear only when they mean something. */
export function statusObject(job: Job): JobStatusObject {
  const body: JobStatusObject = { id: job.id, status: job.status };
  if (job.delayTime !== undefined) body.delayTime = job.delayTime;
  if (job.executionTime !== undefined && isTerminal(job.status)) body.executionTime = job.executionTime;
  if (job.output !== undefined) body.output = job.output;
  if (job.error !== undefined) body.error = job.error;
  if (job.workerId !== undefined) body.workerId = job.workerId;
  if (job.retries > 0) body.retries = job.retries;
  return body;
}

/** The job object a worker receives from job-take (SPEC §2.3). */
export function workerJob(job: Job): Record<string, unknown> {
  const body: Record<string, unknown> = { id: job.id, input: job.input };
  if (job.webhook !== undefined) body.webhook = job.webhook;
  if (job.s3Config !== undefined) body.s3Config = job.s3Config;
  return body;
}
