import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Socket } from "node:net";

/** How to start one worker process. */
export interface ProcessSpec {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

export interface ProcessExit {
  code: number | null;
  signal: string | null;
}

/** What the pool needs of a running worker, whether a process or an in-process function worker. */
export interface WorkerHandle {
  readonly pid: number | undefined;
  /** The last lines it printed, for the reason of a crash. */
  readonly lastLines: string[];
  readonly exited: Promise<ProcessExit>;
  /** Asks it to finish its jobs and exit; forces it after `graceMs`. */
  stop(graceMs: number): Promise<ProcessExit>;
  /** Ends it at once. */
  kill(): Promise<ProcessExit>;
}

const KEPT_LINES = 20;

/**
 * One worker's operating-system process, in its own process group. It holds the read end of a pipe on
 * fd 3 (RUNPOD_EMULATOR_PARENT_FD) whose other end only the emulator has: when the emulator dies, even
 * by SIGKILL, the worker's watchdog reads end-of-file and takes its whole group down.
 */
export class WorkerProcess implements WorkerHandle {
  readonly exited: Promise<ProcessExit>;
  /** The last lines it printed, for the reason of a crash. */
  readonly lastLines: string[] = [];
  private readonly child: ChildProcess;
  private hasExited = false;

  constructor(spec: ProcessSpec, onLine: (stream: "stdout" | "stderr", line: string) => void) {
    this.child = spawn(spec.file, spec.args, {
      cwd: spec.cwd,
      env: { ...spec.env, RUNPOD_EMULATOR_PARENT_FD: "3" },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      detached: true,
    });
    (this.child.stdio[3] as Socket | null)?.unref?.();
    for (const stream of ["stdout", "stderr"] as const) {
      const source = this.child[stream];
      if (!source) continue;
      createInterface({ input: source, crlfDelay: Infinity }).on("line", (line) => {
        this.lastLines.push(line);
        if (this.lastLines.length > KEPT_LINES) this.lastLines.shift();
        onLine(stream, line);
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.once("error", (error) => {
        this.lastLines.push(`could not start ${spec.file}: ${error.message}`);
        this.hasExited = true;
        resolve({ code: null, signal: null });
      });
      this.child.once("exit", (code, signal) => {
        this.hasExited = true;
        // Whatever the main process left in its group (the SDK's heartbeat child) goes with it.
        this.signalGroup("SIGKILL");
        // Its last lines may still be in the pipes: wait for them to close, briefly.
        const done = () => resolve({ code, signal });
        const timer = setTimeout(done, 1000);
        this.child.once("close", () => {
          clearTimeout(timer);
          done();
        });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the main process has exited. */
  async stop(graceMs: number): Promise<ProcessExit> {
    if (!this.hasExited) {
      this.signalGroup("SIGTERM");
      const timer = setTimeout(() => this.signalGroup("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }

  /** SIGKILL to the whole group at once. */
  kill(): Promise<ProcessExit> {
    this.signalGroup("SIGKILL");
    return this.exited;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }
}
