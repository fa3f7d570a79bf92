import type { Socket } from "node:net";
import { type Result, execa } from "execa";
import { OutputLines } from "./output-lines.js";

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
  /** What the signal means ("Forced termination" for SIGKILL), for messages. */
  signalDescription?: string;
}

/** What the pool needs of a running worker, whether a process or an in-process function worker. */
export interface WorkerHandle {
  readonly pid: number | undefined;
  /** The last lines it printed, for the reason of a crash. */
  readonly lastLines: string[];
  /** The environment it runs with, as `emulator shell` mirrors it; none for one that never started. */
  readonly environment?: Record<string, string>;
  readonly exited: Promise<ProcessExit>;
  /** Asks it to finish its jobs and exit; forces it after `graceMs`. */
  stop(graceMs: number): Promise<ProcessExit>;
  /** Ends it at once. */
  kill(): Promise<ProcessExit>;
}

const KEPT_LINES = 20;
/** After the group is gone, how long its last lines may take to arrive through the pipes. */
const OUTPUT_DRAIN_MS = 1000;
/** Before a worker is stopped, its output must have been quiet this long (what it still buffers is read)… */
const OUTPUT_QUIET_MS = 200;
/** …for at most this long. */
const OUTPUT_QUIET_MAX_MS = 5_000;

/**
 * One worker's operating-system process, started through execa in its own process group. It holds the
 * read end of a pipe on fd 3 (RUNPOD_EMULATOR_PARENT_FD) whose other end only the emulator has: when the
 * emulator dies, even by SIGKILL, the worker's watchdog reads end-of-file and takes its whole group down.
 */
export class WorkerProcess implements WorkerHandle {
  readonly exited: Promise<ProcessExit>;
  /** The last lines it printed, for the reason of a crash. */
  readonly lastLines: string[] = [];
  readonly environment: Record<string, string>;
  /** It was asked to stop, or killed: it is on its way out. */
  stopRequested = false;
  private readonly subprocess: ReturnType<typeof startGroup>;
  private hasExited = false;
  /** When its last line of output was read. */
  private lastOutputAt: number | undefined;

  constructor(spec: ProcessSpec, onLine: (stream: "stdout" | "stderr", line: string) => void) {
    this.environment = spec.env;
    this.subprocess = startGroup(spec, (stream, line) => {
      this.lastOutputAt = Date.now();
      this.keep(line);
      onLine(stream, line);
    });
    // Never written to: its open end is the worker's sign that the emulator lives. It must not keep this
    // process running.
    (this.subprocess.stdio[3] as Socket | null)?.unref?.();
    this.exited = new Promise((resolve) => {
      // execa settles once the pipes have closed too, which a descendant that left the group may delay
      // forever; the group is taken down at the main process's exit, without waiting for that.
      this.subprocess.once("exit", () => {
        this.hasExited = true;
        // Whatever the main process left in its group (the SDK's heartbeat child) goes with it.
        this.signalGroup("SIGKILL");
        const timer = setTimeout(() => {
          for (const stream of this.subprocess.stdio) stream?.destroy();
        }, OUTPUT_DRAIN_MS);
        void this.subprocess.finally(() => clearTimeout(timer));
      });
      void this.subprocess.then((result) => {
        this.hasExited = true;
        resolve(this.exitOf(result, spec.file));
      });
    });
  }

  get pid(): number | undefined {
    return this.subprocess.pid;
  }

  /**
   * SIGTERM to the group once its output has been quiet a moment (a worker may still hold a flood of
   * output in its own buffers after its last result, lost if it is stopped), SIGKILL after `graceMs`;
   * resolves once the main process has exited.
   */
  async stop(graceMs: number): Promise<ProcessExit> {
    this.stopRequested = true;
    await this.outputQuiet();
    if (!this.hasExited) {
      this.signalGroup("SIGTERM");
      const timer = setTimeout(() => this.signalGroup("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }

  private async outputQuiet(): Promise<void> {
    const deadline = Date.now() + OUTPUT_QUIET_MAX_MS;
    while (!this.hasExited && this.lastOutputAt !== undefined && Date.now() - this.lastOutputAt < OUTPUT_QUIET_MS && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, OUTPUT_QUIET_MS));
    }
  }

  /** SIGKILL to the whole group at once. */
  kill(): Promise<ProcessExit> {
    this.stopRequested = true;
    this.signalGroup("SIGKILL");
    return this.exited;
  }

  private keep(line: string): void {
    this.lastLines.push(line);
    if (this.lastLines.length > KEPT_LINES) this.lastLines.shift();
  }

  private exitOf(result: Result, file: string): ProcessExit {
    if (this.subprocess.pid === undefined) {
      // It never started (a missing interpreter, no permission): execa says why.
      this.keep(`could not start ${file}: ${result.shortMessage ?? result.message}`);
      return { code: null, signal: null };
    }
    return { code: result.exitCode ?? null, signal: result.signal ?? null, signalDescription: result.signalDescription };
  }

  /**
   * execa's kill() and forceKillAfterDelay signal the main process only; a worker's children are in its
   * group, so the group is signalled directly.
   */
  private signalGroup(signal: NodeJS.Signals): void {
    const pid = this.subprocess.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }
}

/** `spec` through execa, in a process group of its own, each line of its output to `onLine`. */
function startGroup(spec: ProcessSpec, onLine: (stream: "stdout" | "stderr", line: string) => void) {
  const subprocess = execa(spec.file, spec.args, {
    cwd: spec.cwd,
    env: { ...spec.env, RUNPOD_EMULATOR_PARENT_FD: "3" },
    extendEnv: false,
    // A group of its own, so that signals reach what the worker started too (the SDK's heartbeat child).
    detached: true,
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    buffer: false,
    reject: false,
  });
  // Raw chunks (binary), split here with a bound on a line's length. Read from the pipes rather than
  // through execa's generator transforms, whose set-up cost a few milliseconds on every worker's start.
  for (const name of ["stdout", "stderr"] as const) {
    const splitter = new OutputLines((line) => onLine(name, line));
    subprocess[name]?.on("data", (chunk: Uint8Array) => splitter.push(chunk)).once("end", () => splitter.end());
  }
  return subprocess;
}
