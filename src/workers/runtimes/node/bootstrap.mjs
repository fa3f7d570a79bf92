// The entry of a Node worker process: `node [--import tsx] bootstrap.mjs HANDLER`. Imports the user's
// module and runs the worker loop against the emulator, as a deployed worker runs the SDK.
import { builtin, loadBuiltins } from "./builtins.mjs";
import { watchParent } from "./parent-watchdog.mjs";
import { attributeConsoleToJobs, startWorker } from "./worker-loop.mjs";

await loadBuiltins();
watchParent();
// Before the import, so that a module keeping its own reference to console.log is attributed too.
attributeConsoleToJobs();

const path = process.argv[2];
if (!path) fail("usage: node bootstrap.mjs <handler file>");
let module;
try {
  module = await import(builtin("node:url").pathToFileURL(path).href);
} catch (error) {
  fail(`could not import the handler ${path}:\n${error?.stack ?? error}`);
}
const { handler, config } = findHandler(module);
if (typeof handler !== "function") {
  fail(`${path} exports no handler function: export it as default or as "handler" (module.exports = handler works too)`);
}

const worker = startWorker(handler, config ?? {}, process.env, { pingThread: true, outputFirst: true });
for (const signal of ["SIGTERM", "SIGINT"]) {
  // Once: a second signal ends the process at once.
  process.once(signal, () => void worker.stop().then(() => process.exit(0)));
}
// The loop ends by itself only when the worker is refreshed.
await worker.finished;
process.exit(0);

/** `default` or `handler`, also under a CommonJS `module.exports` object; `config` beside it. */
function findHandler(mod) {
  const handler = [mod.default, mod.handler, mod.default?.handler, mod.default?.default].find((f) => typeof f === "function");
  return { handler, config: mod.config ?? mod.default?.config ?? handler?.config };
}

function fail(message) {
  console.error(message);
  process.exit(1);
}
