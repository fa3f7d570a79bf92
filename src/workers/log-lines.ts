import { LATE_LINE_GRACE_MS } from "../core/log-budget.js";
import type { WorkerSlot } from "../core/worker-slot.js";

/** One line a worker printed, with the job it belongs to when that can be told. */
export interface AttributedLine {
  jobId?: string;
  level?: string;
  message: string;
}

/**
 * Starts a line by which the bundled Python module says, in line with the output itself, which job
 * the lines after it belong to: `JOB_MARK{"job": "<id>"}`, or `{"job": null}` for none.
 */
export const JOB_MARK = "\x1erunpod-emulator ";

/** A line of the bundled module's own, never shown or kept. */
export const isJobMark = (line: string): boolean => line.startsWith(JOB_MARK);

/**
 * Tells which job each line of one worker belongs to. With RUNPOD_ENDPOINT_ID set, the SDK (and the
 * Node bootstrap) print log lines as JSON objects `{"requestId", "message", "level"}`: those name their
 * job. Any other line (prints, tracebacks) belongs to the job the bundled module marked on that stream,
 * else to the job the worker is running when it runs exactly one, else (on a stream without marks) to
 * the job whose result it posted, while that job's lines keep coming less than LATE_LINE_GRACE_MS
 * apart (a flood a worker buffered goes on after its result; the Node worker's result waits for its
 * output instead). The mark and the grace matter
 * because a line on a pipe and the job's result on a socket reach the emulator in either order: the
 * last print of a job may arrive after the worker let go of it.
 */
export class LineAttribution {
  private readonly marked: Record<"stdout" | "stderr", string | undefined> = { stdout: undefined, stderr: undefined };
  private readonly marks = { stdout: false, stderr: false };

  constructor(
    private readonly worker: WorkerSlot,
    private readonly now: () => number = Date.now,
  ) {}

  /** The line with its job; undefined for a mark, which only changes the job of the lines after it. */
  attribute(stream: "stdout" | "stderr", line: string): AttributedLine | undefined {
    if (isJobMark(line)) {
      this.marked[stream] = markedJob(line.slice(JOB_MARK.length));
      this.marks[stream] = true;
      return undefined;
    }
    const attributed = attributeLine(line, this.worker, this.marked[stream]);
    const last = this.worker.lastResult;
    if (attributed.jobId === undefined && !this.marks[stream] && this.worker.held.size === 0 && last) {
      const now = this.now();
      if (now - last.at < LATE_LINE_GRACE_MS) {
        attributed.jobId = last.jobId;
        last.at = now;
      }
    }
    return attributed;
  }
}

function markedJob(text: string): string | undefined {
  try {
    const { job } = JSON.parse(text) as { job?: unknown };
    return typeof job === "string" ? job : undefined;
  } catch {
    return undefined;
  }
}

/** One line's job: the one its JSON names, else `marked`, else the worker's only job. */
export function attributeLine(line: string, worker: WorkerSlot, marked?: string): AttributedLine {
  const current = marked ?? (worker.held.size === 1 ? worker.held.values().next().value : undefined);
  if (line.startsWith("{") && line.endsWith("}")) {
    try {
      const parsed = JSON.parse(line) as { requestId?: unknown; message?: unknown; level?: unknown };
      if (typeof parsed.message === "string" && typeof parsed.level === "string") {
        const requestId = typeof parsed.requestId === "string" ? parsed.requestId : undefined;
        return { jobId: requestId ?? current, level: parsed.level, message: parsed.message };
      }
    } catch {
      // Not JSON after all: a plain line.
    }
  }
  return { jobId: current, message: line };
}
