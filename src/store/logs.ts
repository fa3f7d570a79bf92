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

/** Worker output lines, kept with the job they belong to (or only the worker, when none). */
export class LogStore {
  private readonly insertLine;
  private readonly selectByJob;

  constructor(
    db: Database,
    private readonly space = new DiskSpace(db.name),
  ) {
    this.insertLine = db.prepare(
      "INSERT INTO job_logs (job_id, worker_id, stream, level, message, at) VALUES (?, ?, ?, ?, ?, ?)",
    );
    this.selectByJob = db.prepare<[string], { worker_id: string; stream: "stdout" | "stderr"; level: string | null; message: string; at: number }>(
      "SELECT worker_id, stream, level, message, at FROM job_logs WHERE job_id = ? ORDER BY id",
    );
  }

  /** Keeps one line; on a full disk the line is counted as dropped (the terminal and the feed still show it). */
  append(line: LogLine): void {
    try {
      this.insertLine.run(line.jobId ?? null, line.workerId, line.stream, line.level ?? null, line.message, line.at);
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.space.droppedLogLine();
    }
  }

  forJob(jobId: string): LogLine[] {
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
