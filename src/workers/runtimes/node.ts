import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { type HandlerFunction, InlineWorker } from "../inline-worker.js";
import { type Runtime, processRuntime, runtimeAsset } from "./runtime.js";

const TYPESCRIPT = /\.(c|m)?tsx?$/;

/** Node handlers: the bootstrap imports the user's module and speaks the worker protocol (SPEC §3.1). */
export function nodeRuntime(handlerPath: string): Runtime {
  const typescript = TYPESCRIPT.test(handlerPath);
  // tsx is resolved from this package, so the user's project need not have it.
  const loader = typescript ? ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href] : [];
  const description = `node ${process.versions.node}${typescript ? " with tsx (TypeScript without a build step)" : ""}`;
  return processRuntime("node", description, { file: process.execPath, args: [...loader, runtimeAsset("node", "bootstrap.mjs"), handlerPath], env: {} });
}

/** The built-in mock worker (`--mock`): a Node handler driven by the job input. */
export function mockRuntime(): Runtime {
  const runtime = nodeRuntime(runtimeAsset("node", "mock-handler.mjs"));
  return { ...runtime, kind: "mock", description: "built-in mock handler (behaviour chosen by input.mock)" };
}

/** A JavaScript function given to createEmulator(): its workers run in this process (see InlineWorker). */
export function functionRuntime(handler: HandlerFunction): Runtime {
  return {
    kind: "function",
    description: `JavaScript function ${handler.name || "(anonymous)"} in this process`,
    start: ({ env, volume }) => new InlineWorker(handler, volume ? { ...env, ...volume.environment() } : env),
  };
}

