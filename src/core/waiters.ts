import type { Clock } from "./clock.js";
import type { EmulatorEvent, EventBus } from "./events.js";
import { type Job, isTerminal } from "./job.js";

/**
 * Clients' long-polls on one endpoint's jobs (/runsync, /status-sync, /stream): each is a promise that the
 * job's next event (status, stream chunk, progress) settles once its condition holds, or its wait passes.
 */
export class JobWaiters {
  private readonly waiting = new Map<string, Set<Waiter>>();
  private readonly unsubscribe: () => void;

  constructor(
    endpointId: string,
    private readonly clock: Clock,
    bus: EventBus,
    /** The live job, while it is unfinished. */
    private readonly current: (id: string) => Job | undefined,
  ) {
    this.unsubscribe = bus.on((event) => {
      if (event.endpointId !== endpointId) return;
      const jobId = jobOf(event);
      const waiters = jobId === undefined ? undefined : this.waiting.get(jobId);
      if (waiters) for (const waiter of [...waiters]) waiter.check();
    });
  }

  /** Resolves with the job when `ready(job)` holds, the job has finished, or `ms` passes. */
  async waitFor(job: Job, ms: number, ready: (job: Job) => boolean): Promise<Job> {
    if (ready(job) || ms <= 0) return job;
    await new Promise<void>((resolve) => {
      const waiters = this.waiting.get(job.id) ?? new Set();
      this.waiting.set(job.id, waiters);
      const waiter: Waiter = {
        check: () => {
          const now = this.current(job.id) ?? job;
          if (ready(now) || isTerminal(now.status)) waiter.done();
        },
        done: () => {
          this.clock.clearTimeout(timer);
          waiters.delete(waiter);
          if (waiters.size === 0) this.waiting.delete(job.id);
          resolve();
        },
      };
      const timer = this.clock.setTimeout(() => waiter.done(), ms);
      waiters.add(waiter);
    });
    // `job` is the live object itself, kept up to date, unless it came from the store finished already.
    return this.current(job.id) ?? job;
  }

  /** Answers every wait now and stops listening (the endpoint is closing). */
  close(): void {
    this.unsubscribe();
    for (const waiters of [...this.waiting.values()]) for (const waiter of [...waiters]) waiter.done();
  }
}

interface Waiter {
  /** Settles the wait if its condition now holds. */
  check(): void;
  done(): void;
}

function jobOf(event: EmulatorEvent): string | undefined {
  if (event.type === "status") return event.job.id;
  return event.type === "stream" || event.type === "progress" ? event.jobId : undefined;
}
