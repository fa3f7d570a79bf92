import type { Job } from "../core/job.js";

/** A stream chunk whose write a full disk refused. */
export interface PendingChunk {
  jobId: string;
  seq: number;
  /** The chunk as JSON text. */
  output: string;
  at: number;
}

/**
 * What the job store could not write for want of space, held in memory until a retry writes it: the jobs
 * whose row is out of date (the live object holds their newest state, so a job is kept once however often
 * it changed), stream chunks in arrival order, and counter increments. Reads look here first.
 */
export class PendingWrites {
  readonly jobs = new Map<string, Job>();
  /** Of `jobs`, those whose row was never written: the retry inserts them. */
  readonly inserted = new Set<string>();
  readonly chunks: PendingChunk[] = [];
  readonly counters = new Map<string, { endpointId: string; name: string; by: number }>();

  get size(): number {
    return this.jobs.size + this.chunks.length + this.counters.size;
  }

  addCounter(endpointId: string, name: string, by: number): void {
    const key = `${endpointId}\0${name}`;
    const entry = this.counters.get(key) ?? { endpointId, name, by: 0 };
    entry.by += by;
    this.counters.set(key, entry);
  }

  counter(endpointId: string, name: string): number {
    return this.counters.get(`${endpointId}\0${name}`)?.by ?? 0;
  }

  /** The kept chunks of a job with seq in [from, to), as JSON text, in order. */
  chunksOf(jobId: string, from: number, to: number): PendingChunk[] {
    return this.chunks.filter((chunk) => chunk.jobId === jobId && chunk.seq >= from && chunk.seq < to);
  }

  /** A new job whose insert was refused after it was accepted (with the writes of its turn). */
  insert(job: Job): void {
    this.jobs.set(job.id, job);
    this.inserted.add(job.id);
  }

  clear(): void {
    this.jobs.clear();
    this.inserted.clear();
    this.chunks.length = 0;
    this.counters.clear();
  }
}
