import type { Clock, TimerHandle } from "./clock.js";

/** A request's wish for one worker: `X-Runpod-Worker-Id: <id>` (soft) or `strict <id>` (SPEC §9). */
export interface Affinity {
  workerId: string;
  strict: boolean;
}

/** One load-balancing request waiting for a ready worker. */
export interface RequestWaiter {
  readonly affinity: Affinity | undefined;
  readonly since: number;
}

interface Entry<R> extends RequestWaiter {
  resolve: (result: R) => void;
  timer: TimerHandle;
}

/**
 * Requests of a load-balancing endpoint that wait for a ready worker, oldest first: each is a promise that
 * a ready worker resolves, or its timeout refuses. No polling: the endpoint offers workers when one
 * becomes ready.
 */
export class RequestWaiters<R> {
  private readonly entries = new Set<Entry<R>>();

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.entries.size;
  }

  /** Adds a waiter, resolved with `onTimeout` after `timeoutMs`. */
  add(affinity: Affinity | undefined, timeoutMs: number, resolve: (result: R) => void, onTimeout: R): RequestWaiter {
    const entry = { affinity, since: this.clock.now(), resolve } as Entry<R>;
    entry.timer = this.clock.setTimeout(() => this.finish(entry, onTimeout), timeoutMs);
    this.entries.add(entry);
    return entry;
  }

  /** Withdraws a waiter whose client left. */
  remove(waiter: RequestWaiter): void {
    const entry = waiter as Entry<R>;
    if (!this.entries.delete(entry)) return;
    this.clock.clearTimeout(entry.timer);
  }

  /** Offers each waiter, oldest first, what `route` finds for it; stops at the first that gets nothing. */
  serve(route: (waiter: RequestWaiter) => R | undefined): void {
    for (const entry of [...this.entries]) {
      const result = route(entry);
      if (result === undefined) {
        if (entry.affinity?.strict) continue;
        return;
      }
      this.finish(entry, result);
    }
  }

  /** Resolves the strict waiters for a worker that is gone with `result`. */
  refuseAffinity(workerId: string, result: R): void {
    for (const entry of [...this.entries]) if (entry.affinity?.strict && entry.affinity.workerId === workerId) this.finish(entry, result);
  }

  /** How long the oldest waiter has waited. */
  oldestWaitMs(): number | undefined {
    for (const entry of this.entries) return this.clock.now() - entry.since;
    return undefined;
  }

  /** Resolves every waiter with `result`. */
  close(result: R): void {
    for (const entry of [...this.entries]) this.finish(entry, result);
  }

  private finish(entry: Entry<R>, result: R): void {
    if (!this.entries.delete(entry)) return;
    this.clock.clearTimeout(entry.timer);
    entry.resolve(result);
  }
}
