import { pathToFileURL } from "node:url";
import type { ProcessExit, WorkerHandle } from "./worker-process.js";
import { runtimeAsset } from "./runtimes/runtime.js";

/** A handler given to createEmulator() as a function: called as `handler(job, context)`. */
export type HandlerFunction = ((job: { id: string; input: any }, context: { progress(value: unknown): Promise<void>; signal: AbortSignal }) => unknown) & {
  /** Optional, like a Node handler module's `export const config`. */
  config?: { concurrency?: number | ((current: number) => number); returnAggregateStream?: boolean; refreshWorker?: boolean };
};

interface WorkerLoop {
  startWorker(handler: HandlerFunction, config: object, env: Record<string, string>): { stop(): Promise<void>; kill(): void; finished: Promise<void> };
}

let loop: Promise<WorkerLoop> | undefined;

/**
 * A function handler's worker: the same worker loop as a Node worker process, run inside this process,
 * so the job still goes through the queue, the protocol over loopback HTTP, timeouts and cancellation.
 * Only a handler that ignores its abort signal cannot be forced to stop: killing abandons it.
 */
export class InlineWorker implements WorkerHandle {
  readonly pid = undefined;
  readonly lastLines: string[] = [];
  readonly exited: Promise<ProcessExit>;
  private worker: Promise<ReturnType<WorkerLoop["startWorker"]>>;
  private settle!: (exit: ProcessExit) => void;

  constructor(handler: HandlerFunction, readonly environment: Record<string, string>) {
    this.exited = new Promise((resolve) => (this.settle = resolve));
    loop ??= import(pathToFileURL(runtimeAsset("node", "worker-loop.mjs")).href) as Promise<WorkerLoop>;
    this.worker = loop.then((module) => module.startWorker(handler, handler.config ?? {}, environment));
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
