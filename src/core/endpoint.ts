import type { LogStore } from "../store/logs.js";
import type { JobStore } from "../store/jobs.js";
import type { HealthResponse, JobStatus } from "../types.js";
import type { Clock, TimerHandle } from "./clock.js";
import type { EventBus, WorkerType } from "./events.js";
import type { Job, JobKind } from "./job.js";
import { type JobDoneBody, readResult } from "./job-result.js";
import { JobStates, type QueueState, type Submission } from "./job-state.js";
import { Lifetimes } from "./lifetimes.js";
import { JOB_LOG_HEAD_BYTES, JOB_LOG_TAIL_BYTES, LATE_LINE_GRACE_MS, LogBudget, type OutputLine } from "./log-budget.js";
import { protocolEnvironment } from "./protocol-environment.js";
import { JobWaiters } from "./waiters.js";
import { type PoolEndpoint, type WorkerExit, type WorkerPool, describeExit } from "./worker-pool.js";
import { WorkerPort } from "./worker-port.js";
import { type WorkerInfo, WorkerRegistry } from "./worker-registry.js";
import type { WorkerSlot } from "./worker-slot.js";

export type { JobDoneBody } from "./job-result.js";
export { formatMB } from "./job-result.js";
export type { Submission } from "./job-state.js";
export type { WorkerExit } from "./worker-pool.js";

/** A stream chunk whose body is larger than this is logged as a warning (SPEC §1.5). */
const STREAM_CHUNK_WARNING = 1_000_000;

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
  /** How long a worker may keep a stopped job (cancel, timeout) before its processes are killed. */
  releaseGraceMs: number;
  /** How long a worker may go unheard before it is unhealthy (and killed if it holds jobs); 0: never. */
  pingTimeoutMs: number;
  /** RUNPOD_PING_INTERVAL given to workers. */
  pingIntervalMs: number;
  /** The handler file the workers run (absolute), recorded with each job they take. */
  handlerFile?: string;
}

/** What an endpoint keeps its jobs in and reports through. */
export interface EndpointParts {
  store: JobStore;
  logs: LogStore;
  bus: EventBus;
  clock: Clock;
}

/**
 * One queue endpoint, as the API and the pool see it: the composition of its jobs' state machine
 * (`JobStates`), their timers (`Lifetimes`), the clients' long-polls (`JobWaiters`) and its workers
 * (`WorkerRegistry`), with the decisions that span them — which worker gets which job, what happens to
 * a lost worker's jobs. Plain logic over an injected clock, store and event bus: no network, no processes.
 * Its pool of worker processes is made by `createPool`, which receives the endpoint, at construction.
 */
export class Endpoint<P extends WorkerPool = WorkerPool> implements PoolEndpoint {
  readonly id: string;
  readonly clock: Clock;
  readonly pool: P;
  private readonly store: JobStore;
  private readonly logs: LogStore;
  private readonly bus: EventBus;
  private readonly lifetimes: Lifetimes;
  private readonly jobs: JobStates;
  private readonly waiters: JobWaiters;
  readonly registry: WorkerRegistry;
  private readonly logBudget = new LogBudget();
  private sweepTimer: TimerHandle | undefined;
  private dispatchPending = false;
  private closed = false;

  constructor(
    readonly settings: EndpointSettings,
    parts: EndpointParts,
    createPool: (endpoint: PoolEndpoint) => P,
  ) {
    this.id = settings.id;
    ({ store: this.store, logs: this.logs, bus: this.bus, clock: this.clock } = parts);
    this.lifetimes = new Lifetimes(this.clock, settings, (job, error) => this.stop(job, "TIMED_OUT", error));
    this.jobs = new JobStates(this.id, settings.retention, this.store, this.bus, this.clock, this.lifetimes);
    this.waiters = new JobWaiters(this.id, this.clock, this.bus, (id) => this.jobs.current(id));
    this.registry = new WorkerRegistry(this.id, settings, this.bus, this.clock, {
      changed: (worker) => this.pool.workerChanged(worker),
      recycle: (worker) => this.pool.recycle(worker.id),
      silent: (worker) => this.workerSilent(worker),
      overdue: (worker, jobId) => {
        this.warn(`worker ${worker.id} did not let go of stopped job ${jobId} within ${settings.releaseGraceMs} ms; killing it`, jobId);
        this.pool.kill(worker.id);
      },
    });
    this.pool = createPool(this);
  }

