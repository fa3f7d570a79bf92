import { randomBytes } from "node:crypto";
import type { TimerHandle } from "../core/clock.js";
import type { Endpoint, PoolHooks } from "../core/endpoint.js";
import type { EventBus } from "../core/events.js";
import { type ScalerSettings, nextScalerCheckMs, workersWanted } from "../core/scaler.js";
import type { WorkerSlot } from "../core/worker-slot.js";
import type { GpuAllocator } from "./gpus.js";
import { attributeLine } from "./log-lines.js";
import type { Runtime } from "./runtimes/runtime.js";
import type { WorkerHandle } from "./worker-process.js";

export interface PoolSettings {
  minWorkers: number;
  maxWorkers: number;
  idleTimeoutMs: number;
  scaler: ScalerSettings;
  /** Simulated image pull / container boot before a new worker's process starts. */
  coldStartMs: number;
  /** Shorten that delay for a worker started soon after one was stopped. */
  flashboot: boolean;
  /** SIGTERM → SIGKILL grace when stopping a worker. */
  stopGraceMs: number;
  /** How long a worker may keep a stopped job (cancel, timeout) before its process group is killed. */
  releaseGraceMs: number;
  pingIntervalMs: number;
  /** `http://127.0.0.1:PORT/v2` as the workers reach the API. */
  apiBase: string;
  cwd: string;
  /** The environment every worker starts from (the user's, with .env applied). */
  env: Record<string, string>;
  gpus: GpuAllocator;
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
}

const FLASHBOOT_WINDOW_MS = 5 * 60_000;
const FLASHBOOT_FACTOR = 0.1;
const MAX_BACKOFF_MS = 30_000;

/**
 * The worker processes of one endpoint: started when the scaler wants them, replaced when they die,
 * stopped when idle above the minimum, retired after their current jobs when outdated. The endpoint
 * decides what each worker does; the pool only starts, signals and watches processes.
 */
