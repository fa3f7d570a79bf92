import { randomUUID } from "node:crypto";
import type { JobStore } from "../store/jobs.js";
import type { JobPolicy, JobStatus } from "../types.js";
import type { Clock } from "./clock.js";
import type { EventBus } from "./events.js";
import { type Job, type JobKind, isTerminal } from "./job.js";
import type { Lifetimes } from "./lifetimes.js";
import { JobQueue } from "./queue.js";

/** What a client submitted, already validated. */
export interface Submission {
  input: unknown;
  policy: JobPolicy;
  webhook?: string;
  s3Config?: Record<string, unknown>;
}

/** How long the API keeps answering for a finished job, per request kind (ms). */
export type Retention = Record<JobKind, number>;

/** What the queue looks like to the scaler. */
export interface QueueState {
  /** Queued jobs that may cause a scale-up (not low priority). */
  queued: number;
  inProgress: number;
  /** How long the oldest of those has waited. */
  oldestWaitMs: number | undefined;
}

/**
 * The life of one endpoint's jobs: IN_QUEUE → IN_PROGRESS → COMPLETED, FAILED, CANCELLED or TIMED_OUT,
 * with the ways back to the queue (a take that never reached its worker, a lost worker, /retry). Every
 * transition is written to the store and announced as a `status` event; unfinished jobs stay in memory
 * (the live objects the API hands out), finished ones are read back from the store.
 */
export class JobStates {
  private readonly live = new Map<string, Job>();
  private readonly queue = new JobQueue();
  private queued = 0;
  private queuedLowPriority = 0;
  private running = 0;

  constructor(
    private readonly endpointId: string,
    private readonly retention: Retention,
    private readonly store: JobStore,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly lifetimes: Lifetimes,
  ) {}

  get inQueue(): number {
    return this.queued;
  }

  get inProgress(): number {
    return this.running;
  }

  /** The unfinished job with this id (the live object the API and workers share), if any. */
  current(id: string): Job | undefined {
    return this.live.get(id);
  }

  /**
   * Loads what a previous run left: queued jobs keep their place; jobs that were running when the
   * emulator died count as lost once (SPEC §4) and are requeued or failed.
   */
  recover(): void {
    for (const job of this.store.withStatus(this.endpointId, "IN_QUEUE")) this.enqueue(job, false);
    for (const job of this.store.withStatus(this.endpointId, "IN_PROGRESS")) {
      this.live.set(job.id, job);
      this.running++;
      this.lose(job, "the emulator stopped while this job was running");
    }
  }

  /** Queues a new job (/run, /runsync). */
  submit(submission: Submission, kind: JobKind): Job {
    const now = this.clock.now();
    const job: Job = {
      id: `${kind === "runsync" ? "sync-" : ""}${randomUUID()}-u1`,
      endpointId: this.endpointId,
      kind,
      status: "IN_QUEUE",
      input: submission.input,
      policy: submission.policy,
      webhook: submission.webhook,
      s3Config: submission.s3Config,
      createdAt: now,
      retries: 0,
      lost: 0,
      expiresAt: 0,
      streamCount: 0,
      streamCursor: 0,
    };
    job.expiresAt = now + this.lifetimes.ttl(job);
    this.store.insert(job);
    this.enqueue(job, false);
    this.emit(job);
    return job;
  }

  /** Takes up to `max` queued jobs, oldest first, for a worker; written in one transaction. */
  take(max: number, workerId: string, handlerVersion: string | undefined, handlerFile?: string): Job[] {
    return this.store.transaction(() => {
      const jobs: Job[] = [];
      const now = this.clock.now();
      while (jobs.length < max && this.queued > 0) {
        const job = this.queue.shift();
        if (!job) break;
        if (job.expiresAt <= now) {
          this.finish(job, "TIMED_OUT", { error: `the job's ttl of ${this.lifetimes.ttl(job)} ms passed before a worker took it` });
          continue;
        }
        this.countQueued(job, -1);
        job.status = "IN_PROGRESS";
        job.takenAt = now;
        job.delayTime = now - job.createdAt;
        job.workerId = workerId;
        job.handlerVersion = handlerVersion;
        job.handlerFile = handlerFile;
        this.running++;
        this.store.update(job);
        this.lifetimes.arm(job);
        this.emit(job, "IN_QUEUE");
        jobs.push(job);
      }
      return jobs;
    });
  }

  /** Sends a job back to the queue. `counted`: a worker was lost with it, so it shows as a retry. */
  requeue(job: Job, counted: boolean, atHead = true): void {
    const previous = job.status;
    if (previous === "IN_PROGRESS") this.running--;
    job.status = "IN_QUEUE";
    job.takenAt = job.delayTime = job.workerId = undefined;
    job.output = undefined;
    if (counted) {
      job.retries++;
      this.store.incrementCounter(this.endpointId, "retried");
    }
    this.store.update(job);
    this.enqueue(job, atHead);
    this.emit(job, previous);
  }