  /** Loads what a previous run left in the store (SPEC §4). */
  recover(): void {
    this.jobs.recover();
  }

  // ---------------------------------------------------------------- client side (SPEC §1)

  /** Queues a new job (/run, /runsync). */
  submit(submission: Submission, kind: JobKind): Job {
    const job = this.jobs.submit(submission, kind);
    this.dispatchSoon();
    this.pool.reconsider();
    return job;
  }

  /** The job as the API may show it: undefined when unknown, of another endpoint, or past its lifetime. */
  visibleJob(id: string): Job | undefined {
    const job = this.jobs.current(id) ?? this.store.get(id);
    if (!job || job.endpointId !== this.id || job.expiresAt <= this.clock.now()) return undefined;
    return job;
  }

  /** `/status?ttl=ms`: the job's remaining lifetime becomes at most `ms`. */
  shortenLifetime(job: Job, ms: number): void {
    this.jobs.shorten(job, ms);
  }

  /** Resolves when `ready(job)` holds, the job has finished, or `ms` passes. */
  waitFor(job: Job, ms: number, ready: (job: Job) => boolean): Promise<Job> {
    return this.waiters.waitFor(job, ms, ready);
  }

  /** The stream chunks that no earlier call returned (drain semantics). */
  drainStream(job: Job): unknown[] {
    const current = this.jobs.current(job.id) ?? job;
    if (current.streamCursor >= current.streamCount) return [];
    const chunks = this.store.chunks(current.id, current.streamCursor, current.streamCount);
    current.streamCursor = current.streamCount;
    this.store.saveStreamCursor(current);
    return chunks;
  }

  /** Every stream chunk of a job so far, without touching the /stream cursor. */
  chunks(job: Job): unknown[] {
    const current = this.jobs.current(job.id) ?? job;
    return this.store.chunks(current.id, 0, current.streamCount);
  }

  /** Cancels a queued or running job; a finished job is left as it is. */
  cancel(job: Job): Job {
    const current = this.jobs.current(job.id);
    if (!current) return job;
    this.stop(current, "CANCELLED", undefined);
    this.pool.reconsider();
    return current;
  }

  /** Requeues a FAILED or TIMED_OUT job with its original input; undefined when its state forbids it. */
  retry(job: Job): Job | undefined {
    if (!this.jobs.retry(job)) return undefined;
    this.dispatch();
    this.pool.reconsider();
    return job;
  }

  /** Removes every queued job; running ones continue. */
  purgeQueue(): number {
    const removed = this.jobs.purge();
    this.pool.reconsider();
    return removed;
  }

  /** Job counters, and the workers that exist plus those the pool wants but lacks. */
  health(): HealthResponse {
    const workers = this.registry.counts();
    const missing = this.pool.shortfall();
    workers.throttled += missing.throttled;
    workers.unhealthy += missing.unhealthy;
    return {
      jobs: {
        completed: this.store.counter(this.id, "completed"),
        failed: this.store.counter(this.id, "failed"),
        inProgress: this.jobs.inProgress,
        inQueue: this.jobs.inQueue,
        retried: this.store.counter(this.id, "retried"),
      },
      workers,
      workerTypes: this.registry.types(),
      workerMemory: this.registry.memory(),
    };
  }

  /** Every worker that exists, with its state, since when, its cold start, jobs, code version and pid. */
  workers(): WorkerInfo[] {
    return this.registry.list();
  }

  // ---------------------------------------------------------------- the pool's side (PoolEndpoint)

  queueState(): QueueState {
    return this.jobs.queueState();
  }

