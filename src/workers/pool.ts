import { randomBytes } from "node:crypto";
import type { TimerHandle } from "../core/clock.js";
import { type ScalerSettings, nextScalerCheckMs, workersWanted } from "../core/scaler.js";
import { type PoolEndpoint, type PoolShortfall, type WorkerPool, describeExit } from "../core/worker-pool.js";
import type { WorkerSlot } from "../core/worker-slot.js";
import { showExactSize, showSize } from "../options/option-kinds.js";
import type { GpuAllocator } from "./gpus.js";
import { GroupMemory, type MemoryReading } from "./group-memory.js";
import { LineAttribution, isJobMark } from "./log-lines.js";
import type { NetworkVolume } from "./network-volume.js";
import type { Runtime } from "./runtimes/runtime.js";
import type { WorkerHandle } from "./worker-process.js";
import { workerEnvironment } from "./worker-environment.js";

export interface PoolSettings {
  minWorkers: number;
  maxWorkers: number;
  /** Workers added beyond maxWorkers when the scaler wants more, once a worker has started (the image is cached). */
  extraWorkers: number;
  idleTimeoutMs: number;
  scaler: ScalerSettings;
  /** Simulated image pull / container boot before a new worker's process starts. */
  coldStartMs: number;
  /** Shorten that delay for a worker started soon after one was stopped. */
  flashboot: boolean;
  /** SIGTERM → SIGKILL grace when stopping a worker. */
  stopGraceMs: number;
  cwd: string;
  /** The environment every worker starts from (the user's, with .env applied). */
  env: Record<string, string>;
  gpus: GpuAllocator;
  /** Bytes of memory each worker's processes may hold together before they are killed (workerMemory); undefined: no limit. */
  memoryLimit: number | undefined;
  /** The endpoint's network volume, if it has one. */
  volume: NetworkVolume | undefined;
  /** The handler version new workers run: the content hash of the watched files, read live. */
  handlerVersion: () => string | undefined;
}

interface Member {
  slot: WorkerSlot;
  process?: WorkerHandle;
  gpus: number[];
  startTimer?: TimerHandle;
  idleTimer?: TimerHandle;
  stoppedByEmulator: boolean;
  /** It reached its first job-take. */
  ready: boolean;
  /** Why the pool killed it (its memory limit), for the reason of its exit. */
  killedFor?: string;
}

const FLASHBOOT_WINDOW_MS = 5 * 60_000;
const FLASHBOOT_FACTOR = 0.1;
const MAX_BACKOFF_MS = 30_000;
/**
 * How often each worker's memory is sampled: under a limit, often enough to catch a fast allocation well
 * before the machine runs short (a process fills memory at a few GB a second); without one, only to show it.
 */
const LIMITED_SAMPLE_MS = 200;
const SHOWN_SAMPLE_MS = 1000;

/**
 * The worker processes of one endpoint: started when the scaler wants them, replaced when they die,
 * stopped when idle above the minimum, retired after their current jobs when outdated. The endpoint
 * decides what each worker does; the pool only starts, signals and watches processes. Workers it wants
 * but cannot have are counts of its own, not workers: those waiting for a free GPU (throttled) and
 * those that failed to start and wait out their back-off before the next try (unhealthy).
 */
