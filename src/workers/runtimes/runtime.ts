import { fileURLToPath } from "node:url";
import type { WorkerPort } from "../../core/worker-port.js";
import type { DebugPort, DebugSetting } from "../debug-port.js";
import type { NetworkVolume } from "../network-volume.js";
import { type WorkerFolder, createWorkerFolder } from "../worker-folder.js";
import { type WorkerHandle, WorkerProcess } from "../worker-process.js";

/** How one worker is started: `env` is the protocol's environment (SPEC §2.1) over the user's. */
export interface WorkerStart {
  env: Record<string, string>;
  cwd: string;
  onLine: (stream: "stdout" | "stderr", line: string) => void;
  /** The endpoint's network volume: a worker process runs where it is at /runpod-volume when the system allows. */
  volume?: NetworkVolume;
  /** The worker protocol as calls, for a worker run in this process (see InlineWorker). */
  port?: WorkerPort;
}

/** How a kind of handler is started as a worker. */
export interface Runtime {
  /** "node", "python", "mock" or "function". */
  kind: string;
  /** One line for the banner: what runs the handler. */
  description: string;
  /** The variables it adds to a worker's environment (PYTHONPATH), over the user's. */
  environment?: Record<string, string>;
  /** The debugger its workers run under, if any. */
  debug?: DebugSetting;
  start(worker: WorkerStart): WorkerHandle;
}

/** A worker process's command: `file args…`, with `env` added to its environment. */
export interface ProcessCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** With a debugger: its port, and the arguments of the worker that holds it. */
  debug?: { port: DebugPort; args: string[] };
}

/**
 * A runtime whose workers are child processes running its command, each with a private folder of its
 * own (see WorkerFolder), removed once its process group is gone. The command's `env` is what the pool
 * puts in each worker's environment.
 */
export function processRuntime(kind: string, description: string, command: ProcessCommand): Runtime {
  const launch = ({ env, cwd, onLine, volume }: WorkerStart, args: string[]) => {
    let folder: WorkerFolder | undefined;
    try {
      folder = createWorkerFolder(env.RUNPOD_POD_ID ?? kind);
    } catch (error) {
      onLine("stderr", `could not make this worker's private folder (${(error as Error).message}); it shares the temporary and working folders of the others`);
    }
    const spec = { file: command.file, args, env: { ...env, ...folder?.env }, cwd };
    const worker = new WorkerProcess(volume ? volume.wrap(spec) : spec, onLine);
    void worker.exited.then(() => folder?.remove());
    return worker;
  };
  const { debug } = command;
  return {
    kind,
    description,
    environment: command.env,
    debug: debug?.port.setting,
    start: (worker) => (debug ? debug.port.start((debugged) => launch(worker, debugged ? debug.args : command.args)) : launch(worker, command.args)),
  };
}

/** The package's root folder, whether running from src/ (tests) or dist/ (installed). */
export const packageRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** A file shipped with the runtimes (the Node bootstrap, the Python module). */
export function runtimeAsset(...parts: string[]): string {
  return fileURLToPath(new URL(`../../../src/workers/runtimes/${parts.join("/")}`, import.meta.url));
}
