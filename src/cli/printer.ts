import type { EmulatorEvent } from "../core/events.js";
import type { Job } from "../core/job.js";
import { showExactSize, showSize } from "../options/option-kinds.js";
import { exceptionReport, readableError } from "./job-report.js";

const RESET = "\x1b[0m";
const COLORS = { dim: "\x1b[2m", red: "\x1b[31m", green: "\x1b[32m", yellow: "\x1b[33m", cyan: "\x1b[36m" } as const;
type Color = keyof typeof COLORS;

/** A job id as the terminal shows it: enough to recognise, short enough to scan. */
export function shortId(id: string): string {
  const sync = id.startsWith("sync-");
  const core = sync ? id.slice(5) : id;
  return `${sync ? "sync-" : ""}${core.slice(0, 8)}…`;
}

type ReloadEvent = Extract<EmulatorEvent, { type: "reload" }>;

/** What a worker printed before its first job-take. */
interface StartOutput {
  messages: string[];
  /** Lines held back rather than printed: the previous start failed, and this one may only repeat it. */
  held?: string[];
}

/** Lines of a starting worker compared with the last failed start's, as the pool keeps a worker's last lines. */
const START_LINES_COMPARED = 20;
/** A start that prints more than this before its first job-take is not a quick repeat of a failure: shown as it comes. */
const START_LINES_HELD = 200;

/** Where a failed job's traceback lines start: under the text after the time. */
const DETAIL_INDENT = " ".repeat("00:00:00.000 ".length + 2);

/**
 * Turns events into terminal lines: one per job state change, worker change, reload and warning, and
 * the workers' own lines prefixed by worker and job. Stream chunks are counted on the job's final line,
 * never printed one per token. A failure is told once: a failed job's traceback under its line, the
 * SDK's own report of it as one line, a failed start's output once until it changes, and a reload by
 * whether its new code started.
 */
export class Printer {
  private readonly chunks = new Map<string, number>();
  /** Workers that have not run a job yet: their first job is a cold one. */
  private readonly coldWorkers = new Set<string>();
  private readonly coldJobs = new Set<string>();
  private readonly starting = new Map<string, StartOutput>();
  /** The output of the last start that failed, until a worker starts. */
  private lastFailure: string[] | undefined;
  /** A reload whose new code is still starting: said once it started, or failed to. */
  private pendingReload: ReloadEvent | undefined;
  /** A reload whose new code failed to start: said with the failure's unhealthy line. */
  private failedReload: ReloadEvent | undefined;

  constructor(
    private readonly write: (line: string) => void,
    private readonly color: boolean,
    private readonly format: "pretty" | "json" = "pretty",
  ) {}

  /** Handles one event; pass this to the event bus. */
  readonly print = (event: EmulatorEvent): void => {
    if (this.format === "json") return this.write(JSON.stringify(event.type === "status" ? { ...event, job: summary(event.job) } : event));
    const line = this.describe(event);
    if (line !== undefined) this.write(this.stamp(event.time, line));
  };

  private stamp(time: number, line: string): string {
    return `${this.paint("dim", clock(time))} ${line}`;
  }

  private describe(event: EmulatorEvent): string | undefined {
    switch (event.type) {
      case "status":
        return this.status(event.job, event.note);
      case "stream":
        this.chunks.set(event.jobId, (this.chunks.get(event.jobId) ?? 0) + 1);
        return undefined;
      case "progress":
        return `${this.paint("cyan", "…")} ${shortId(event.jobId)} progress ${truncate(JSON.stringify(event.output) ?? "", 120)}`;
      case "log":
        return this.log(event);
      case "worker":
        return this.worker(event);
      case "request": {
        const text = `→ ${event.method} ${truncate(event.path, 80)} ${event.status} in ${event.ms} ms on ${event.workerId}`;
        return event.failed ? this.paint("yellow", text) : this.paint("dim", text);
      }
      case "reload":
        if (this.pendingReload) this.write(this.stamp(event.time, this.reloaded(this.pendingReload)));
        this.pendingReload = undefined;
        // Said once a worker on the new code started or failed to, unless none is starting.
        if (this.starting.size > 0) {
          this.pendingReload = event;
          return undefined;
        }
        return this.reloaded(event);
      case "warning":
        return this.paint("yellow", `! ${event.message}`);
    }
  }

  private log(event: Extract<EmulatorEvent, { type: "log" }>): string | undefined {
    const job = event.jobId ? ` [${shortId(event.jobId)}]` : "";
    const level = event.level ? ` ${event.level}` : "";
    // The official SDK logs a handler's exception as a JSON report: its summary here, the traceback under the job's line.
    const message = exceptionReport(event.message)?.[0] ?? event.message;
    const text = `[${event.workerId}]${job}${level} ${message}`;
    const line = event.stream === "stderr" || event.level === "ERROR" ? this.paint("yellow", text) : this.paint("dim", text);
    const start = this.starting.get(event.workerId);
    if (!start) return line;
    start.messages.push(event.message);
    if (start.messages.length > START_LINES_COMPARED) start.messages.shift();
    if (!start.held) return line;
    start.held.push(this.stamp(event.time, line));
    if (start.held.length > START_LINES_HELD) this.flushStart(event.workerId, false);
    return undefined;
  }

  private reloaded(event: ReloadEvent): string {
    return this.paint("cyan", `reloaded (${plural(event.filesChanged, "file")} changed): ${plural(event.workersReplaced, "worker")} replaced in ${event.ms} ms`);
  }