export class Pool implements WorkerPool {
  private readonly members = new Map<string, Member>();
  private apiBase = "";
  private lastScaleUpAt = Number.NEGATIVE_INFINITY;
  private lastStoppedAt = Number.NEGATIVE_INFINITY;
  private checkTimer: TimerHandle | undefined;
  /** Wanted workers for which no GPU was free at the last look. */
  private throttled = 0;
  /** The id the next worker gets, once announced as throttled. */
  private reservedId: string | undefined;
  /** Workers that failed to start and were not tried again yet; they stay wanted. */
  private failedStarts = 0;
  /** Start failures in a row, for the back-off; a worker that reaches its first job-take ends the run. */
  private failures = 0;
  private backoffUntil = 0;
  private lastFailure = "";
  private sequence = 0;
  private closed = false;
  private reconsidering = false;
  /** A worker reached ready once: as the hosted image cache, this lets extra workers start. */
  private imageCached = false;
  /** The workers' memory, where this system lets it be read. */
  private readonly memory = GroupMemory.available() ? new GroupMemory() : undefined;
  private memoryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly endpoint: PoolEndpoint,
    private readonly runtime: Runtime,
    private readonly settings: PoolSettings,
  ) {}

  /** Brings the pool to its minimum size; workers reach the API at `apiBase` (`http://127.0.0.1:PORT/v2`). */
  start(apiBase: string): void {
    this.apiBase = apiBase;
    for (const warning of this.configurationWarnings()) this.endpoint.warn(warning);
    this.reconsider();
  }

  // ---------------------------------------------------------------- WorkerPool

  reconsider(): void {
    if (this.closed || !this.apiBase) return;
    // Starting or dropping a worker can call back in here; one pass at a time.
    if (this.reconsidering) return;
    this.reconsidering = true;
    try {
      this.scale();
    } finally {
      this.reconsidering = false;
    }
  }

  workerChanged(worker: WorkerSlot): void {
    const member = this.members.get(worker.id);
    if (!member || this.closed) return;
    if (!member.ready && worker.firstTakeAt !== undefined) {
      member.ready = true;
      this.imageCached = true;
      // The current code reached its first job-take: the run of start failures is over.
      if (this.isCurrent(worker)) {
        this.failures = this.failedStarts = 0;
        this.backoffUntil = 0;
        this.lastFailure = "";
      }
    }
    this.watchIdle(member);
  }

  recycle(workerId: string): void {
    const member = this.members.get(workerId);
    if (member) void this.retire(member, "asked to be replaced (refresh_worker)");
  }

  kill(workerId: string): void {
    const member = this.members.get(workerId);
    if (!member) return;
    member.stoppedByEmulator = true;
    if (member.process) void member.process.kill();
    else void this.stop(member);
  }

  isCurrent(worker: WorkerSlot): boolean {
    return worker.handlerVersion === this.handlerVersion;
  }

  shortfall(): PoolShortfall {
    return { throttled: this.throttled, unhealthy: this.failedStarts };
  }

  // ---------------------------------------------------------------- rolling release

  /** The handler version new workers run. */
  get handlerVersion(): string | undefined {
    return this.settings.handlerVersion();
  }

  /**
   * A rolling release onto the current handler version: idle workers on older code are stopped at once,
   * busy ones are `outdated` and stop after their jobs. Resolves with the number of workers replaced, once
   * the idle ones have stopped. A failed start is tried again at once rather than after its back-off.
   */
  async replaceOutdated(): Promise<number> {
    this.failures = 0;
    this.backoffUntil = 0;
    const stopping: Promise<void>[] = [];
    let replaced = 0;
    for (const member of [...this.members.values()]) {
      if (member.slot.stopping || this.isCurrent(member.slot)) continue;
      if (member.process) replaced++;
      stopping.push(this.retire(member, "finishing its job on the previous code"));
    }
    this.reconsider();
    await Promise.all(stopping);
    return replaced;
  }

  /** Stops every worker (SIGTERM, then SIGKILL after the grace) and waits for them. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearCheck();
    clearInterval(this.memoryTimer);
    await Promise.all([...this.members.values()].map((member) => this.stop(member)));
  }

  /**
   * A running worker's environment, as its process got it: the one named, else the first started; undefined
   * when there is none (or none by that id).
   */
  liveEnvironment(workerId?: string): { workerId: string; env: Record<string, string> } | undefined {
    for (const [id, member] of this.members) {
      const env = member.process?.environment;
      if (env && (workerId === undefined || workerId === id)) return { workerId: id, env };
    }
    return undefined;
  }

  /** Process ids of the running workers (for tests and diagnostics). */
  pids(): number[] {
    return [...this.members.values()].flatMap((m) => (m.process?.pid ? [m.process.pid] : []));
  }

  /** Reads every worker's memory now, killing those over the limit; the timer calls it, and tests, to read at a known moment. */
  sampleMemory(): void {
    if (!this.memory) return;
    const limit = this.settings.memoryLimit;
    const groups = new Map<number, number | undefined>();
    for (const member of this.members.values()) {
      const pid = member.process?.pid;
      if (pid !== undefined && member.killedFor === undefined) groups.set(pid, limit);
    }
    if (groups.size === 0) {
      clearInterval(this.memoryTimer);
      this.memoryTimer = undefined;
    }
    const readings = this.memory.sample(groups, Date.now());
    for (const member of this.members.values()) {
      const reading = member.process?.pid === undefined ? undefined : readings.get(member.process.pid);
      if (reading) this.recordMemory(member, reading);
    }
  }

  // ---------------------------------------------------------------- internals

  private scale(): void {
    const clock = this.endpoint.clock;
    this.clearCheck();
    const now = clock.now();
    if (now < this.backoffUntil) {
      this.checkTimer = clock.setTimeout(() => this.reconsider(), this.backoffUntil - now);
      return;
    }
    const queue = this.endpoint.queueState();
    const active = this.activeCount();
    const input = {
      queued: queue.queued,
      inProgress: queue.inProgress,
      oldestWaitMs: queue.oldestWaitMs,
      active,
      failedStarts: this.failedStarts,
      sinceScaleUpMs: now - this.lastScaleUpAt,
      minWorkers: this.settings.minWorkers,
      maxWorkers: this.settings.maxWorkers + (this.imageCached ? this.settings.extraWorkers : 0),
    };
    const wanted = workersWanted(this.settings.scaler, input);
    let started = active;
    for (; started < wanted; started++) {
      if (queue.queued > 0) this.lastScaleUpAt = now;
      if (!this.startWorker()) break;
    }
    this.setThrottled(wanted - started);
    const next = nextScalerCheckMs(this.settings.scaler, { ...input, active: Math.max(wanted, active), sinceScaleUpMs: now - this.lastScaleUpAt });
    if (next !== undefined) this.checkTimer = clock.setTimeout(() => this.reconsider(), next);
  }

  /** Workers started or starting that count towards the pool's size. */
  private activeCount(): number {
    let active = 0;
    for (const member of this.members.values()) {
      const state = member.slot.state;
      if (state !== "stopping" && state !== "unhealthy" && state !== "outdated") active++;
    }
    return active;
  }

  private setThrottled(count: number): void {
    if (count > this.throttled) {
      // Announced under the id the first waiting worker will start with, so its story reads in order.
      this.reservedId ??= this.newWorkerId();
      const wanted = count === 1 ? "another worker" : `${count} more workers`;
      const problem = this.settings.gpus.typeProblem();
      this.endpoint.announce(this.reservedId, "throttled", problem ? `no GPU for ${wanted}: ${problem}` : `no free GPU for ${wanted}; waiting for one`);
    }
    this.throttled = count;
  }

  private newWorkerId(): string {
    return `w${++this.sequence}-${randomBytes(2).toString("hex")}`;
  }

  private startWorker(): boolean {
    const gpus = this.settings.gpus.allocate();
    if (gpus === null) return false;
    const id = this.reservedId ?? this.newWorkerId();
    this.reservedId = undefined;
    if (this.failedStarts > 0) this.failedStarts--;
    const secret = randomBytes(24).toString("base64url");
    const active = this.activeCount();
    const type = active < this.settings.minWorkers ? "active" : active < this.settings.maxWorkers ? "flex" : "extra";
    const slot = this.endpoint.addWorker(id, secret, this.handlerVersion, type);
    const member: Member = { slot, gpus, stoppedByEmulator: false, ready: false };
    this.members.set(id, member);
    const recentlyStopped = this.endpoint.clock.now() - this.lastStoppedAt < FLASHBOOT_WINDOW_MS;
    const delay = Math.round(this.settings.coldStartMs * (this.settings.flashboot && recentlyStopped ? FLASHBOOT_FACTOR : 1));
    if (delay > 0) member.startTimer = this.endpoint.clock.setTimeout(() => this.spawn(member, secret), delay);
    else this.spawn(member, secret);
    return true;
  }

  private spawn(member: Member, secret: string): void {
    member.startTimer = undefined;
    const { id } = member.slot;
    const env = workerEnvironment({
      base: this.settings.env,
      endpointId: this.endpoint.id,
      workerId: id,
      apiBase: this.apiBase,
      protocol: this.endpoint.workerEnvironment(id, secret, this.apiBase),
      gpus: this.settings.gpus.environment(member.gpus),
      runtime: this.runtime.environment ?? {},
    });
    const lines = new LineAttribution(member.slot, () => this.endpoint.clock.now());
    const process = this.runtime.start({
      env,
      cwd: this.settings.cwd,
      volume: this.settings.volume,
      port: this.endpoint.port?.(member.slot),
      onLine: (stream, line) => {
        const attributed = lines.attribute(stream, line);
        if (attributed) this.endpoint.log(id, stream, attributed.message, attributed.jobId, attributed.level);
      },
    });
    member.process = process;
    member.slot.pid = process.pid;
    this.watchMemory();
    void process.exited.then(({ code, signal, signalDescription }) => {
      // Crash messages name the signal with its meaning, as execa words it: "SIGKILL (Forced termination)".
      this.exited(member, code, signal && signalDescription ? `${signal} (${signalDescription})` : signal);
    });
  }

  private exited(member: Member, code: number | null, signal: string | null): void {
    const { slot } = member;
    this.members.delete(slot.id);
    this.settings.gpus.release(member.gpus);
    if (member.idleTimer) this.endpoint.clock.clearTimeout(member.idleTimer);
    const byEmulator = member.stoppedByEmulator || slot.stopping;
    const lastLines = (member.process?.lastLines ?? []).filter((line) => !isJobMark(line));
    if (byEmulator) this.lastStoppedAt = this.endpoint.clock.now();
    const { killedFor } = member;
    // Recorded before the endpoint reconsiders the pool, so the replacement waits out the back-off.
    const failure = slot.firstTakeAt === undefined && !byEmulator && !this.closed ? this.startFailed(describeExit({ code, signal, killedFor }), lastLines) : undefined;
    this.endpoint.removeWorker(slot, { code, signal, byEmulator, lastLines, killedFor });
    if (failure) this.endpoint.announce(slot.id, "unhealthy", failure);
  }

  /** A worker that died before its first job-take: unhealthy, and tried again after a back-off (SPEC §3.4). */
  private startFailed(how: string, lastLines: string[]): string {
    this.failedStarts++;
    this.failures++;
    const backoff = Math.min(1000 * 2 ** (this.failures - 1), MAX_BACKOFF_MS);
    this.backoffUntil = this.endpoint.clock.now() + backoff;
    const output = lastLines.join("\n");
    const repeated = this.failures > 1 && output === this.lastFailure;
    this.lastFailure = output;
    // The error is shown once per change, never again and again.
    if (repeated) return `failed to start again (${how}); retrying in ${backoff / 1000} s`;
    return `failed to start (${how}) before taking a job; retrying in ${backoff / 1000} s${output ? `\n${output}` : ""}`;
  }

  /** Stops a worker once it holds no job; until then it is `outdated` and takes nothing new. */
  private async retire(member: Member, reason: string): Promise<void> {
    if (member.slot.held.size === 0 || !member.process) return this.stop(member);
    this.endpoint.registry.outdate(member.slot, reason);
  }

  private async stop(member: Member): Promise<void> {
    member.stoppedByEmulator = true;
    if (member.startTimer) this.endpoint.clock.clearTimeout(member.startTimer);
    if (member.idleTimer) this.endpoint.clock.clearTimeout(member.idleTimer);
    this.endpoint.registry.drain(member.slot);
    if (member.process) await member.process.stop(this.settings.stopGraceMs);
    else this.exited(member, null, null);
  }

  /** Times out idle workers above the minimum. */
  private watchIdle(member: Member): void {
    const { slot } = member;
    if (member.idleTimer) {
      this.endpoint.clock.clearTimeout(member.idleTimer);
      member.idleTimer = undefined;
    }
    if (slot.state !== "idle") return;
    member.idleTimer = this.endpoint.clock.setTimeout(() => {
      member.idleTimer = undefined;
      if (slot.state === "idle" && this.activeCount() > this.settings.minWorkers) void this.stop(member);
    }, this.settings.idleTimeoutMs);
  }

  private clearCheck(): void {
    if (this.checkTimer) this.endpoint.clock.clearTimeout(this.checkTimer);
    this.checkTimer = undefined;
  }

  // ---------------------------------------------------------------- memory

  /** Samples the workers' memory while any worker process runs (real time: it measures the machine, not the queue). */
  private watchMemory(): void {
    if (!this.memory || this.memoryTimer || this.closed) return;
    this.memoryTimer = setInterval(() => this.sampleMemory(), this.settings.memoryLimit === undefined ? SHOWN_SAMPLE_MS : LIMITED_SAMPLE_MS);
    this.memoryTimer.unref();
  }

  private recordMemory(member: Member, { usedBytes, overLimit }: MemoryReading): void {
    const limit = this.settings.memoryLimit;
    const peakBytes = Math.max(usedBytes, member.slot.memory?.peakBytes ?? 0);
    member.slot.memory = limit === undefined ? { usedBytes, peakBytes } : { usedBytes, peakBytes, limitBytes: limit };
    if (!overLimit || limit === undefined) return;
    // As a container's out-of-memory kill: SIGKILL, no grace, and its jobs are lost with it (SPEC §3.4).
    member.killedFor = `exceeded its memory limit (workerMemory ${showExactSize(limit)}) with ${showSize(usedBytes)} in use, and was killed as out of memory (SIGKILL)`;
    void member.process?.kill();
  }

  /** What the endpoint's configuration cannot do here, said once at start. */
  private configurationWarnings(): string[] {
    const warnings: string[] = [];
    const gpuType = this.settings.gpus.typeWarning();
    if (gpuType) warnings.push(gpuType);
    const limit = this.settings.memoryLimit;
    if (limit !== undefined && this.runtime.kind === "function") {
      warnings.push(`workerMemory ${showExactSize(limit)} is not enforced for a function handler: it runs in this process`);
    } else if (limit !== undefined && !this.memory) {
      warnings.push(`workerMemory ${showExactSize(limit)} is not enforced on this system: worker memory is read from /proc, which ${process.platform} does not have`);
    }
    return warnings;
  }
}
