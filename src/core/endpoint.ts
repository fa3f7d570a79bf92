import { randomUUID } from "node:crypto";
import type { LogStore } from "../store/logs.js";
import type { JobStore } from "../store/jobs.js";
import type { HealthResponse, JobPolicy, JobStatus } from "../types.js";
import type { Clock, TimerHandle } from "./clock.js";
import type { EventBus, WorkerState } from "./events.js";
import { type Job, type JobKind, isTerminal } from "./job.js";
import { JobQueue } from "./queue.js";
import { WorkerSlot } from "./worker-slot.js";

/** The settings of one endpoint; durations in milliseconds. */
export interface EndpointSettings {
  id: string;
  executionTimeout: number;
  ttl: number;
  /** How long the API keeps answering for a finished job, per request kind. */
  retention: Record<JobKind, number>;
  /** Largest result a job of each kind may return (the request body limit of its route). */
  resultLimit: Record<JobKind, number>;
  /** How long job-take and job-stop long-polls are held before answering 204. */
  pollHoldMs: number;
}

/** What a client submitted, already validated. */
export interface Submission {
  input: unknown;
  policy: JobPolicy;
  webhook?: string;
  s3Config?: Record<string, unknown>;
}

/** What job-done carries (SPEC §2.2). */
export interface JobDoneBody {
  status?: unknown;
  output?: unknown;
  error?: unknown;
  stopPod?: unknown;
}

/** How a worker process ended. `byEmulator`: the emulator stopped it (reload, scale-down, refresh, stuck job). */
export interface WorkerExit {
  code: number | null;
  signal: string | null;
  byEmulator: boolean;
  lastLines: string[];
}

/** The pool's side of the endpoint: the core decides, the pool acts on processes. */
export interface PoolHooks {
  /** The queue or the workers changed: time to reconsider scaling. */
  reconsider(): void;
  /** A running job was stopped (cancel, timeout, TTL); kill its worker if it does not let go in time. */
  jobStopRequested(workerId: string, jobId: string): void;
  /** The worker asked to be replaced (`stopPod`, refresh_worker). */
  recycle(workerId: string): void;
  /** Whether the worker runs the current handler code, so it may be given jobs. */
  isCurrent(worker: WorkerSlot): boolean;
}

const MB = 1_000_000;

/**
 * One queue endpoint: its jobs' state machine, its queue, the long-polls of its workers and clients, and
 * the lifetimes of its jobs. Plain logic over an injected clock, store and event bus: no network, no
 * processes.
 */
export class Endpoint {
  readonly id: string;
  private readonly live = new Map<string, Job>();
  private readonly queue = new JobQueue();
  private readonly workers = new Map<string, WorkerSlot>();
  /** Waiters for any change of one job (runsync, status-sync, stream long-polls). */
  private readonly jobWaiters = new Map<string, Set<() => void>>();
  private readonly timers = new Map<string, TimerHandle>();
  private hooks: PoolHooks = { reconsider() {}, jobStopRequested() {}, recycle() {}, isCurrent: () => true };
  private inQueue = 0;
  private inQueueLowPriority = 0;
  private inProgress = 0;

  constructor(
    readonly settings: EndpointSettings,
    private readonly store: JobStore,
    private readonly logs: LogStore,
    private readonly bus: EventBus,
    readonly clock: Clock,
  ) {
    this.id = settings.id;
  }

  setPoolHooks(hooks: PoolHooks): void {
    this.hooks = hooks;
  }

  // ---------------------------------------------------------------- start-up

  /**
   * Loads what a previous run left: queued jobs keep their place; jobs that were running when the
   * emulator died count as lost once (SPEC §4) and are requeued or failed.
   */
  recover(): void {
    for (const job of this.store.withStatus(this.id, "IN_QUEUE")) this.enqueue(job, false);
    for (const job of this.store.withStatus(this.id, "IN_PROGRESS")) {
      this.live.set(job.id, job);
      this.inProgress++;
      this.loseJob(job, "the emulator stopped while this job was running");
    }
  }

  // ---------------------------------------------------------------- client side