  addWorker(id: string, secret: string, handlerVersion: string | undefined, type: WorkerType = "flex"): WorkerSlot {
    return this.registry.add(id, secret, handlerVersion, type);
  }

  /** The worker protocol's variables (SPEC §2.1). */
  workerEnvironment(_workerId: string, secret: string, apiBase: string): Record<string, string> {
    return protocolEnvironment({ endpointId: this.id, secret, apiBase, pingIntervalMs: this.settings.pingIntervalMs });
  }

  /** The worker that the path of a worker request names, if it is registered. */
  worker(id: string): WorkerSlot | undefined {
    return this.registry.get(id);
  }

  /** The worker protocol as calls, for one worker: its HTTP routes, its channel, or a function handler run in this process. */
  port(worker: WorkerSlot): WorkerPort {
    return new WorkerPort(this, worker);
  }

  removeWorker(worker: WorkerSlot, exit: WorkerExit): void {
    if (!this.registry.has(worker)) return;
    const how = describeExit(exit);
    for (const jobId of worker.held) {
      const job = this.jobs.current(jobId);
      if (!job || worker.releasing.has(jobId)) continue;
      if (exit.byEmulator) this.jobs.requeue(job, false);
      else this.jobs.lose(job, `worker ${worker.id} ${how} while running this job`, exit.lastLines);
    }
    worker.held.clear();
    this.registry.remove(worker, exit.byEmulator ? undefined : how);
    this.dispatch();
    this.pool.reconsider();
  }

  announce(workerId: string, state: "throttled" | "unhealthy", detail: string): void {
    this.bus.emit({ type: "worker", endpointId: this.id, time: this.clock.now(), workerId, state, detail });
  }

  /**
   * A log line of a worker, kept with its job when one can be named. Past a job's first 2 MiB of output,
   * lines are held and only the last 2 MiB are kept, after a note of what was dropped, once it ended.
   */
  log(workerId: string, stream: "stdout" | "stderr", message: string, jobId?: string, level?: string): void {
    const line: OutputLine = { jobId, workerId, stream, level, message, at: this.clock.now() };
    const verdict = this.logBudget.admit(line);
    if (verdict === "keep") this.keepLine(line);
    else if (verdict === "start-holding") {
      const whose = jobId === undefined ? `worker ${workerId}` : `job ${jobId}`;
      const mib = (bytes: number) => `${bytes / 1048576} MiB`;
      this.warn(`${whose} printed over ${mib(JOB_LOG_HEAD_BYTES)}: its further output is held, and its last ${mib(JOB_LOG_TAIL_BYTES)} shown and kept once it ends`, jobId);
    }
    this.sweepSoon();
  }

  /** A warning about this endpoint, for the terminal and the event feed. */
  warn(message: string, jobId?: string): void {
    this.bus.emit({ type: "warning", endpointId: this.id, time: this.clock.now(), message, jobId });
  }

  // ---------------------------------------------------------------- worker side (SPEC §2.2)

  /**
   * job-take / job-take-batch: jobs for this worker, at most `max`, held until one is queued or the hold
   * passes (then none). `jobInProgress` false also tells that every stopped job was let go.
   */
  take(worker: WorkerSlot, max: number, jobInProgress: boolean): Promise<Job[]> {
    this.registry.seen(worker);
    if (worker.firstTakeAt === undefined) this.registry.ready(worker);
    if (!jobInProgress) {
      this.registry.releaseAllBut(worker);
      this.registry.heldChanged(worker);
    }
    // A stopping worker gets nothing (it accepts no jobs), but its take is held like any other: answered
    // at once, a worker whose output is still read before it is stopped would ask again and again.
    const jobs = this.mayTake(worker) ? this.assign(worker, max) : [];
    if (jobs.length > 0 || this.settings.pollHoldMs <= 0) return Promise.resolve(jobs);
    return this.registry.holdTake(worker, max);
  }