  private status(job: Job, note: string | undefined): string {
    const id = shortId(job.id);
    switch (job.status) {
      case "IN_QUEUE":
        return `${this.paint("dim", "·")} ${id} IN_QUEUE${job.retries ? ` (retry ${job.retries})` : ""}`;
      case "IN_PROGRESS": {
        if (job.workerId && this.coldWorkers.delete(job.workerId)) this.coldJobs.add(job.id);
        return `${this.paint("cyan", "▶")} ${id} IN_PROGRESS on ${job.workerId}`;
      }
      default: {
        const chunks = this.chunks.get(job.id);
        this.chunks.delete(job.id);
        const cold = this.coldJobs.delete(job.id);
        const timing = [
          job.delayTime !== undefined ? `delay ${job.delayTime} ms${cold ? ", cold" : ""}` : "",
          chunks ? `${chunks} chunk${chunks === 1 ? "" : "s"}` : "",
        ].filter(Boolean).join(", ");
        const took = job.executionTime !== undefined ? ` in ${job.executionTime} ms` : "";
        const suffix = `${took}${timing ? ` (${timing})` : ""}${note ? ` — ${note}` : ""}`;
        if (job.status === "COMPLETED") return `${this.paint("green", "✓")} ${id} COMPLETED${suffix}`;
        const [summary, ...detail] = job.error === undefined ? [] : readableError(job.error);
        const line = `${this.paint("red", "✗")} ${id} ${job.status}${suffix}${summary ? `: ${truncate(summary, 200)}` : ""}`;
        // A job lost with its worker ends with the worker's last lines, printed as they came.
        if (job.lost > 1 || detail.length === 0) return line;
        return [line, ...detail.map((text) => `${DETAIL_INDENT}${text}`)].join("\n");
      }
    }
  }

  private worker(event: Extract<EmulatorEvent, { type: "worker" }>): string | undefined {
    const name = `worker ${event.workerId}`;
    switch (event.state) {
      case "initializing":
        this.coldWorkers.add(event.workerId);
        this.starting.set(event.workerId, { messages: [], held: this.lastFailure && [] });
        return this.paint("dim", `${name} starting${event.workerType === "extra" ? " (an extra worker, beyond max)" : ""}`);
      case "idle":
        if (event.coldStartMs === undefined) return undefined;
        this.started(event.workerId, event.time);
        return `${name} ready in ${event.coldStartMs} ms`;
      case "running":
        return undefined;
      case "exited": {
        this.coldWorkers.delete(event.workerId);
        // A detail says why: it died on its own. Before its first job-take, that is a failed start,
        // which the unhealthy line that follows tells.
        if (event.detail && this.failedStart(event.workerId)) return undefined;
        this.flushStart(event.workerId);
        if (event.detail) return this.paint("yellow", `${name} ${event.detail}`);
        const memory = event.memory;
        const peak = memory ? ` (memory peak ${showSize(memory.peakBytes)}${memory.limitBytes === undefined ? "" : ` of its ${showExactSize(memory.limitBytes)} limit`})` : "";
        return this.paint("dim", `${name} stopped${peak}`);
      }
      case "unhealthy": {
        // Only the first line: the output that follows it was printed as it came, or is a repeat.
        const line = this.paint("red", `${name} unhealthy${event.detail ? `: ${event.detail.split("\n")[0]}` : ""}`);
        const reload = this.failedReload;
        this.failedReload = undefined;
        if (!reload) return line;
        const stopped = reload.workersReplaced ? `; ${plural(reload.workersReplaced, "worker")} on the old code stopped` : "";
        return `${this.paint("red", `reload failed: the new code did not start (${plural(reload.filesChanged, "file")} changed${stopped}); fix it and save again`)}\n${this.stamp(event.time, line)}`;
      }
      default:
        return `${name} ${event.state}${event.detail ? `: ${event.detail}` : ""}`;
    }
  }

  /** A worker reached its first job-take: the run of failed starts, and a pending reload, are over. */
  private started(workerId: string, time: number): void {
    this.flushStart(workerId);
    this.lastFailure = undefined;
    if (this.pendingReload) this.write(this.stamp(time, this.reloaded(this.pendingReload)));
    this.pendingReload = undefined;
  }

  /**
   * A worker died: if before its first job-take, its output is printed unless it repeats the last
   * failed start's, and a pending reload failed. False for a worker that had started.
   */
  private failedStart(workerId: string): boolean {
    const start = this.starting.get(workerId);
    if (!start) return false;
    this.starting.delete(workerId);
    const repeated = this.lastFailure !== undefined && start.messages.join("\n") === this.lastFailure.join("\n");
    if (!repeated) for (const line of start.held ?? []) this.write(line);
    this.lastFailure = start.messages;
    this.failedReload = this.pendingReload;
    this.pendingReload = undefined;
    return true;
  }

  /** Prints what a worker held back, once it is known not to repeat a failure; `done`: it is no longer starting. */
  private flushStart(workerId: string, done = true): void {
    const start = this.starting.get(workerId);
    if (done) this.starting.delete(workerId);
    for (const line of start?.held ?? []) this.write(line);
    if (start) start.held = undefined;
  }

  private paint(color: Color, text: string): string {
    return this.color ? `${COLORS[color]}${text}${RESET}` : text;
  }
}

function summary(job: Job): Record<string, unknown> {
  return { id: job.id, status: job.status, workerId: job.workerId, delayTime: job.delayTime, executionTime: job.executionTime, error: job.error };
}

function clock(time: number): string {
  return new Date(time).toISOString().slice(11, 23);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