  /** Queues a new job (/run, /runsync). */
  submit(submission: Submission, kind: JobKind): Job {
    const now = this.clock.now();
    const job: Job = {
      id: `${kind === "runsync" ? "sync-" : ""}${randomUUID()}-u1`,
      endpointId: this.id,
      kind,
      status: "IN_QUEUE",
      input: submission.input,
      policy: submission.policy,
      webhook: submission.webhook,
      s3Config: submission.s3Config,
      createdAt: now,
      retries: 0,
      lost: 0,
      expiresAt: now + (submission.policy.ttl ?? this.settings.ttl),
      streamCount: 0,
      streamCursor: 0,
    };
    this.store.insert(job);
    this.enqueue(job, false);
    this.emitStatus(job);
    this.dispatch();
    this.hooks.reconsider();
    return job;
  }

  /** The job as the API may show it: undefined when unknown, of another endpoint, or past its lifetime. */
  visibleJob(id: string): Job | undefined {
    const job = this.live.get(id) ?? this.store.get(id);
    if (!job || job.endpointId !== this.id || job.expiresAt <= this.clock.now()) return undefined;
    return job;
  }

  /** `/status?ttl=ms`: the job's remaining lifetime becomes at most `ms`. */
  shortenLifetime(job: Job, ms: number): void {
    const expiresAt = this.clock.now() + ms;
    if (expiresAt >= job.expiresAt) return;
    job.expiresAt = expiresAt;
    this.store.update(job);
    if (!isTerminal(job.status)) this.scheduleExpiry(job);
  }

  /** Resolves when `ready(job)` holds, the job changes past recall, or `ms` passes. */
  async waitFor(job: Job, ms: number, ready: (job: Job) => boolean): Promise<Job> {
    if (ready(job) || ms <= 0) return job;
    await new Promise<void>((resolve) => {
      const waiters = this.jobWaiters.get(job.id) ?? new Set();
      this.jobWaiters.set(job.id, waiters);
      const done = () => {
        this.clock.clearTimeout(timer);
        waiters.delete(check);
        if (waiters.size === 0) this.jobWaiters.delete(job.id);
        resolve();
      };
      const check = () => {
        const current = this.live.get(job.id) ?? job;
        if (ready(current) || isTerminal(current.status)) done();
      };
      const timer = this.clock.setTimeout(done, ms);
      waiters.add(check);
    });
    // `job` is the live object itself, kept up to date, unless it came from the store finished already.
    return this.live.get(job.id) ?? job;
  }

  /** The stream chunks that no earlier call returned (drain semantics). */
  drainStream(job: Job): unknown[] {
    const current = this.live.get(job.id) ?? job;
    if (current.streamCursor >= current.streamCount) return [];
    const chunks = this.store.chunks(current.id, current.streamCursor, current.streamCount);
    current.streamCursor = current.streamCount;
    this.store.saveStreamCursor(current);
    return chunks;
  }

  /** Every stream chunk of a job so far, without touching the /stream cursor. */
  chunks(job: Job): unknown[] {
    const current = this.live.get(job.id) ?? job;
    return this.store.chunks(current.id, 0, current.streamCount);
  }

  /** Cancels a queued or running job; a finished job is left as it is. */
  cancel(job: Job): Job {
    const current = this.live.get(job.id);
    if (!current) return job;
    this.stopJob(current, "CANCELLED", undefined);
    return current;
  }

  /** Requeues a FAILED or TIMED_OUT job with its original input; undefined when its state forbids it. */
  retry(job: Job): Job | undefined {
    if (job.status !== "FAILED" && job.status !== "TIMED_OUT") return undefined;
    const previous = job.status;
    job.status = "IN_QUEUE";
    job.output = job.error = undefined;
    job.takenAt = job.finishedAt = job.delayTime = job.executionTime = job.workerId = undefined;
    job.retries++;
    job.createdAt = this.clock.now();
    job.expiresAt = job.createdAt + (job.policy.ttl ?? this.settings.ttl);
    this.store.update(job);
    this.store.incrementCounter(this.id, "retried");
    this.enqueue(job, false);
    this.emitStatus(job, previous);
    this.dispatch();
    this.hooks.reconsider();
    return job;
  }

  /** Removes every queued job; running ones continue. */
  purgeQueue(): number {
    let removed = 0;
    for (const job of [...this.live.values()]) {
      if (job.status !== "IN_QUEUE") continue;
      this.finish(job, "CANCELLED", { note: "purged from the queue" });
      removed++;
    }
    return removed;
  }

