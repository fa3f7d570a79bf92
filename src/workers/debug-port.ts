import type { ProcessExit, WorkerHandle, WorkerProcess } from "./worker-process.js";

/** How a debugger reaches an endpoint's workers: the fixed port, and whether a worker waits for it before its first job. */
export interface DebugSetting {
  port: number;
  wait: boolean;
}

/**
 * A debugger's fixed port, held by one worker process at a time, so that an attach configuration keeps
 * working: a worker started while another holds the port runs without it, unless the holder is being
 * stopped (a reload, an idle stop) — then it starts once the holder has exited, and takes the port.
 */
export class DebugPort {
  private holder: WorkerProcess | undefined;

  constructor(readonly setting: DebugSetting) {}

  /** Starts a worker through `start`, told whether it gets the port. */
  start(start: (debugged: boolean) => WorkerProcess): WorkerHandle {
    const holder = this.holder;
    if (holder?.stopRequested) return new LaterWorker(holder.exited, () => this.start(start));
    if (holder) return start(false);
    const process = start(true);
    this.holder = process;
    void process.exited.then(() => {
      if (this.holder === process) this.holder = undefined;
    });
    return process;
  }
}

/** A worker whose process starts once `after` settles; stopped before that, it never starts. */
class LaterWorker implements WorkerHandle {
  readonly exited: Promise<ProcessExit>;
  private started: WorkerHandle | undefined;
  private cancelled = false;

  constructor(after: Promise<unknown>, start: () => WorkerHandle) {
    this.exited = after.then(() => {
      if (this.cancelled) return { code: null, signal: null };
      this.started = start();
      return this.started.exited;
    });
  }

  get pid(): number | undefined {
    return this.started?.pid;
  }

  get lastLines(): string[] {
    return this.started?.lastLines ?? [];
  }

  get environment(): Record<string, string> | undefined {
    return this.started?.environment;
  }

  stop(graceMs: number): Promise<ProcessExit> {
    if (!this.started) this.cancelled = true;
    return this.started ? this.started.stop(graceMs) : this.exited;
  }

  kill(): Promise<ProcessExit> {
    if (!this.started) this.cancelled = true;
    return this.started ? this.started.kill() : this.exited;
  }
}
