import type { Database } from "./database.js";
import { DiskSpace, isDiskFull } from "./disk-space.js";

export interface LogLine {
  jobId?: string;
  workerId: string;
  stream: "stdout" | "stderr";
  level?: string;
  message: string;
  at: number;
}

/**
 * Worker output lines, kept with the job they belong to (or only the worker, when none). The lines of
 * one turn of the event loop are written in one transaction, so a flood of output costs one commit per
 * pipe read rather than one per line.
 */
export class LogStore {
  private readonly insertLine;
  private readonly selectByJob;
  private readonly writeAll;
  private waiting: LogLine[] = [];

  constructor(
    private readonly db: Database,
    private readonly space = new DiskSpace(db.name),
  ) {
    this.insertLine = db.prepare(
      "INSERT INTO job_logs (job_id, worker_id, stream, level, message, at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.selectByJob = db.prepare<[string], { worker_id: string; stream: "stdout" | "stderr"; level: string | null; message: string; at: number }>(
      "SELECT worker_id, stream, level, message, at FROM job_logs WHERE job_id = ? ORDER BY id",
    );
    this.writeAll = db.transaction((lines: LogLine[]) => {
      for (const line of lines) this.insertLine.run(line.jobId ?? null, line.workerId, line.stream, line.level ?? null, line.message, line.at);
    });
  }

  /** Keeps one line, written with the others of this turn of the event loop. */
  append(line: LogLine): void {
    if (this.waiting.length === 0) setImmediate(() => this.flush());
    this.waiting.push(line);
  }

  /** Writes the lines not written yet; on a full disk they are counted as dropped (the terminal and the feed showed them). */
  flush(): void {
    const lines = this.waiting;
    if (lines.length === 0) return;
    this.waiting = [];
    if (!this.db.open) return;
    try {
      this.writeAll(lines);
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.space.droppedLogLines(lines.length);
    }
  }

  forJob(jobId: string): LogLine[] {
    this.flush();
    return this.selectByJob.all(jobId).map((r) => ({
      jobId,
      workerId: r.worker_id,
      stream: r.stream,
      level: r.level ?? undefined,
      message: r.message,
      at: r.at,
    }));
  }
}