  health(): HealthResponse {
    const workers = { idle: 0, initializing: 0, ready: 0, running: 0, throttled: 0, unhealthy: 0 };
    for (const worker of this.workers.values()) {
      const state = worker.state;
      if (state === "idle") (workers.idle++, workers.ready++);
      else if (state === "running" || state === "outdated") workers.running++;
      else if (state === "initializing" || state === "throttled" || state === "unhealthy") workers[state]++;
    }
    return {
      jobs: {
        completed: this.store.counter(this.id, "completed"),
        failed: this.store.counter(this.id, "failed"),
        inProgress: this.inProgress,
        inQueue: this.inQueue,
        retried: this.store.counter(this.id, "retried"),
      },
      workers,
    };
  }

  // ---------------------------------------------------------------- the pool's view

  /** Queued jobs, and how long the oldest that may scale the pool has waited. */
  queueState(): { queued: number; inProgress: number; oldestWaitMs: number | undefined } {
    const queued = this.inQueue - this.inQueueLowPriority;
    const oldest = queued > 0 ? this.queue.find((job) => !job.policy.lowPriority) : undefined;
    return { queued, inProgress: this.inProgress, oldestWaitMs: oldest && this.clock.now() - oldest.createdAt };
  }

  /**
   * Registers a worker about to start; it may take jobs once its secret is known. A `state` makes it a
   * stand-in with no process, shown in /health (an unhealthy or throttled worker).
   */
  addWorker(id: string, secret: string, handlerVersion: string | undefined, state?: WorkerState, detail?: string): WorkerSlot {
    const worker = new WorkerSlot(id, secret, handlerVersion, this.clock.now());
    worker.forcedState = state;
    this.workers.set(id, worker);
    this.emitWorker(worker, undefined, detail);
    return worker;
  }

  worker(id: string): WorkerSlot | undefined {
    return this.workers.get(id);
  }

  /** Shows a worker-level state that only the pool knows (unhealthy, throttled, outdated). */
  setWorkerState(worker: WorkerSlot, state: WorkerState, detail?: string): void {
    const previous = worker.state;
    worker.forcedState = state === "idle" || state === "running" ? undefined : state;
    if (worker.state !== previous || detail) this.emitWorker(worker, previous, detail);
  }

  /** The emulator is stopping this worker: its polls are answered at once and it gets no more jobs. */
  drainWorker(worker: WorkerSlot): void {
    if (worker.stopping) return;
    const previous = worker.state;
    worker.stopping = true;
    worker.answerPolls();
    this.emitWorker(worker, previous);
  }

  /** The worker's process is gone: its jobs go back to the queue or fail (SPEC §3.4). */
  removeWorker(worker: WorkerSlot, exit: WorkerExit): void {
    if (!this.workers.delete(worker.id)) return;
    worker.answerPolls();
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    for (const jobId of worker.held) {
      const job = this.live.get(jobId);
      if (!job || worker.releasing.has(jobId)) continue;
      if (exit.byEmulator) this.requeue(job, false);
      else {
        const tail = exit.lastLines.length ? `; its last output:\n${exit.lastLines.join("\n")}` : "";
        this.loseJob(job, `worker ${worker.id} ${how} while running this job${tail}`);
      }
    }
    worker.held.clear();
    const previous = worker.state;
    worker.forcedState = "exited";
    this.emitWorker(worker, previous, exit.byEmulator ? undefined : how);
    this.dispatch();
    this.hooks.reconsider();
  }

  // ---------------------------------------------------------------- worker side (SPEC §2.2)

