/** The job a function handler receives: as a deployed worker gets it from job-take (SPEC §2.3). */
export interface HandlerJob<I = unknown> {
  id: string;
  input: I;
  webhook?: string;
  s3Config?: Record<string, unknown>;
}

/** The second argument of a function handler. */
export interface HandlerContext {
  /** Sends a progress update: /status shows it as the job's output while it runs. */
  progress(value: unknown): Promise<void>;
  /** Aborted when the job is cancelled or times out. */
  signal: AbortSignal;
}

/** What a Node handler module's `export const config` holds; Python's `runpod.serverless.start` options. */
export interface HandlerConfig {
  concurrency?: number | ((current: number) => number);
  returnAggregateStream?: boolean;
  refreshWorker?: boolean;
}

/**
 * A handler given to createEmulator() as a function: `I` is the job's input, `O` its output — the value it
 * returns or resolves to, or each chunk a generator yields. It runs behind the same queue and protocol as
 * a deployed worker.
 */
export type HandlerFunction<I = unknown, O = unknown> = ((
  job: HandlerJob<I>,
  context: HandlerContext,
) => O | PromiseLike<O> | Iterable<O> | AsyncIterable<O>) & { config?: HandlerConfig };
