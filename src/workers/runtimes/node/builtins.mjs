// Node's built-in modules for the worker runtime. Where the runtime has process.getBuiltinModule (Node
// 20.16+), they are taken from it: an ES-module import of a built-in also builds a module facade for it,
// which for the six used here is a few ms of every worker's start. Older runtimes import them, in
// loadBuiltins(), which each entry (the worker process's, its ping thread's) awaits before anything else.
//
// Not with a top-level await here: a module graph that holds one is evaluated asynchronously, and on Node
// 22 and 24 a thread terminated while such a graph evaluates aborts its whole process (V8's "Check
// failed: (location_) != nullptr"). A worker stopped in the ms after its ping thread started died so.
const get = process.getBuiltinModule?.bind(process);
const NAMES = ["node:fs", "node:net", "node:url", "node:util", "node:async_hooks", "node:worker_threads"];
let imported;

/**
 * The built-in module `name`.
 * @template {keyof BuiltinModules} N
 * @param {N} name
 * @returns {BuiltinModules[N]}
 */
export function builtin(name) {
  return get ? get(name) : imported[name];
}

/** Resolves once builtin() can answer: at once where the runtime has process.getBuiltinModule. */
export async function loadBuiltins() {
  if (get || imported) return;
  imported = Object.fromEntries(await Promise.all(NAMES.map(async (name) => [name, await import(name)])));
}

/**
 * @typedef {{
 *   "node:fs": typeof import("node:fs"),
 *   "node:net": typeof import("node:net"),
 *   "node:url": typeof import("node:url"),
 *   "node:util": typeof import("node:util"),
 *   "node:async_hooks": typeof import("node:async_hooks"),
 *   "node:worker_threads": typeof import("node:worker_threads"),
 * }} BuiltinModules
 */