  /**
   * job-take / job-take-batch: jobs for this worker, at most `max`, held until one is queued or the hold
   * passes (then none). `jobInProgress` false also tells that every stopped job was let go.
   */
  take(worker: WorkerSlot, max: number, jobInProgress: boolean): Promise<Job[]> {
    if (!jobInProgress) this.releaseAll(worker);
    if (worker.firstTakeAt === undefined) {
      worker.firstTakeAt = this.clock.now();
      const previous = worker.forcedState;
      if (previous === "unhealthy" || previous === "initializing") worker.forcedState = undefined;
      this.emitWorker(worker, "initializing", undefined, worker.firstTakeAt - worker.startedAt);
      this.hooks.reconsider();
    }
    if (worker.stopping) return Promise.resolve([]);
    const jobs = this.mayTake(worker) ? this.assign(worker, max) : [];
    if (jobs.length > 0 || this.settings.pollHoldMs <= 0) return Promise.resolve(jobs);
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => worker.answerTake([]), this.settings.pollHoldMs);
      worker.openTake(max, (taken) => {
        this.clock.clearTimeout(timer);
        resolve(taken);
      });
      this.idleChanged(worker);
    });
  }

  /** A take ended without its answer reaching the worker: the jobs return to the head of the queue. */
  untake(worker: WorkerSlot, jobs: Job[]): void {
    if (worker.take) worker.answerTake([]);
    for (const job of [...jobs].reverse()) {
      if (!worker.held.delete(job.id) || job.status !== "IN_PROGRESS") continue;
      this.requeue(job, false, true);
    }
    this.dispatch();
  }

  /** job-stop: ids of this worker's jobs to stop, held until there are some or the hold passes. */
  pollStops(worker: WorkerSlot): Promise<string[]> {
    const pending = worker.takeStops();
    if (pending.length > 0 || worker.stopping || this.settings.pollHoldMs <= 0) return Promise.resolve(pending);
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => worker.answerStops([]), this.settings.pollHoldMs);
      worker.openStops((ids) => {
        this.clock.clearTimeout(timer);
        resolve(ids);
      });
    });
  }

  /** job-done: a progress update or the job's result. */
  done(worker: WorkerSlot, jobId: string, body: JobDoneBody, bodyBytes: number): void {
    const job = this.live.get(jobId);
    if (body.stopPod === true) this.hooks.recycle(worker.id);
    if (!job || !worker.held.has(jobId) || worker.releasing.has(jobId)) {
      if (worker.releasing.delete(jobId)) worker.held.delete(jobId);
      this.ignored(worker, jobId, job ? job.status : "unknown", "result");
      return;
    }
    if (body.status === "IN_PROGRESS") {
      job.output = body.output;
      this.store.update(job);
      this.bus.emit({ type: "progress", endpointId: this.id, time: this.clock.now(), jobId, workerId: worker.id, output: body.output });
      this.notify(job);
      return;
    }
    worker.held.delete(jobId);
    const limit = this.settings.resultLimit[job.kind];
    const size = bodyBytes > limit ? Buffer.byteLength(JSON.stringify(body.output ?? null)) : 0;
    if (size > limit) {
      this.finish(job, "FAILED", {
        error: `the job's result of ${formatMB(size)} MB exceeds the ${formatMB(limit)} MB limit of /${job.kind} results`,
      });
    } else if (body.error !== undefined && body.error !== null) {
      const error = typeof body.error === "string" ? body.error : JSON.stringify(body.error);
      this.finish(job, "FAILED", { output: body.output, error });
    } else {
      this.finish(job, "COMPLETED", { output: body.output });
    }
    this.idleChanged(worker);
    this.dispatch();
  }

  /** job-stream: one chunk, appended in arrival order. */
  streamChunk(worker: WorkerSlot, jobId: string, output: unknown): void {
    const job = this.live.get(jobId);
    if (!job || !worker.held.has(jobId) || worker.releasing.has(jobId)) {
      this.ignored(worker, jobId, job ? job.status : "unknown", "stream chunk");
      return;
    }
    const seq = job.streamCount;
    this.store.appendChunk(job, output, this.clock.now());
    job.streamCount++;
    this.bus.emit({ type: "stream", endpointId: this.id, time: this.clock.now(), jobId, workerId: worker.id, seq, output });
    this.notify(job);
  }

  /** ping: liveness, the SDK's version, the jobs the worker says it holds, or its own unhealthy report. */
  ping(worker: WorkerSlot, jobIds: string[] | undefined, version: string | undefined, unhealthy?: string): void {
    worker.lastSeen = this.clock.now();
    if (version) worker.sdkVersion = version;
    const held = new Set(jobIds ?? []);
    for (const jobId of [...worker.releasing]) {
      if (held.has(jobId)) continue;
      worker.releasing.delete(jobId);
      worker.held.delete(jobId);
    }
    if (unhealthy) this.setWorkerState(worker, "unhealthy", unhealthy);
    this.idleChanged(worker);
  }

  /** Whether the worker still has not let go of a job it was told to stop. */
  isReleasing(workerId: string, jobId: string): boolean {
    return this.workers.get(workerId)?.releasing.has(jobId) ?? false;
  }

  /** A log line of a worker, kept with its job when one can be named. */
  log(workerId: string, stream: "stdout" | "stderr", message: string, jobId?: string, level?: string): void {
    const time = this.clock.now();
    this.logs.append({ jobId, workerId, stream, level, message, at: time });
    this.bus.emit({ type: "log", endpointId: this.id, time, jobId, workerId, stream, level, message });
  }

  /** A warning about this endpoint, for the terminal and the event feed. */
  warn(message: string, jobId?: string): void {
    this.bus.emit({ type: "warning", endpointId: this.id, time: this.clock.now(), message, jobId });
  }

  /** Tells every open long-poll to answer now (the emulator is closing). */
  close(): void {
    for (const worker of this.workers.values()) worker.answerPolls();
    for (const timer of this.timers.values()) this.clock.clearTimeout(timer);
    this.timers.clear();
    for (const waiters of this.jobWaiters.values()) for (const wake of [...waiters]) wake();
  }

  // ---------------------------------------------------------------- internals

  private enqueue(job: Job, atHead: boolean): void {
    if (!this.live.has(job.id)) this.live.set(job.id, job);
    if (atHead) this.queue.unshift(job);
    else this.queue.push(job);
    this.countQueued(job, 1);
    this.scheduleExpiry(job);
  }

  /** Hands queued jobs to the workers waiting in job-take, oldest take first. */
  private dispatch(): void {
    for (const worker of this.workers.values()) {
      if (this.inQueue === 0) return;
      if (!worker.take || !this.mayTake(worker)) continue;
      const jobs = this.assign(worker, worker.take.max);
      if (jobs.length > 0) worker.answerTake(jobs);
    }
  }

  /** Takes up to `max` queued jobs for the worker, written in one transaction. */
  private assign(worker: WorkerSlot, max: number): Job[] {
    return this.store.transaction(() => this.assignEach(worker, max));
  }

  private assignEach(worker: WorkerSlot, max: number): Job[] {
    const jobs: Job[] = [];
    const now = this.clock.now();
    while (jobs.length < max && this.inQueue > 0) {
      const job = this.queue.shift();
      if (!job) break;
      this.countQueued(job, -1);
      if (job.expiresAt <= now) {
        this.finish(job, "TIMED_OUT", { error: `the job's ttl of ${job.policy.ttl ?? this.settings.ttl} ms passed before a worker took it` });
        continue;
      }
      const previous = job.status;
      job.status = "IN_PROGRESS";
      job.takenAt = now;
      job.delayTime = now - job.createdAt;
      job.workerId = worker.id;
      job.handlerVersion = worker.handlerVersion;
      this.inProgress++;
      worker.held.add(job.id);
      this.store.update(job);
      this.scheduleExecutionTimeout(job);
      this.emitStatus(job, previous);
      jobs.push(job);
    }
    if (jobs.length > 0) this.idleChanged(worker);
    return jobs;
  }

  /** Sends a job back to the queue. `counted`: a worker was lost with it, so it shows as a retry. */
  private requeue(job: Job, counted: boolean, atHead = true): void {
    const previous = job.status;
    if (previous === "IN_PROGRESS") this.inProgress--;
    this.clearTimer(job.id);
    job.status = "IN_QUEUE";
    job.takenAt = job.delayTime = job.workerId = undefined;
    job.output = undefined;
    if (counted) {
      job.retries++;
      this.store.incrementCounter(this.id, "retried");
    }
    this.store.update(job);
    this.enqueue(job, atHead);
    this.emitStatus(job, previous);
  }

  /** A job lost with its worker: requeued the first time, failed the second (SPEC §3.4). */
  private loseJob(job: Job, reason: string): void {
    job.lost++;
    if (job.lost === 1) {
      this.requeue(job, true);
      this.bus.emit({ type: "warning", endpointId: this.id, time: this.clock.now(), jobId: job.id, message: `${reason}; requeued once` });
    } else {
      this.finish(job, "FAILED", { error: `${reason} (the job was lost twice, so it was not requeued again)` });
    }
  }

  /** Stops a queued or running job with a final state set by the emulator. */
  private stopJob(job: Job, status: JobStatus, error: string | undefined): void {
    const workerId = job.status === "IN_PROGRESS" ? job.workerId : undefined;
    this.finish(job, status, { error });
    const worker = workerId ? this.workers.get(workerId) : undefined;
    if (!worker || !worker.held.has(job.id)) return;
    worker.releasing.add(job.id);
    worker.requestStop(job.id);
    this.hooks.jobStopRequested(worker.id, job.id);
  }

  /** Moves a job to a terminal state. */
  private finish(job: Job, status: JobStatus, result: { output?: unknown; error?: string; note?: string }): void {
    const previous = job.status;
    const now = this.clock.now();
    if (previous === "IN_QUEUE") this.countQueued(job, -1);
    if (previous === "IN_PROGRESS") this.inProgress--;
    this.clearTimer(job.id);
    this.live.delete(job.id);
    job.status = status;
    if (result.output !== undefined || status === "COMPLETED") job.output = result.output;
    job.error = result.error;
    job.finishedAt = now;
    if (job.takenAt !== undefined) job.executionTime = now - job.takenAt;
    job.expiresAt = Math.min(job.expiresAt, now + this.settings.retention[job.kind]);
    this.store.transaction(() => {
      this.store.update(job);
      if (status === "COMPLETED") this.store.incrementCounter(this.id, "completed");
      if (status === "FAILED" || status === "TIMED_OUT") this.store.incrementCounter(this.id, "failed");
    });
    this.emitStatus(job, previous, result.note);
    this.notify(job);
  }

  /** Outdated and stopping workers, and those on superseded code, get no new jobs. */
  private mayTake(worker: WorkerSlot): boolean {
    return worker.acceptsJobs && this.hooks.isCurrent(worker);
  }

  private countQueued(job: Job, delta: number): void {
    this.inQueue += delta;
    if (job.policy.lowPriority) this.inQueueLowPriority += delta;
  }

  private releaseAll(worker: WorkerSlot): void {
    for (const jobId of worker.releasing) worker.held.delete(jobId);
    worker.releasing.clear();
    this.idleChanged(worker);
  }

  private ignored(worker: WorkerSlot, jobId: string, status: string, what: string): void {
    this.bus.emit({
      type: "warning", endpointId: this.id, time: this.clock.now(), jobId, workerId: worker.id,
      message: `ignored a late ${what} from worker ${worker.id} for job ${jobId} (${status})`,
    });
  }

  private scheduleExecutionTimeout(job: Job): void {
    const limit = job.policy.executionTimeout ?? this.settings.executionTimeout;
    const until = Math.min(limit, job.expiresAt - this.clock.now());
    this.setTimer(job, until, () => {
      if (this.clock.now() >= job.expiresAt) this.expire(job);
      else this.stopJob(job, "TIMED_OUT", `the job ran longer than its execution timeout of ${limit} ms`);
    });
  }

  private scheduleExpiry(job: Job): void {
    if (job.status === "IN_PROGRESS") return this.scheduleExecutionTimeout(job);
    this.setTimer(job, job.expiresAt - this.clock.now(), () => this.expire(job));
  }

  /** TTL passed: gone from the API; a running job is stopped. The local history keeps it. */
  private expire(job: Job): void {
    if (isTerminal(job.status)) return;
    this.stopJob(job, "TIMED_OUT", `the job's ttl of ${job.policy.ttl ?? this.settings.ttl} ms passed before it finished`);
  }

  private setTimer(job: Job, ms: number, fn: () => void): void {
    this.clearTimer(job.id);
    this.timers.set(job.id, this.clock.setTimeout(() => {
      this.timers.delete(job.id);
      fn();
    }, ms));
  }

  private clearTimer(jobId: string): void {
    const timer = this.timers.get(jobId);
    if (timer === undefined) return;
    this.clock.clearTimeout(timer);
    this.timers.delete(jobId);
  }

  private notify(job: Job): void {
    const waiters = this.jobWaiters.get(job.id);
    if (waiters) for (const wake of [...waiters]) wake();
  }

  /** Announces a change of a worker's derived state; an outdated worker that went idle is retired. */
  private idleChanged(worker: WorkerSlot): void {
    const state = worker.state;
    if (state !== worker.lastEmitted) this.emitWorker(worker, worker.lastEmitted);
    if (worker.forcedState === "outdated" && worker.held.size === 0) this.hooks.recycle(worker.id);
  }

  private emitStatus(job: Job, previous?: JobStatus, note?: string): void {
    this.bus.emit({ type: "status", endpointId: this.id, time: this.clock.now(), job, previous, note });
  }

  private emitWorker(worker: WorkerSlot, previous: WorkerState | undefined, detail?: string, coldStartMs?: number): void {
    worker.lastEmitted = worker.state;
    this.bus.emit({
      type: "worker", endpointId: this.id, time: this.clock.now(), workerId: worker.id,
      state: worker.state, previous, detail, coldStartMs,
    });
  }
}

/** Megabytes as the error messages print them: decimal, without trailing zeros. */
export function formatMB(bytes: number): string {
  return String(Number((bytes / MB).toFixed(6)));
}
