/** How the pool decides to add workers (SPEC §3.2). Scale-down is the idle timeout's business. */
export type ScalerSettings =
  | { kind: "queue-delay"; delayMs: number }
  | { kind: "request-count"; jobsPerWorker: number };

export interface ScalerInput {
  /** Queued jobs that may cause a scale-up (not low priority). */
  queued: number;
  inProgress: number;
  /** How long the oldest such job has waited, if any. */
  oldestWaitMs: number | undefined;
  /** Workers started or starting that are not being stopped. */
  active: number;
  /** Workers that failed to start and wait to be tried again: they are still wanted. */
  failedStarts: number;
  /** Time since the pool last added a worker for the queue. */
  sinceScaleUpMs: number;
  minWorkers: number;
  maxWorkers: number;
}

/** The number of workers the pool should have now; never below the active ones (no scale-down here). */
export function workersWanted(scaler: ScalerSettings, input: ScalerInput): number {
  let wanted = Math.max(input.minWorkers, input.active + input.failedStarts);
  if (scaler.kind === "request-count") {
    wanted = Math.max(wanted, Math.ceil((input.queued + input.inProgress) / scaler.jobsPerWorker));
  } else if (input.queued > 0) {
    if (input.active === 0) wanted = Math.max(wanted, 1);
    else if ((input.oldestWaitMs ?? 0) >= scaler.delayMs && input.sinceScaleUpMs >= scaler.delayMs) wanted = Math.max(wanted, input.active + 1);
  }
  return Math.min(wanted, Math.max(input.maxWorkers, input.minWorkers));
}

/** When the queue-delay scaler should look again, if the queue stays as it is. */
export function nextScalerCheckMs(scaler: ScalerSettings, input: ScalerInput): number | undefined {
  if (scaler.kind !== "queue-delay" || input.queued === 0 || input.active >= input.maxWorkers) return undefined;
  return Math.max(scaler.delayMs - (input.oldestWaitMs ?? 0), scaler.delayMs - input.sinceScaleUpMs, 1);
}
