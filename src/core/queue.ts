import type { Job } from "./job.js";

/**
 * The endpoint's FIFO of queued jobs. Jobs that leave the queue any other way than by being taken
 * (cancel, purge, TTL) are not searched for: they are skipped when they reach the head, because their
 * status is no longer IN_QUEUE.
 */
export class JobQueue {
  private items: Job[] = [];
  private head = 0;

  push(job: Job): void {
    this.items.push(job);
  }

  /** Puts a job back at the head: it was taken but never ran. */
  unshift(job: Job): void {
    if (this.head > 0) this.items[--this.head] = job;
    else this.items.unshift(job);
  }

  /** Removes and returns the oldest job still queued. */
  shift(): Job | undefined {
    this.skipGone();
    if (this.head >= this.items.length) return undefined;
    const job = this.items[this.head++];
    this.compact();
    return job;
  }

  /** The oldest queued job that `accept` accepts, without removing it. */
  find(accept: (job: Job) => boolean): Job | undefined {
    for (let i = this.head; i < this.items.length; i++) {
      const job = this.items[i];
      if (job.status === "IN_QUEUE" && accept(job)) return job;
    }
    return undefined;
  }

  private skipGone(): void {
    while (this.head < this.items.length && this.items[this.head].status !== "IN_QUEUE") this.head++;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
