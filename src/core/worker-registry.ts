import type { HealthResponse, WorkerMemory } from "../types.js";
import type { Clock } from "./clock.js";
import type { EventBus, WorkerState, WorkerType } from "./events.js";
import type { Job } from "./job.js";
import { WorkerSlot } from "./worker-slot.js";

export interface RegistrySettings {
  /** How long job-take and job-stop long-polls are held before answering with nothing. */
  pollHoldMs: number;
  /** How long a worker may keep a job it was told to stop. */
  releaseGraceMs: number;
  /** How long a worker may go unheard (no ping, take or result) before it counts as unhealthy; 0: never. */
  pingTimeoutMs: number;
}

/** What the registry reports to the endpoint that owns it. */
export interface RegistryListener {
  /** A registered worker's state changed. */
  changed(worker: WorkerSlot): void;
  /** Nothing was heard from the worker for longer than the ping timeout: it is now unhealthy. */
  silent(worker: WorkerSlot): void;
  /** The worker still holds a job it was told to stop, after the grace. */
  overdue(worker: WorkerSlot, jobId: string): void;
  /** The worker runs superseded code and holds nothing now: its process is to be replaced. */
  recycle(worker: WorkerSlot): void;
}

/** One worker as a console or the terminal lists it. */
export interface WorkerInfo {
  id: string;
  state: WorkerState;
  type: WorkerType;
  /** When it entered that state (ms since the epoch, on the endpoint's clock). */
  since: number;
  /** From its start (any simulated cold start included) to its first job-take; undefined before that. */
  coldStartMs: number | undefined;
  /** Results it posted. */
  jobsDone: number;
  /** The jobs it holds now. */
  jobs: string[];
  handlerVersion: string | undefined;
  pid: number | undefined;
  /** Its processes' memory as last sampled; undefined where it is not measured. */
  memory: WorkerMemory | undefined;
}

/** Timers run a little late under load; a whole second late means this process itself stood still. */
const STALL_MS = 1000;

/**
 * The workers of one endpoint that exist: their slots, their job-take and job-stop long-polls, the
 * stops they have not yet let go of, when each was last heard from, and the worker events that announce
 * their state. No processes here: the pool registers and removes workers, the endpoint hands out jobs.
 */
export class WorkerRegistry {
  private readonly slots = new Map<string, WorkerSlot>();

  constructor(
    private readonly endpointId: string,
    private readonly settings: RegistrySettings,
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly listener: RegistryListener,
  ) {}

  /** Registers a worker about to start; it may take jobs once its secret is known. */
  add(id: string, secret: string, handlerVersion: string | undefined, type?: WorkerType): WorkerSlot {
    const worker = new WorkerSlot(id, secret, handlerVersion, this.clock.now(), type);
    this.slots.set(id, worker);
    this.announce(worker, undefined);
    return worker;
  }

  get(id: string): WorkerSlot | undefined {
    return this.slots.get(id);
  }

  has(worker: WorkerSlot): boolean {
    return this.slots.get(worker.id) === worker;
  }

  all(): IterableIterator<WorkerSlot> {
    return this.slots.values();
  }

  /** The worker is gone: its polls are answered, its timers stopped, and `exited` is announced. */
  remove(worker: WorkerSlot, detail?: string): void {
    if (!this.has(worker)) return;
    this.slots.delete(worker.id);
    this.forget(worker);
    const previous = worker.lastEmitted;
    worker.lastEmitted = "exited";
    this.bus.emit({ type: "worker", endpointId: this.endpointId, time: this.clock.now(), workerId: worker.id, state: "exited", previous, detail, workerType: worker.type, ...memoryOf(worker) });
  }

  /** Any request from the worker: it lives. Starts watching for silence, or ends one. */
  seen(worker: WorkerSlot): void {
    worker.lastSeen = this.clock.now();
    if (worker.silent) {
      worker.silent = false;
      this.refresh(worker);
    }
    if (worker.silenceTimer === undefined && this.settings.pingTimeoutMs > 0) this.watchSilence(worker, this.settings.pingTimeoutMs);
  }

  /** The worker's first job-take (a load-balancing worker's first healthy answer): its cold start is over. */
  ready(worker: WorkerSlot): void {
    worker.firstTakeAt = this.clock.now();
    this.announce(worker, "initializing", undefined, worker.firstTakeAt - worker.startedAt);
  }

  /** Marks the worker outdated (it finishes its jobs on the previous code, then is recycled). */
  outdate(worker: WorkerSlot, reason: string): void {
    if (worker.outdated) return;
    worker.outdated = true;
    this.refresh(worker, reason);
    this.heldChanged(worker);
  }

  /** After the worker took or let go of jobs: its state announced, and an outdated one that holds none recycled. */
  heldChanged(worker: WorkerSlot): void {
    this.refresh(worker);
    if (worker.outdated && !worker.stopping && worker.held.size === 0) this.listener.recycle(worker);
  }

  /** Marks the worker stopping: it gets nothing more, and its open polls are answered. */
  drain(worker: WorkerSlot): void {
    if (worker.stopping) return;
    worker.stopping = true;
    worker.answerPolls();
    this.refresh(worker);
  }

  /** Announces the worker's state if it changed, or with a new `detail`. */
  refresh(worker: WorkerSlot, detail?: string): void {
    if (worker.state === worker.lastEmitted && detail === undefined) return;
    this.announce(worker, worker.lastEmitted, detail);
  }

