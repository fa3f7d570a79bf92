import { fileURLToPath } from "node:url";

/** How a kind of handler is started as a worker process. */
export interface Runtime {
  /** "node", "python" or "mock". */
  kind: string;
  /** One line for the banner: what runs the handler. */
  description: string;
  /** The command that starts one worker, and the variables it needs beyond the protocol's. */
  command(): { file: string; args: string[]; env: Record<string, string> };
}

/** The package's root folder, whether running from src/ (tests) or dist/ (installed). */
export const packageRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** A file shipped with the runtimes (the Node bootstrap, the Python module). */
export function runtimeAsset(...parts: string[]): string {
  return fileURLToPath(new URL(`../../../src/workers/runtimes/${parts.join("/")}`, import.meta.url));
}