  /** A take ended without its answer reaching the worker: the jobs return to the head of the queue. */
  untake(worker: WorkerSlot, jobs: Job[]): void {
    if (worker.take) worker.answerTake([]);
    for (const job of [...jobs].reverse()) {
      if (!worker.held.delete(job.id) || job.status !== "IN_PROGRESS") continue;
      this.jobs.requeue(job, false, true);
    }
    this.registry.heldChanged(worker);
    this.dispatch();
  }

  /** job-stop: ids of this worker's jobs to stop, held until there are some or the hold passes. */
  pollStops(worker: WorkerSlot): Promise<string[]> {
    this.registry.seen(worker);
    const pending = worker.takeStops();
    if (pending.length > 0 || worker.stopping || this.settings.pollHoldMs <= 0) return Promise.resolve(pending);
    return this.registry.holdStops(worker);
  }

  /** job-done: a progress update or the job's result. */
  done(worker: WorkerSlot, jobId: string, body: JobDoneBody, bodyBytes: number): void {
    this.registry.seen(worker);
    if (body.stopPod === true) this.pool.recycle(worker.id);
    const job = this.heldJob(worker, jobId, body.status === "IN_PROGRESS" ? "progress update" : "result");
    if (!job) return;
    if (body.status === "IN_PROGRESS") return this.jobs.progress(job, worker.id, body.output);
    worker.held.delete(jobId);
    worker.lastResult = { jobId, at: this.clock.now() };
    worker.jobsDone++;
    const result = readResult(body, bodyBytes, this.settings.resultLimit[job.kind], job.kind);
    this.jobs.finish(job, result.status, result);
    this.registry.heldChanged(worker);
    this.dispatch();
    this.pool.reconsider();
  }

  /** job-stream: one chunk, appended in arrival order; `bytes`: the length of the body that carried it. */
  streamChunk(worker: WorkerSlot, jobId: string, output: unknown, bytes = 0): void {
    this.registry.seen(worker);
    const job = this.heldJob(worker, jobId, "stream chunk");
    if (!job) return;
    if (bytes > STREAM_CHUNK_WARNING) this.warn(`job ${jobId}: a stream chunk of ${(bytes / 1e6).toFixed(1)} MB (over 1 MB) from worker ${worker.id}`, jobId);
    this.jobs.appendChunk(job, worker.id, output);
  }

  /** ping: liveness, the SDK's version, the jobs the worker says it holds, or its own unhealthy report. */
  ping(worker: WorkerSlot, jobIds: string[] | undefined, version: string | undefined, unhealthy?: string): void {
    this.registry.seen(worker);
    if (version) worker.sdkVersion = version;
    this.registry.releaseAllBut(worker, new Set(jobIds ?? []));
    if (unhealthy !== undefined && unhealthy !== worker.reportedUnhealthy) {
      worker.reportedUnhealthy = unhealthy;
      this.registry.refresh(worker, unhealthy);
    }
    this.registry.heldChanged(worker);
  }

  /**
   * Resolves once what was written so far is committed: an answer that acknowledges a write to a
   * client waits for it. Undefined when nothing waits.
   */
  committed(): Promise<void> | undefined {
    return this.store.committed();
  }

  /** Answers every open long-poll and stops every timer (the emulator is closing). */
  close(): void {
    this.closed = true;
    if (this.sweepTimer) this.clock.clearTimeout(this.sweepTimer);
    for (const line of this.logBudget.sweep(Number.POSITIVE_INFINITY, () => false)) this.keepLine(line);
    this.lifetimes.clear();
    this.registry.close();
    this.waiters.close();
  }

  // ---------------------------------------------------------------- internals

  private keepLine(line: OutputLine): void {
    this.logs.append({ ...line, endpointId: this.id });
    const { jobId, workerId, stream, level, message, at } = line;
    this.bus.emit({ type: "log", endpointId: this.id, time: at, jobId, workerId, stream, level, message });
  }

