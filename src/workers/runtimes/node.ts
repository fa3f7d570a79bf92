import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { type Runtime, runtimeAsset } from "./runtime.js";

const TYPESCRIPT = /\.(c|m)?tsx?$/;

/** Node handlers: the bootstrap imports the user's module and speaks the worker protocol (SPEC §3.1). */
export function nodeRuntime(handlerPath: string): Runtime {
  const typescript = TYPESCRIPT.test(handlerPath);
  // tsx is resolved from this package, so the user's project need not have it.
  const loader = typescript ? ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href] : [];
  return {
    kind: "node",
    description: `node ${process.versions.node}${typescript ? " with tsx (TypeScript without a build step)" : ""}`,
    command: () => ({ file: process.execPath, args: [...loader, runtimeAsset("node", "bootstrap.mjs"), handlerPath], env: {} }),
  };
}

/** The built-in mock worker (`--mock`): a Node handler driven by the job input. */
export function mockRuntime(): Runtime {
  const runtime = nodeRuntime(runtimeAsset("node", "mock-handler.mjs"));
  return { ...runtime, kind: "mock", description: "built-in mock handler (behaviour chosen by input.mock)" };
}