  /** Holds a job-take open until jobs are handed to it or the hold passes (then none). */
  holdTake(worker: WorkerSlot, max: number): Promise<Job[]> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => worker.answerTake([]), this.settings.pollHoldMs);
      worker.openTake(max, (taken) => {
        this.clock.clearTimeout(timer);
        resolve(taken);
      });
    });
  }

  /** Holds a job-stop poll open until a stop is requested or the hold passes (then none). */
  holdStops(worker: WorkerSlot): Promise<string[]> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => worker.answerStops([]), this.settings.pollHoldMs);
      worker.openStops((ids) => {
        this.clock.clearTimeout(timer);
        resolve(ids);
      });
    });
  }

  /** Tells the worker to stop a job it holds; if it has not let go of it within the grace, it is overdue. */
  stopJob(worker: WorkerSlot, jobId: string): void {
    worker.releasing.add(jobId);
    worker.requestStop(jobId);
    worker.releaseTimers.set(jobId, this.clock.setTimeout(() => {
      worker.releaseTimers.delete(jobId);
      if (this.has(worker) && worker.releasing.has(jobId)) this.listener.overdue(worker, jobId);
    }, this.settings.releaseGraceMs));
  }

  /** The worker let go of a stopped job; false if that job was not being stopped. */
  release(worker: WorkerSlot, jobId: string): boolean {
    if (!worker.releasing.delete(jobId)) return false;
    worker.held.delete(jobId);
    const timer = worker.releaseTimers.get(jobId);
    if (timer !== undefined) this.clock.clearTimeout(timer);
    worker.releaseTimers.delete(jobId);
    return true;
  }

  /** Releases every stopped job the worker no longer reports holding (all of them without a report). */
  releaseAllBut(worker: WorkerSlot, stillHeld: ReadonlySet<string> = new Set()): void {
    for (const jobId of [...worker.releasing]) if (!stillHeld.has(jobId)) this.release(worker, jobId);
  }

  /** The workers that exist and are not being stopped, by how the platform counts them. */
  types(): Record<WorkerType, number> {
    const types = { active: 0, flex: 0, extra: 0 };
    for (const worker of this.slots.values()) if (!worker.stopping) types[worker.type]++;
    return types;
  }

  /** /health's worker counts for the workers that exist. */
  counts(): HealthResponse["workers"] {
    const counts = { idle: 0, initializing: 0, ready: 0, running: 0, throttled: 0, unhealthy: 0 };
    for (const worker of this.slots.values()) {
      const state = worker.state;
      if (state === "idle") (counts.idle++, counts.ready++);
      else if (state === "running" || state === "outdated") counts.running++;
      else if (state === "initializing" || state === "unhealthy") counts[state]++;
    }
    return counts;
  }

  /** Every worker with its state, for a console or the terminal. */
  list(): WorkerInfo[] {
    return [...this.slots.values()].map((worker) => ({
      id: worker.id,
      state: worker.state,
      type: worker.type,
      since: worker.since,
      coldStartMs: worker.firstTakeAt === undefined ? undefined : worker.firstTakeAt - worker.startedAt,
      jobsDone: worker.jobsDone,
      jobs: [...worker.held],
      handlerVersion: worker.handlerVersion,
      pid: worker.pid,
      memory: worker.memory,
    }));
  }

  /** /health's memory of each worker that has a reading, by worker id. */
  memory(): Record<string, WorkerMemory> {
    const memory: Record<string, WorkerMemory> = {};
    for (const worker of this.slots.values()) if (worker.memory) memory[worker.id] = worker.memory;
    return memory;
  }

  /** Answers every open long-poll and stops every timer (the endpoint is closing). */
  close(): void {
    for (const worker of this.slots.values()) this.forget(worker);
  }

  private forget(worker: WorkerSlot): void {
    worker.answerPolls();
    if (worker.silenceTimer !== undefined) this.clock.clearTimeout(worker.silenceTimer);
    worker.silenceTimer = undefined;
    for (const timer of worker.releaseTimers.values()) this.clock.clearTimeout(timer);
    worker.releaseTimers.clear();
  }

  /**
   * Looks again when the worker will have been quiet for the ping timeout (SPEC §2.1: the SDK pings every
   * RUNPOD_PING_INTERVAL, whatever else it is doing), then calls it silent. Workers are only watched once
   * heard from: the imports and model loading before a worker's first request may take any time.
   */
  private watchSilence(worker: WorkerSlot, ms: number): void {
    const limit = this.settings.pingTimeoutMs;
    const plannedAt = this.clock.now() + ms;
    worker.silenceTimer = this.clock.setTimeout(() => {
      worker.silenceTimer = undefined;
      if (!this.has(worker) || worker.stopping) return;
      const now = this.clock.now();
      // This process stood still (a function handler blocking it, a laptop asleep): the workers' pings may
      // be waiting unread, so it listens for one more timeout before blaming them.
      if (now - plannedAt > STALL_MS) return this.watchSilence(worker, limit);
      const quiet = now - (worker.lastSeen ?? now);
      if (quiet < limit) return this.watchSilence(worker, limit - quiet);
      worker.silent = true;
      this.refresh(worker, `nothing heard from it for ${quiet} ms (no ping, job-take or result)`);
      this.listener.silent(worker);
    }, ms);
  }

  private announce(worker: WorkerSlot, previous: WorkerState | undefined, detail?: string, coldStartMs?: number): void {
    const state = worker.state;
    const time = this.clock.now();
    const changed = state !== worker.lastEmitted;
    if (changed) worker.since = time;
    worker.lastEmitted = state;
    this.bus.emit({ type: "worker", endpointId: this.endpointId, time, workerId: worker.id, state, previous, detail, coldStartMs, workerType: worker.type, ...memoryOf(worker) });
    if (changed && previous !== undefined) this.listener.changed(worker);
  }
}

/** A worker event's memory field: the worker's last reading, when it has one. */
function memoryOf(worker: WorkerSlot): { memory?: WorkerMemory } {
  return worker.memory ? { memory: { ...worker.memory } } : {};
}
