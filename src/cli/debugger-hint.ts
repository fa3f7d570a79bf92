import type { Runtime } from "../workers/runtimes/runtime.js";

/** One line for the banner: where the runtime's debugger listens and how to attach to it; none without one. */
export function debuggerHint(runtime: Runtime): string | undefined {
  const debug = runtime.debug;
  if (!debug) return undefined;
  const { port } = debug;
  const wait = debug.wait ? ", which waits for the debugger before its first job" : "";
  if (runtime.kind === "python") {
    return `debugpy on 127.0.0.1:${port}, in one worker at a time${wait}; attach VS Code with "type": "debugpy", "request": "attach", "connect": {"port": ${port}}`;
  }
  return `Node inspector on 127.0.0.1:${port}, in one worker at a time${wait}; open chrome://inspect, or attach VS Code with "type": "node", "request": "attach", "port": ${port}`;
}
