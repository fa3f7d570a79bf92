import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { DebugPort, type DebugSetting } from "../debug-port.js";
import { type HandlerFunction, InlineWorker } from "../inline-worker.js";
import { type Runtime, processRuntime, runtimeAsset } from "./runtime.js";

const TYPESCRIPT = /\.(c|m)?tsx?$/;

/**
 * Node handlers: the bootstrap imports the user's module and speaks the worker protocol (SPEC §3.1).
 * With `inspect`, the worker holding its port runs with Node's inspector there.
 */
export function nodeRuntime(handlerPath: string, inspect?: DebugSetting): Runtime {
  const typescript = TYPESCRIPT.test(handlerPath);
  // tsx is resolved from this package, so the user's project need not have it.
  const loader = typescript ? ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href] : [];
  const description = `node ${process.versions.node}${typescript ? " with tsx (TypeScript without a build step)" : ""}`;
  const args = [...loader, runtimeAsset("node", "bootstrap.mjs"), handlerPath];
  const debug = inspect && { port: new DebugPort(inspect), args: [`${inspectFlag(inspect.wait)}=127.0.0.1:${inspect.port}`, ...args] };
  return processRuntime("node", description, { file: process.execPath, args, env: {}, debug });
}

/**
 * Node's flag for the inspector: --inspect-wait waits for the debugger before running anything (Node
 * 20.15 and 22.2 have it); before those, --inspect-brk also waits, and then stops at the first line.
 */
export function inspectFlag(wait: boolean): string {
  if (!wait) return "--inspect";
  return process.allowedNodeEnvironmentFlags.has("--inspect-wait") ? "--inspect-wait" : "--inspect-brk";
}

/** The built-in mock worker (`--mock`): a Node handler driven by the job input. */
export function mockRuntime(inspect?: DebugSetting): Runtime {
  const runtime = nodeRuntime(runtimeAsset("node", "mock-handler.mjs"), inspect);
  return { ...runtime, kind: "mock", description: "built-in mock handler (behaviour chosen by input.mock)" };
}

/** A JavaScript function given to createEmulator(): its workers run in this process (see InlineWorker). */
export function functionRuntime(handler: HandlerFunction): Runtime {
  return {
    kind: "function",
    description: `JavaScript function ${handler.name || "(anonymous)"} in this process`,
    start: ({ env, volume, port }) => new InlineWorker(handler, volume ? { ...env, ...volume.environment() } : env, port),
  };
}