  /** Ends held output (and the accounts of jobs that finished) once their grace for late lines passed. */
  private sweepSoon(): void {
    if (this.sweepTimer || this.logBudget.size === 0) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweepTimer = undefined;
      for (const line of this.logBudget.sweep(this.clock.now(), (id) => this.jobs.current(id) !== undefined)) this.keepLine(line);
      this.sweepSoon();
    }, LATE_LINE_GRACE_MS);
  }

  /**
   * Dispatches once the jobs submitted in this turn of the event loop are all queued: a burst of
   * submissions then goes out in a few batch answers instead of one job per take.
   */
  private dispatchSoon(): void {
    if (this.dispatchPending) return;
    this.dispatchPending = true;
    setImmediate(() => {
      this.dispatchPending = false;
      if (this.closed) return;
      this.dispatch();
      // The takes just answered wait for this commit (see the worker routes): it need not wait a turn.
      this.store.commitTurn();
    });
  }

  /**
   * Hands queued jobs to the workers waiting in job-take, the longest-waiting take first: a worker that
   * just finished a job asks again at once, and must not get every job while another one waits idle.
   */
  private dispatch(): void {
    if (this.jobs.inQueue === 0) return;
    const waiting = [...this.registry.all()].filter((worker) => worker.take).sort((a, b) => a.take!.order - b.take!.order);
    for (const worker of waiting) {
      if (this.jobs.inQueue === 0) return;
      if (!worker.take || !this.mayTake(worker)) continue;
      const jobs = this.assign(worker, worker.take.max);
      if (jobs.length > 0) worker.answerTake(jobs);
    }
  }

  private assign(worker: WorkerSlot, max: number): Job[] {
    const jobs = this.jobs.take(max, worker.id, worker.handlerVersion, this.settings.handlerFile);
    if (jobs.length === 0) return jobs;
    for (const job of jobs) worker.held.add(job.id);
    this.registry.heldChanged(worker);
    this.pool.reconsider();
    return jobs;
  }

  /** Stopping, unhealthy and outdated workers, and those on superseded code, get no new jobs. */
  private mayTake(worker: WorkerSlot): boolean {
    return worker.acceptsJobs && this.pool.isCurrent(worker);
  }

  /** Stops a queued or running job with a final state set by the emulator; its worker is told to let go. */
  private stop(job: Job, status: JobStatus, error: string | undefined): void {
    const workerId = job.status === "IN_PROGRESS" ? job.workerId : undefined;
    this.jobs.finish(job, status, { error });
    const worker = workerId === undefined ? undefined : this.registry.get(workerId);
    if (worker?.held.has(job.id)) this.registry.stopJob(worker, job.id);
  }

  /** The job a worker's result or chunk is for, if the worker still holds it; otherwise says it was ignored. */
  private heldJob(worker: WorkerSlot, jobId: string, what: string): Job | undefined {
    const job = this.jobs.current(jobId);
    if (job && worker.held.has(jobId) && !worker.releasing.has(jobId)) return job;
    // A result, even an ignored one, shows that the worker let go of a job it was told to stop.
    if (what === "result" && this.registry.release(worker, jobId)) this.registry.heldChanged(worker);
    const status = job?.status ?? this.store.get(jobId)?.status ?? "unknown";
    this.bus.emit({
      type: "warning", endpointId: this.id, time: this.clock.now(), jobId, workerId: worker.id,
      message: `ignored a late ${what} from worker ${worker.id} for job ${jobId} (${status})`,
    });
    return undefined;
  }

  /** A worker that stopped answering loses its jobs as a crashed one would, and its processes are killed. */
  private workerSilent(worker: WorkerSlot): void {
    if (worker.held.size === 0) return;
    this.registry.releaseAllBut(worker);
    for (const jobId of worker.held) {
      const job = this.jobs.current(jobId);
      if (job) this.jobs.lose(job, `worker ${worker.id} stopped answering (nothing heard from it for ${this.settings.pingTimeoutMs} ms) while running this job`);
    }
    worker.held.clear();
    this.pool.kill(worker.id);
    this.dispatch();
    this.pool.reconsider();
  }
}
