import type { Job } from "../core/job.js";
import type { Database } from "./database.js";
import { JobStore } from "./jobs.js";
import { type LogLine, LogStore } from "./logs.js";
import { type WebhookDelivery, WebhookStore } from "./webhooks.js";

/** Everything kept about one job: what `emulator jobs show` prints. */
export interface JobDetails {
  job: Job;
  /** Past its TTL or retention: the API answers 404, the history still has it. */
  expired: boolean;
  chunks: unknown[];
  logs: LogLine[];
  webhooks: WebhookDelivery[];
}

/** Reads a job's whole record from the database; undefined when the history does not have it. */
export function jobDetails(db: Database, id: string, now: number): JobDetails | undefined {
  const jobs = new JobStore(db);
  const job = jobs.get(id);
  if (!job) return undefined;
  return {
    job,
    expired: job.expiresAt <= now,
    chunks: jobs.chunks(job.id, 0, job.streamCount),
    logs: new LogStore(db).forJob(job.id),
    webhooks: new WebhookStore(db).forJob(job.id),
  };
}
