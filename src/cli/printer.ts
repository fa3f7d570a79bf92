import type { EmulatorEvent } from "../core/events.js";
import type { Job } from "../core/job.js";

const RESET = "\x1b[0m";
const COLORS = { dim: "\x1b[2m", red: "\x1b[31m", green: "\x1b[32m", yellow: "\x1b[33m", cyan: "\x1b[36m" } as const;
type Color = keyof typeof COLORS;

/** A job id as the terminal shows it: enough to recognise, short enough to scan. */
export function shortId(id: string): string {
  const sync = id.startsWith("sync-");
  const core = sync ? id.slice(5) : id;
  return `${sync ? "sync-" : ""}${core.slice(0, 8)}…`;
}

/**
 * Turns events into terminal lines: one per job state change, worker change, reload and warning, and
 * the workers' own lines prefixed by worker and job. Stream chunks are counted on the job's final line,
 * never printed one per token.
 */
export class Printer {
  private readonly chunks = new Map<string, number>();
  /** Workers that have not run a job yet: their first job is a cold one. */
  private readonly coldWorkers = new Set<string>();
  private readonly coldJobs = new Set<string>();

  constructor(
    private readonly write: (line: string) => void,
    private readonly color: boolean,
    private readonly format: "pretty" | "json" = "pretty",
  ) {}

  /** Handles one event; pass this to the event bus. */
  readonly print = (event: EmulatorEvent): void => {
    if (this.format === "json") return this.write(JSON.stringify(event.type === "status" ? { ...event, job: summary(event.job) } : event));
    const line = this.describe(event);
    if (line !== undefined) this.write(`${this.paint("dim", clock(event.time))} ${line}`);
  };

  private describe(event: EmulatorEvent): string | undefined {
    switch (event.type) {
      case "status":
        return this.status(event.job, event.note);
      case "stream":
        this.chunks.set(event.jobId, (this.chunks.get(event.jobId) ?? 0) + 1);
        return undefined;
      case "progress":
        return `${this.paint("cyan", "…")} ${shortId(event.jobId)} progress ${truncate(JSON.stringify(event.output) ?? "", 120)}`;
      case "log": {
        const job = event.jobId ? ` [${shortId(event.jobId)}]` : "";
        const level = event.level ? ` ${event.level}` : "";
        const text = `[${event.workerId}]${job}${level} ${event.message}`;
        return event.stream === "stderr" || event.level === "ERROR" ? this.paint("yellow", text) : this.paint("dim", text);
      }
      case "worker":
        return this.worker(event);
      case "request": {
        const text = `→ ${event.method} ${truncate(event.path, 80)} ${event.status} in ${event.ms} ms on ${event.workerId}`;
        return event.failed ? this.paint("yellow", text) : this.paint("dim", text);
      }
      case "reload":
        return this.paint("cyan", `reloaded (${event.filesChanged} file${event.filesChanged === 1 ? "" : "s"} changed): ${event.workersReplaced} worker${event.workersReplaced === 1 ? "" : "s"} replaced in ${event.ms} ms`);
      case "warning":
        return this.paint("yellow", `! ${event.message}`);
    }
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
        const error = job.error ? `: ${firstLine(job.error)}` : "";
        return `${this.paint("red", "✗")} ${id} ${job.status}${suffix}${error}`;
      }
    }
  }

  private worker(event: Extract<EmulatorEvent, { type: "worker" }>): string | undefined {
    const name = `worker ${event.workerId}`;
    switch (event.state) {
      case "initializing":
        this.coldWorkers.add(event.workerId);
        return this.paint("dim", `${name} starting${event.workerType === "extra" ? " (an extra worker, beyond max)" : ""}`);
      case "idle":
        return event.coldStartMs !== undefined ? `${name} ready in ${event.coldStartMs} ms` : undefined;
      case "running":
        return undefined;
      case "exited":
        this.coldWorkers.delete(event.workerId);
        return event.detail ? this.paint("yellow", `${name} ${event.detail}`) : this.paint("dim", `${name} stopped`);
      case "unhealthy":
        return this.paint("red", `${name} unhealthy${event.detail ? `: ${event.detail}` : ""}`);
      default:
        return `${name} ${event.state}${event.detail ? `: ${event.detail}` : ""}`;
    }
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

function firstLine(error: string): string {
  // A Python exception arrives as a JSON string of {error_type, error_message, …}: show its message.
  try {
    const parsed = JSON.parse(error) as { error_type?: string; error_message?: string };
    if (parsed && typeof parsed.error_message === "string") return `${parsed.error_type ?? "error"}: ${parsed.error_message}`;
  } catch {
    // Plain text.
  }
  return truncate(error.split("\n")[0] ?? "", 200);
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
