import { pathToFileURL } from "node:url";
import { workerJob } from "../core/job.js";
import type { WorkerPort } from "../core/worker-port.js";
import type { ProcessExit, WorkerHandle } from "./worker-process.js";
import { runtimeAsset } from "./runtimes/runtime.js";

/** A handler given to createEmulator() as a function: called as `handler(job, context)`. */
export type HandlerFunction = ((job: { id: string; input: any }, context: { progress(value: unknown): Promise<void>; signal: AbortSignal }) => unknown) & {
  /** Optional, like a Node handler module's `export const config`. */
  config?: { concurrency?: number | ((current: number) => number); returnAggregateStream?: boolean; refreshWorker?: boolean };
};

interface Result {
  id: string;
  text: string;
}

/** The worker loop's channel to the platform (see http-channel.mjs). */
interface Channel {
  take(free: number, inProgress: boolean, results: Result[], signal: AbortSignal): Promise<unknown[]>;
  post(route: "done" | "stream", jobId: string, text: string, isStream: boolean): Promise<number>;
  postResults(results: Result[]): Promise<number>;
  stops(signal: AbortSignal): Promise<string[]>;
  startPinger(intervalMs: number): { update(ids: string[]): void; stop(): void };
  describe(route: string, jobId?: string): string;
  close(): void;
}

interface WorkerLoop {
  RUNTIME_VERSION: string;
  startWorker(
    handler: HandlerFunction,
    config: object,
    env: Record<string, string>,
    options: { channel?: Channel },
  ): { stop(): Promise<void>; kill(): void; finished: Promise<void> };
}

let loop: Promise<WorkerLoop> | undefined;

/**
 * A function handler's worker: the same worker loop as a Node worker process, run inside this process,
 * so the job still goes through the queue, the protocol, timeouts and cancellation. Its requests are
 * calls (a `WorkerPort`), not loopback HTTP; the jobs and results still go through JSON, so the handler
 * gets its own copy of the input and a result JSON cannot hold fails its job, as in a worker process.
 * Only a handler that ignores its abort signal cannot be forced to stop: killing abandons it.
 */
export class InlineWorker implements WorkerHandle {
  readonly pid = undefined;
  readonly lastLines: string[] = [];
  readonly exited: Promise<ProcessExit>;
  private worker: Promise<ReturnType<WorkerLoop["startWorker"]>>;
  private settle!: (exit: ProcessExit) => void;

  constructor(
    handler: HandlerFunction,
    readonly environment: Record<string, string>,
    port?: WorkerPort,
  ) {
    this.exited = new Promise((resolve) => (this.settle = resolve));
    loop ??= import(pathToFileURL(runtimeAsset("node", "worker-loop.mjs")).href) as Promise<WorkerLoop>;
    this.worker = loop.then((module) =>
      module.startWorker(handler, handler.config ?? {}, environment, { channel: port && portChannel(port, module.RUNTIME_VERSION) }),
    );
    void this.worker.then(
      (worker) => worker.finished.then(() => this.settle({ code: 0, signal: null })),
      (error: Error) => {
        this.lastLines.push(error.stack ?? String(error));
        this.settle({ code: 1, signal: null });
      },
    );
  }

  async stop(graceMs: number): Promise<ProcessExit> {
    const worker = await this.worker;
    const timer = setTimeout(() => this.kill(), graceMs);
    await worker.stop();
    clearTimeout(timer);
    return this.exited;
  }

  kill(): Promise<ProcessExit> {
    void this.worker.then((worker) => {
      worker.kill();
      this.settle({ code: null, signal: "SIGKILL" });
    });
    return this.exited;
  }
}

/** The worker loop's channel as calls on the endpoint: the job-done bodies are parsed as the route parses them. */
function portChannel(port: WorkerPort, version: string): Channel {
  const deliver = (results: Result[]) => {
    for (const { id, text } of results) port.done(id, JSON.parse(text), Buffer.byteLength(text));
  };
  return {
    async take(free, inProgress, results, signal) {
      deliver(results);
      const jobs = await port.take(free, inProgress, signal);
      // Through JSON, as a worker process gets it (cheaper than structuredClone, 2.6 against 4.2 µs here).
      return JSON.parse(JSON.stringify(jobs.map(workerJob))) as unknown[];
    },
    async post(route, jobId, text) {
      const body = JSON.parse(text) as { output?: unknown };
      if (route === "stream") port.stream(jobId, body.output, Buffer.byteLength(text));
      else port.done(jobId, body, Buffer.byteLength(text));
      return 200;
    },
    async postResults(results) {
      deliver(results);
      return 200;
    },
    stops: (signal) => port.stops(signal),
    startPinger(intervalMs) {
      let ids: string[] = [];
      const ping = () => port.ping(ids, version);
      const timer = setInterval(ping, intervalMs).unref();
      ping();
      return { update: (next) => (ids = next), stop: () => clearInterval(timer) };
    },
    describe: (route, jobId) => `${route} of job ${jobId ?? ""} (in this process)`,
    close() {},
  };
}