  /**
   * A job lost with its worker: requeued the first time, failed the second (SPEC §3.4). The worker's
   * last lines follow the error's complete first line; the warning leaves them out, as the terminal
   * printed them as they came.
   */
  lose(job: Job, reason: string, lastLines: string[] = []): void {
    job.lost++;
    if (job.lost === 1) {
      this.requeue(job, true);
      this.bus.emit({ type: "warning", endpointId: this.endpointId, time: this.clock.now(), jobId: job.id, message: `${reason}; requeued once` });
    } else {
      const output = lastLines.length ? `\nits last output:\n${lastLines.join("\n")}` : "";
      this.finish(job, "FAILED", { error: `${reason} (the job was lost twice, so it was not requeued again)${output}` });
    }
  }

  /** Moves a job to a terminal state; the API keeps answering for it during its retention. */
  finish(job: Job, status: JobStatus, result: { output?: unknown; error?: string; note?: string }): void {
    const previous = job.status;
    const now = this.clock.now();
    if (previous === "IN_QUEUE") this.countQueued(job, -1);
    if (previous === "IN_PROGRESS") this.running--;
    this.lifetimes.disarm(job.id);
    this.live.delete(job.id);
    job.status = status;
    if (result.output !== undefined || status === "COMPLETED") job.output = result.output;
    job.error = result.error;
    job.finishedAt = now;
    if (job.takenAt !== undefined) job.executionTime = now - job.takenAt;
    job.expiresAt = Math.min(job.expiresAt, now + this.retention[job.kind]);
    this.store.transaction(() => {
      this.store.update(job);
      if (status === "COMPLETED") this.store.incrementCounter(this.endpointId, "completed");
      if (status === "FAILED" || status === "TIMED_OUT") this.store.incrementCounter(this.endpointId, "failed");
    });
    this.emit(job, previous, result.note);
  }

  /** A progress update: the running job's interim output. */
  progress(job: Job, workerId: string, output: unknown): void {
    job.output = output;
    this.store.update(job);
    this.bus.emit({ type: "progress", endpointId: this.endpointId, time: this.clock.now(), jobId: job.id, workerId, output });
  }

  /** One stream chunk, appended in arrival order. */
  appendChunk(job: Job, workerId: string, output: unknown): void {
    const seq = job.streamCount;
    const time = this.clock.now();
    this.store.appendChunk(job, output, time);
    job.streamCount++;
    this.bus.emit({ type: "stream", endpointId: this.endpointId, time, jobId: job.id, workerId, seq, output });
  }

  /** Requeues a FAILED or TIMED_OUT job with its original input; false when its state forbids it. */
  retry(job: Job): boolean {
    if (job.status !== "FAILED" && job.status !== "TIMED_OUT") return false;
    const previous = job.status;
    job.status = "IN_QUEUE";
    job.output = job.error = undefined;
    job.takenAt = job.finishedAt = job.delayTime = job.executionTime = job.workerId = undefined;
    job.retries++;
    job.createdAt = this.clock.now();
    job.expiresAt = job.createdAt + this.lifetimes.ttl(job);
    this.store.update(job);
    this.store.incrementCounter(this.endpointId, "retried");
    this.enqueue(job, false);
    this.emit(job, previous);
    return true;
  }

  /** Cancels every queued job; returns how many there were. */
  purge(): number {
    let removed = 0;
    for (const job of [...this.live.values()]) {
      if (job.status !== "IN_QUEUE") continue;
      this.finish(job, "CANCELLED", { note: "purged from the queue" });
      removed++;
    }
    return removed;
  }

  /** `/status?ttl=ms`: the job's remaining lifetime becomes at most `ms`. */
  shorten(job: Job, ms: number): void {
    const expiresAt = this.clock.now() + ms;
    if (expiresAt >= job.expiresAt) return;
    job.expiresAt = expiresAt;
    this.store.update(job);
    if (!isTerminal(job.status)) this.lifetimes.arm(job);
  }

  /** Queued jobs that may scale the pool, and how long the oldest of them has waited. */
  queueState(): QueueState {
    const queued = this.queued - this.queuedLowPriority;
    const oldest = queued > 0 ? this.queue.find((job) => !job.policy.lowPriority) : undefined;
    return { queued, inProgress: this.running, oldestWaitMs: oldest && this.clock.now() - oldest.createdAt };
  }

  private enqueue(job: Job, atHead: boolean): void {
    this.live.set(job.id, job);
    if (atHead) this.queue.unshift(job);
    else this.queue.push(job);
    this.countQueued(job, 1);
    this.lifetimes.arm(job);
  }

  private countQueued(job: Job, delta: number): void {
    this.queued += delta;
    if (job.policy.lowPriority) this.queuedLowPriority += delta;
  }

  private emit(job: Job, previous?: JobStatus, note?: string): void {
    this.bus.emit({ type: "status", endpointId: this.endpointId, time: this.clock.now(), job, previous, note });
  }
}
