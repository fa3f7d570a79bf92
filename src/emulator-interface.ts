import type { EmulatorEvent } from "./core/events.js";
import type { JobDetails } from "./store/history.js";

/** The event of one type: `EmulatorEventOf<"status">` is the status event. */
export type EmulatorEventOf<T extends EmulatorEvent["type"]> = Extract<EmulatorEvent, { type: T }>;

/** One endpoint of an emulator. */
export interface EndpointInfo {
  id: string;
  type: "queue" | "load-balancing";
  /**
   * Queue: `http://HOST:PORT/v2/ID`. Load-balancing: the endpoint's own `http://HOST:PORT2`, where every
   * path goes to your server (also reachable as `http://ID.localhost:PORT`).
   */
  url: string;
}

/** What createEmulator() returns: a running emulator as an application's tests and scripts use it. */
export interface Emulator extends AsyncDisposable {
  /** `http://HOST:PORT/v2/ENDPOINT_ID`: the (first) endpoint's URL, as `https://api.runpod.ai/v2/ID`. */
  readonly url: string;
  /** `http://HOST:PORT/v2`: the `baseUrl` of the official JavaScript client (`runpodSdk(key, { baseUrl })`). */
  readonly baseUrl: string;
  /** The (first) endpoint's id. */
  readonly endpointId: string;
  /** Every endpoint, in the order declared (one, from a single handler). */
  readonly endpoints: readonly EndpointInfo[];
  /** The port it listens on (the free one it picked, by default). */
  readonly port: number;
  /** Everything the job history keeps about a job — also after the API forgot it — or undefined. */
  history(id: string): JobDetails | undefined;
  /** Calls `listener` with every event of one type ("status", "stream", "log", …); returns the unsubscribe function. */
  on<T extends EmulatorEvent["type"]>(type: T, listener: (event: EmulatorEventOf<T>) => void): () => void;
  /** Stops accepting requests, stops every worker, closes the database. Idempotent; `await using` calls it. */
  close(): Promise<void>;
}