export class Pool implements PoolHooks {
  private readonly members = new Map<string, Member>();
  private lastScaleUpAt = Number.NEGATIVE_INFINITY;
  private lastStoppedAt = Number.NEGATIVE_INFINITY;
  private checkTimer: TimerHandle | undefined;
  private failures = 0;
  private backoffUntil = 0;
  private lastFailure = "";
  private sequence = 0;
  private closed = false;
  private reconsidering = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly runtime: Runtime,
    private readonly settings: PoolSettings,
    bus: EventBus,
  ) {
    endpoint.setPoolHooks(this);
    this.unsubscribe = bus.on((event) => {
      if (event.type === "worker" && event.endpointId === endpoint.id) this.workerChanged(event.workerId);
    });
  }

  /** Brings the pool to its minimum size. */
  start(): void {
    this.reconsider();
  }

  // ---------------------------------------------------------------- PoolHooks

  reconsider(): void {
    if (this.closed) return;
    // Starting or dropping a worker can call back in here; one pass at a time.
    if (this.reconsidering) return;
    this.reconsidering = true;
    try {
      this.scale();
    } finally {
      this.reconsidering = false;
    }
  }

  private scale(): void {
    const clock = this.endpoint.clock;
    this.clearCheck();
    const now = clock.now();
    if (now < this.backoffUntil) {
      this.checkTimer = clock.setTimeout(() => this.endBackoff(), this.backoffUntil - now);
      return;
    }
    const queue = this.endpoint.queueState();
    const input = {
      queued: queue.queued,
      inProgress: queue.inProgress,
      oldestWaitMs: queue.oldestWaitMs,
      active: this.activeCount(),
      sinceScaleUpMs: now - this.lastScaleUpAt,
      minWorkers: this.settings.minWorkers,
      maxWorkers: this.settings.maxWorkers,
    };
    const wanted = workersWanted(this.settings.scaler, input);
    for (let n = input.active; n < wanted; n++) {
      if (queue.queued > 0) this.lastScaleUpAt = now;
      if (!this.startWorker()) break;
    }
    const next = nextScalerCheckMs(this.settings.scaler, { ...input, active: Math.max(wanted, input.active), sinceScaleUpMs: now - this.lastScaleUpAt });
    if (next !== undefined) this.checkTimer = clock.setTimeout(() => this.reconsider(), next);
  }

  jobStopRequested(workerId: string, jobId: string): void {
    this.endpoint.clock.setTimeout(() => {
      const member = this.members.get(workerId);
      if (!member || !this.endpoint.isReleasing(workerId, jobId)) return;
      this.endpoint.warn(`worker ${workerId} did not let go of stopped job ${jobId} within ${this.settings.releaseGraceMs} ms; killing it`, jobId);
      member.stoppedByEmulator = true;
      void member.process?.kill();
    }, this.settings.releaseGraceMs);
  }

  recycle(workerId: string): void {
    const member = this.members.get(workerId);
    if (member) void this.retire(member, "asked to be replaced (refresh_worker)");
  }

  // ---------------------------------------------------------------- rolling release

  /** The handler version new workers run. */
  get handlerVersion(): string | undefined {
    return this.settings.handlerVersion();
  }

  isCurrent(worker: WorkerSlot): boolean {
    return worker.handlerVersion === this.handlerVersion;
  }

  /**
   * A rolling release onto the current handler version: idle workers on older code are stopped at once,
   * busy ones are `outdated` and stop after their jobs. Resolves with the number of workers replaced, once
   * the idle ones have stopped. A failing start is retried at once rather than after its back-off.
   */
  async replaceOutdated(): Promise<number> {
    this.failures = 0;
    this.backoffUntil = 0;
    const stopping: Promise<void>[] = [];
    let replaced = 0;
    for (const member of [...this.members.values()]) {
      const placeholder = !member.process && !member.startTimer;
      if (member.slot.stopping || (!placeholder && this.isCurrent(member.slot))) continue;
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
    this.unsubscribe();
    await Promise.all([...this.members.values()].map((member) => this.stop(member)));
  }

  /** Process ids of the running workers (for tests and diagnostics). */
  pids(): number[] {
    return [...this.members.values()].flatMap((m) => (m.process?.pid ? [m.process.pid] : []));
  }

  // ---------------------------------------------------------------- internals

  private activeCount(): number {
    let active = 0;
    for (const member of this.members.values()) {
      const state = member.slot.state;
      if (!member.slot.stopping && state !== "unhealthy" && state !== "outdated" && state !== "throttled") active++;
    }
    return active;
  }

  private startWorker(): boolean {
    const gpus = this.settings.gpus.allocate();
    if (gpus === null) {
      this.showThrottled();
      return false;
    }
    this.dropThrottled();
    const id = `w${++this.sequence}-${randomBytes(2).toString("hex")}`;
    const secret = randomBytes(24).toString("base64url");
    const slot = this.endpoint.addWorker(id, secret, this.handlerVersion);
    const member: Member = { slot, gpus, stoppedByEmulator: false };
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
    const base = `${this.settings.apiBase}/${encodeURIComponent(this.endpoint.id)}`;
    const query = `gpu=LOCAL&token=${secret}`;
    const env: Record<string, string> = {
      ...this.settings.env,
      ...this.settings.gpus.environment(member.gpus),
      RUNPOD_WEBHOOK_GET_JOB: `${base}/job-take/$ID?${query}`,
      RUNPOD_WEBHOOK_POST_OUTPUT: `${base}/job-done/$RUNPOD_POD_ID/$ID?${query}`,
      RUNPOD_WEBHOOK_POST_STREAM: `${base}/job-stream/$RUNPOD_POD_ID/$ID?${query}`,
      RUNPOD_WEBHOOK_PING: `${base}/ping/$RUNPOD_POD_ID?token=${secret}`,
      RUNPOD_PING_INTERVAL: String(Math.max(1000, this.settings.pingIntervalMs)),
      RUNPOD_AI_API_KEY: secret,
      RUNPOD_POD_ID: id,
      RUNPOD_POD_HOSTNAME: id,
      RUNPOD_ENDPOINT_ID: this.endpoint.id,
      RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "true",
      RUNPOD_SKIP_GPU_CHECK: "true",
      PYTHONUNBUFFERED: "1",
    };
    const process = this.runtime.start({
      env,
      cwd: this.settings.cwd,
      onLine: (stream, line) => {
        const { jobId, level, message } = attributeLine(line, member.slot);
        this.endpoint.log(id, stream, message, jobId, level);
      },
    });
    member.process = process;
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
    const lastLines = member.process?.lastLines ?? [];
    if (byEmulator) this.lastStoppedAt = this.endpoint.clock.now();
    // A start-up failure sets the back-off before the endpoint asks for a replacement.
    const failure = slot.firstTakeAt === undefined && !byEmulator && !this.closed ? this.startFailed(code, signal, lastLines) : undefined;
    this.endpoint.removeWorker(slot, { code, signal, byEmulator, lastLines });
    if (failure) {
      const placeholder = this.endpoint.addWorker(slot.id, "", slot.handlerVersion, "unhealthy", failure);
      this.members.set(slot.id, { slot: placeholder, gpus: [], stoppedByEmulator: true });
      this.reconsider();
    }
  }

  /** A worker that died before its first job-take: unhealthy, and restarted with back-off (SPEC §3.4). */
  private startFailed(code: number | null, signal: string | null, lastLines: string[]): string {
    this.failures++;
    const backoff = Math.min(1000 * 2 ** (this.failures - 1), MAX_BACKOFF_MS);
    this.backoffUntil = this.endpoint.clock.now() + backoff;
    const output = lastLines.join("\n");
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const repeated = output === this.lastFailure;
    this.lastFailure = output;
    // The error is shown once per change, never again and again.
    if (repeated) return `failed to start again (${how}); retrying in ${backoff / 1000} s`;
    return `failed to start (${how}) before taking a job; retrying in ${backoff / 1000} s${output ? `:\n${output}` : ""}`;
  }

  private endBackoff(): void {
    for (const member of [...this.members.values()]) {
      if (member.process || member.startTimer || member.slot.state !== "unhealthy") continue;
      this.members.delete(member.slot.id);
      this.endpoint.removeWorker(member.slot, { code: null, signal: null, byEmulator: true, lastLines: [] });
    }
    this.backoffUntil = 0;
    this.reconsider();
  }

  private showThrottled(): void {
    // One visible throttled slot stands for "wanted, but no GPU free".
    if ([...this.members.values()].some((m) => m.slot.state === "throttled")) return;
    const slot = this.endpoint.addWorker(`throttled-${++this.sequence}`, "", this.handlerVersion, "throttled", "no free GPU for another worker");
    this.members.set(slot.id, { slot, gpus: [], stoppedByEmulator: true });
  }

  private dropThrottled(): void {
    for (const member of this.members.values()) {
      if (member.slot.state !== "throttled") continue;
      this.members.delete(member.slot.id);
      this.endpoint.removeWorker(member.slot, { code: null, signal: null, byEmulator: true, lastLines: [] });
    }
  }

  /** Stops a worker once it holds no job; until then it is `outdated` and takes nothing new. */
  private async retire(member: Member, reason: string): Promise<void> {
    if (member.slot.held.size === 0 || !member.process) return this.stop(member);
    this.endpoint.setWorkerState(member.slot, "outdated", reason);
  }

  private async stop(member: Member): Promise<void> {
    member.stoppedByEmulator = true;
    if (member.startTimer) this.endpoint.clock.clearTimeout(member.startTimer);
    if (member.idleTimer) this.endpoint.clock.clearTimeout(member.idleTimer);
    this.endpoint.drainWorker(member.slot);
    if (member.process) await member.process.stop(this.settings.stopGraceMs);
    else this.exited(member, null, null);
  }

  /** Times out idle workers above the minimum. */
  private workerChanged(workerId: string): void {
    const member = this.members.get(workerId);
    if (!member || this.closed) return;
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
}
