// Node's built-in modules for the worker runtime. Where the runtime has process.getBuiltinModule (Node
// 20.16+), they are taken from it: an ES-module import of a built-in also builds a module facade for it,
// which for the six used here is a few ms of every worker's start. Older runtimes import them.
const get = process.getBuiltinModule?.bind(process);
const imported = get
  ? undefined
  : Object.fromEntries(
      await Promise.all(["node:fs", "node:net", "node:url", "node:util", "node:async_hooks", "node:worker_threads"].map(async (name) => [name, await import(name)])),
    );

/**
 * The built-in module `name`, loaded on first use.
 * @template {keyof BuiltinModules} N
 * @param {N} name
 * @returns {BuiltinModules[N]}
 */
export function builtin(name) {
  return get ? get(name) : imported?.[name];
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
