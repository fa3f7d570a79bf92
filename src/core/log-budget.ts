import type { LogLine } from "../store/logs.js";

/** A job's stored log keeps its first this many bytes as they come… */
export const JOB_LOG_HEAD_BYTES = 2 * 1024 * 1024;
/** …and then only its last this many bytes, written once its output has ended. */
export const JOB_LOG_TAIL_BYTES = 2 * 1024 * 1024;
/** How long after its job ended a worker's line may still arrive (pipes and the result's socket race). */
export const LATE_LINE_GRACE_MS = 1000;

/** One line of worker output on its way to the store and the feed (which add its endpoint). */
export type OutputLine = Omit<LogLine, "endpointId">;

interface Account {
  /** The job, or undefined for the lines a worker printed outside any job. */
  jobId: string | undefined;
  used: number;
  /** Lines past the head, newest last, from index `start` on; at most JOB_LOG_TAIL_BYTES of them. */
  tail: { line: OutputLine; bytes: number }[];
  start: number;
  tailBytes: number;
  droppedLines: number;
  droppedBytes: number;
  lastAt: number;
}

/**
 * Bounds what a flood of output costs: per job (and per worker, for lines outside any job), the first
 * JOB_LOG_HEAD_BYTES of lines pass at once; later ones are held, keeping only the newest
 * JOB_LOG_TAIL_BYTES, until the job has ended and its worker was quiet for LATE_LINE_GRACE_MS. Then
 * `sweep` hands back the held tail after a line that says how much was dropped between.
 */
export class LogBudget {
  private readonly accounts = new Map<string, Account>();

  get size(): number {
    return this.accounts.size;
  }

  /**
   * "keep": keep and show the line now. "hold": it is held for the tail (or dropped from it later);
   * "start-holding" says so for the first line held of its job.
   */
  admit(line: OutputLine): "keep" | "hold" | "start-holding" {
    const key = line.jobId ?? `\0${line.workerId}`;
    let account = this.accounts.get(key);
    if (!account) {
      account = { jobId: line.jobId, used: 0, tail: [], start: 0, tailBytes: 0, droppedLines: 0, droppedBytes: 0, lastAt: line.at };
      this.accounts.set(key, account);
    }
    account.lastAt = line.at;
    const bytes = Buffer.byteLength(line.message);
    const first = account.tail.length === 0;
    if (first && account.used + bytes <= JOB_LOG_HEAD_BYTES) {
      account.used += bytes;
      return "keep";
    }
    account.tail.push({ line, bytes });
    account.tailBytes += bytes;
    while (account.tailBytes > JOB_LOG_TAIL_BYTES) {
      const first = account.tail[account.start++] as { bytes: number };
      account.tailBytes -= first.bytes;
      account.droppedLines++;
      account.droppedBytes += first.bytes;
    }
    // Dropped entries are removed in bulk, so that holding a long tail stays linear.
    if (account.start > 1024 && account.start * 2 > account.tail.length) {
      account.tail.splice(0, account.start);
      account.start = 0;
    }
    return first ? "start-holding" : "hold";
  }

  /**
   * Closes the accounts that went quiet `LATE_LINE_GRACE_MS` before `now` and whose job has ended
   * (`running` says which have not); returns the lines to keep for them now, in order.
   */
  sweep(now: number, running: (jobId: string) => boolean): OutputLine[] {
    const lines: OutputLine[] = [];
    for (const [key, account] of this.accounts) {
      if (now - account.lastAt < LATE_LINE_GRACE_MS || (account.jobId !== undefined && running(account.jobId))) continue;
      this.accounts.delete(key);
      const held = account.tail.slice(account.start).map((entry) => entry.line);
      if (held.length === 0) continue;
      const first = held[0] as OutputLine;
      if (account.droppedLines > 0) {
        const whose = account.jobId === undefined ? "this worker's output outside jobs" : "this job's output";
        lines.push({
          ...first,
          level: undefined,
          message: `… ${account.droppedLines} lines (${account.droppedBytes} bytes) dropped here: ${whose} keeps its first ${JOB_LOG_HEAD_BYTES / 1048576} MiB and last ${JOB_LOG_TAIL_BYTES / 1048576} MiB …`,
        });
      }
      lines.push(...held);
    }
    return lines;
  }
}
