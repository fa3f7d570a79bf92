import getPort from "get-port";
import { probeHealth } from "../health-check.js";
import { type ProcessExit, type WorkerHandle, WorkerProcess } from "../worker-process.js";
import type { Runtime, WorkerStart } from "./runtime.js";

/** What a load-balancing worker's runtime tells its endpoint. */
export interface ServerReports {
  /** The worker's server was given `port` and its process started. */
  listening(workerId: string, port: number, pid: number | undefined): void;
  /** One answer of its health path (status undefined: no answer). */
  healthChecked(workerId: string, status: number | undefined, detail: string): void;
}

/** How often the health path is asked while the server starts, and once it is ready. */
const STARTING_PROBE_MS = 200;
const READY_PROBE_MS = 1_000;

/**
 * Before the user's command, the shell starts a reader of the emulator's end of the fd-3 socket
 * (RUNPOD_EMULATOR_PARENT_FD): when the emulator dies, even by SIGKILL, the read ends and it kills the
 * whole process group. The Python and Node runtimes watch from inside their interpreter; a command can be
 * any program, so the watch is a line of shell beside it rather than code inside it.
 */
const WATCHDOG = "(cat <&3 >/dev/null 2>&1; kill -KILL 0) &";

/**
 * Load-balancing workers (SPEC §9): `command` runs through `sh` in the endpoint's folder with PORT and
 * PORT_HEALTH set to a free port of its own and HEALTH_CHECK_PATH (default /ping), beside the usual
 * worker variables; its health path is polled and each answer reported.
 */
export function commandRuntime(command: string, reports: ServerReports): Runtime {
  return {
    kind: "command",
    description: `sh -c ${JSON.stringify(command)}`,
    start: (worker) => new ServerWorker(command, worker, reports),
  };
}

/** One worker's HTTP server: a free port, the command's process group, and the polling of its health path. */
class ServerWorker implements WorkerHandle {
  readonly exited: Promise<ProcessExit>;
  private process: WorkerProcess | undefined;
  private stopped = false;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(command: string, private readonly worker: WorkerStart, private readonly reports: ServerReports) {
    this.exited = this.run(command);
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  get lastLines(): string[] {
    return this.process?.lastLines ?? [];
  }

  get environment(): Record<string, string> | undefined {
    return this.process?.environment;
  }

  async stop(graceMs: number): Promise<ProcessExit> {
    this.stopped = true;
    await this.process?.stop(graceMs);
    return this.exited;
  }

  async kill(): Promise<ProcessExit> {
    this.stopped = true;
    await this.process?.kill();
    return this.exited;
  }

  private async run(command: string): Promise<ProcessExit> {
    const { env, cwd, onLine, volume } = this.worker;
    const workerId = env.RUNPOD_POD_ID ?? "";
    // get-port remembers the ports it handed out for a while, so two workers starting together never get the same one.
    const port = await getPort({ host: "127.0.0.1" });
    if (this.stopped) return { code: null, signal: null };
    const path = env.HEALTH_CHECK_PATH || "/ping";
    const spec = { file: "/bin/sh", args: ["-c", `${WATCHDOG}\n${command}`], env: { ...env, PORT: String(port), PORT_HEALTH: String(port), HEALTH_CHECK_PATH: path }, cwd };
    const child = new WorkerProcess(volume ? volume.wrap(spec) : spec, onLine);
    this.process = child;
    this.reports.listening(workerId, port, child.pid);
    let ready = false;
    const probe = async () => {
      const answer = await probeHealth(port, path);
      if (this.probeTimer === undefined) return;
      this.reports.healthChecked(workerId, answer.status, answer.detail);
      ready ||= answer.status === 200;
      this.probeTimer = setTimeout(probe, ready ? READY_PROBE_MS : STARTING_PROBE_MS);
    };
    this.probeTimer = setTimeout(probe, STARTING_PROBE_MS);
    const exit = await child.exited;
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    return exit;
  }
}
