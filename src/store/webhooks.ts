import type { Database } from "./database.js";
import { DiskSpace, isDiskFull } from "./disk-space.js";

/** One attempt to deliver a job's status object to its webhook. */
export interface WebhookDelivery {
  jobId: string;
  url: string;
  attempt: number;
  at: number;
  /** The HTTP status answered, or undefined when no answer came. */
  status?: number;
  error?: string;
  ms: number;
}

/** The webhook_deliveries table. */
export class WebhookStore {
  private readonly insert;
  private readonly selectByJob;

  constructor(
    db: Database,
    private readonly space = new DiskSpace(db.name),
  ) {
    this.insert = db.prepare("INSERT INTO webhook_deliveries (job_id, url, attempt, at, status, error, ms) VALUES (?, ?, ?, ?, ?, ?, ?)");
    this.selectByJob = db.prepare<[string], { url: string; attempt: number; at: number; status: number | null; error: string | null; ms: number }>(
      "SELECT url, attempt, at, status, error, ms FROM webhook_deliveries WHERE job_id = ? ORDER BY id",
    );
  }

  /** Records one attempt; on a full disk the record is not kept (the delivery itself happened). */
  record(delivery: WebhookDelivery): void {
    try {
      this.insert.run(delivery.jobId, delivery.url, delivery.attempt, delivery.at, delivery.status ?? null, delivery.error ?? null, delivery.ms);
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.space.full();
    }
  }

  forJob(jobId: string): WebhookDelivery[] {
    return this.selectByJob.all(jobId).map((r) => ({
      jobId, url: r.url, attempt: r.attempt, at: r.at, status: r.status ?? undefined, error: r.error ?? undefined, ms: r.ms,
    }));
  }
}
