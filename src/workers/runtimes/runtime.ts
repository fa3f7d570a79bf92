import { fileURLToPath } from "node:url";
import { type WorkerHandle, WorkerProcess } from "../worker-process.js";

/** How one worker is started: `env` is the protocol's environment (SPEC §2.1) over the user's. */
export interface WorkerStart {
  env: Record<string, string>;
  cwd: string;
  onLine: (stream: "stdout" | "stderr", line: string) => void;
}

/** How a kind of handler is started as a worker. */
export interface Runtime {
  /** "node", "python", "mock" or "function". */
  kind: string;
  /** One line for the banner: what runs the handler. */
  description: string;
  start(worker: WorkerStart): WorkerHandle;
}

/** A runtime whose workers are child processes running `file args…` with extra variables. */
export function processRuntime(kind: string, description: string, command: { file: string; args: string[]; env: Record<string, string> }): Runtime {
  return {
    kind,
    description,
    start: ({ env, cwd, onLine }) => new WorkerProcess({ file: command.file, args: command.args, env: { ...env, ...command.env }, cwd }, onLine),
  };
}

/** The package's root folder, whether running from src/ (tests) or dist/ (installed). */
export const packageRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** A file shipped with the runtimes (the Node bootstrap, the Python module). */
export function runtimeAsset(...parts: string[]): string {
  return fileURLToPath(new URL(`../../../src/workers/runtimes/${parts.join("/")}`, import.meta.url));
}
