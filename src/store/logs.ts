import type { Database } from "./database.js";
import { DiskSpace, isDiskFull } from "./disk-space.js";

export interface LogLine {
  /** Absent for lines kept before the endpoint was recorded. */
  endpointId?: string;
  jobId?: string;
  workerId: string;
  stream: "stdout" | "stderr";
  level?: string;
  message: string;
  at: number;
}

/** Which lines `emulator logs` shows: each given field narrows them. */
export interface LogFilter {
  /** Lines at or after this time (ms since the epoch). */
  since?: number;
  jobId?: string;
  workerId?: string;
  endpointId?: string;
}

interface LogRow {
  id: number;
  endpoint_id: string | null;
  job_id: string | null;
  worker_id: string;
  stream: "stdout" | "stderr";
  level: string | null;
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
  private readonly selectMatching;
  private readonly writeAll;
  private waiting: LogLine[] = [];

  constructor(
    private readonly db: Database,
    private readonly space = new DiskSpace(db.name),
  ) {
    this.insertLine = db.prepare(
      "INSERT INTO job_logs (endpoint_id, job_id, worker_id, stream, level, message, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    // One statement for every filter: a field given as null matches any line.
    this.selectMatching = db.prepare<{ since: number | null; job: string | null; worker: string | null; endpoint: string | null; after: number; limit: number }, LogRow>(
      `SELECT id, endpoint_id, job_id, worker_id, stream, level, message, at FROM job_logs
       WHERE id > @after AND (@since IS NULL OR at >= @since) AND (@job IS NULL OR job_id = @job)
         AND (@worker IS NULL OR worker_id = @worker) AND (@endpoint IS NULL OR endpoint_id = @endpoint)
       ORDER BY id LIMIT @limit`,
    );
    this.selectByJob = db.prepare<[string], { worker_id: string; stream: "stdout" | "stderr"; level: string | null; message: string; at: number }>(
      "SELECT worker_id, stream, level, message, at FROM job_logs WHERE job_id = ? ORDER BY id",
    );
    this.writeAll = db.transaction((lines: LogLine[]) => {
      for (const line of lines) this.insertLine.run(line.endpointId ?? null, line.jobId ?? null, line.workerId, line.stream, line.level ?? null, line.message, line.at);
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

  /** The lines that `filter` matches, oldest first, after the line numbered `afterId`, at most `limit`; each with its number. */
  matching(filter: LogFilter, afterId = 0, limit = 10_000): (LogLine & { id: number })[] {
    this.flush();
    const { since, jobId, workerId, endpointId } = filter;
    const rows = this.selectMatching.all({ since: since ?? null, job: jobId ?? null, worker: workerId ?? null, endpoint: endpointId ?? null, after: afterId, limit });
    return rows.map((r) => ({
      id: r.id,
      endpointId: r.endpoint_id ?? undefined,
      jobId: r.job_id ?? undefined,
      workerId: r.worker_id,
      stream: r.stream,
      level: r.level ?? undefined,
      message: r.message,
      at: r.at,
    }));
  }
}
