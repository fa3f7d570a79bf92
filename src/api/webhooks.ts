import type { EventBus } from "../core/events.js";
import { type Job, isTerminal, statusObject } from "../core/job.js";
import type { WebhookStore } from "../store/webhooks.js";

export interface WebhookSettings {
  /** Attempts after the first (SPEC §1.4: 2). */
  retries: number;
  retryDelayMs: number;
  /** How long one attempt may take before it counts as failed. */
  timeoutMs: number;
}

/**
 * Posts a job's status object to its `webhook` when it reaches a terminal state, retrying a non-200
 * answer or a network error. Every attempt is recorded with the job. Deliveries run on their own: a slow
 * or dead receiver never delays other jobs.
 */
export class WebhookSender {
  private readonly pending = new Set<{ timer?: NodeJS.Timeout; abort: AbortController }>();
  private readonly unsubscribe: () => void;

  constructor(
    bus: EventBus,
    private readonly store: WebhookStore,
    private readonly settings: WebhookSettings,
    private readonly warn: (message: string, jobId: string) => void,
  ) {
    this.unsubscribe = bus.on((event) => {
      if (event.type === "status" && event.job.webhook && isTerminal(event.job.status)) this.deliver(event.job, event.job.webhook, 1);
    });
  }

  /** Stops retrying and abandons attempts in flight. */
  close(): void {
    this.unsubscribe();
    for (const delivery of this.pending) {
      clearTimeout(delivery.timer);
      delivery.abort.abort();
    }
    this.pending.clear();
  }

  private deliver(job: Job, url: string, attempt: number): void {
    const body = JSON.stringify(statusObject(job));
    const delivery: { timer?: NodeJS.Timeout; abort: AbortController } = { abort: new AbortController() };
    this.pending.add(delivery);
    const started = Date.now();
    const timeout = setTimeout(() => delivery.abort.abort(), this.settings.timeoutMs);
    fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body, signal: delivery.abort.signal })
      .then(async (response) => {
        await response.arrayBuffer().catch(() => undefined);
        return { status: response.status, error: response.status === 200 ? undefined : `answered ${response.status}` };
      })
      .catch((error: Error) => ({ status: undefined, error: delivery.abort.signal.aborted ? `no answer within ${this.settings.timeoutMs} ms` : error.message }))
      .then(({ status, error }) => {
        clearTimeout(timeout);
        if (!this.pending.has(delivery)) return;
        this.store.record({ jobId: job.id, url, attempt, at: started, status, error, ms: Date.now() - started });
        if (error === undefined) return void this.pending.delete(delivery);
        if (attempt > this.settings.retries) {
          this.pending.delete(delivery);
          return this.warn(`webhook ${url} for job ${job.id} failed ${attempt} times (last: ${error}); giving up`, job.id);
        }
        delivery.timer = setTimeout(() => {
          this.pending.delete(delivery);
          this.deliver(job, url, attempt + 1);
        }, this.settings.retryDelayMs);
      });
  }
}
