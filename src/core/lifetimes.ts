import type { Clock, TimerHandle } from "./clock.js";
import type { Job } from "./job.js";

/** An endpoint's defaults for the limits a job's `policy` may override (ms). */
export interface LifetimeDefaults {
  executionTimeout: number;
  ttl: number;
}

/**
 * The one timer each unfinished job has: its TTL while queued, its execution timeout (never past its TTL)
 * while running. When it fires, `timedOut` receives the job and the error that names the limit. Retention
 * needs no timer: a finished job's `expiresAt` is simply compared with the clock when it is asked for.
 */
export class Lifetimes {
  private readonly timers = new Map<string, TimerHandle>();

  constructor(
    private readonly clock: Clock,
    private readonly defaults: LifetimeDefaults,
    private readonly timedOut: (job: Job, error: string) => void,
  ) {}

  /** The job's TTL in ms: its policy's, or the endpoint's. */
  ttl(job: Job): number {
    return job.policy.ttl ?? this.defaults.ttl;
  }

  /** (Re)starts the job's timer for its current state. */
  arm(job: Job): void {
    const now = this.clock.now();
    if (job.status !== "IN_PROGRESS") {
      return this.set(job, job.expiresAt - now, `the job's ttl of ${this.ttl(job)} ms passed before it finished`);
    }
    const limit = job.policy.executionTimeout ?? this.defaults.executionTimeout;
    if (job.expiresAt - now <= limit) this.set(job, job.expiresAt - now, `the job's ttl of ${this.ttl(job)} ms passed before it finished`);
    else this.set(job, limit, `the job ran longer than its execution timeout of ${limit} ms`);
  }

  /** The job left the state its timer was for. */
  disarm(jobId: string): void {
    const timer = this.timers.get(jobId);
    if (timer === undefined) return;
    this.clock.clearTimeout(timer);
    this.timers.delete(jobId);
  }

  /** Clears every timer (the endpoint is closing). */
  clear(): void {
    for (const timer of this.timers.values()) this.clock.clearTimeout(timer);
    this.timers.clear();
  }

  private set(job: Job, ms: number, error: string): void {
    this.disarm(job.id);
    this.timers.set(job.id, this.clock.setTimeout(() => {
      this.timers.delete(job.id);
      this.timedOut(job, error);
    }, ms));
  }
}
