// The entry of a Node worker process: `node [--import tsx] bootstrap.mjs HANDLER`. Imports the user's
// module and runs the worker loop against the emulator, like a deployed worker runs the SDK.
import { Socket } from "node:net";
import { pathToFileURL } from "node:url";
import { attributeConsoleToJobs, startWorker } from "./worker-loop.mjs";

watchParent();

const path = process.argv[2];
let module;
try {
  module = await import(pathToFileURL(path).href);
} catch (error) {
  console.error(`could not import the handler ${path}:\n${error?.stack ?? error}`);
  process.exit(1);
}
const { handler, config } = findHandler(module);
if (typeof handler !== "function") {
  console.error(`${path} exports no handler: export a function as default or as "handler" (module.exports = fn works too)`);
  process.exit(1);
}

attributeConsoleToJobs();
const worker = startWorker(handler, config ?? {});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.once(signal, () => void worker.stop().then(() => process.exit(0)));
}
await worker.finished;
process.exit(0);

/** `default` or `handler`, also under a CommonJS `module.exports` object; `config` beside it. */
function findHandler(mod) {
  const candidates = [mod, mod.default].filter((m) => m && (typeof m === "object" || typeof m === "function"));
  for (const candidate of candidates) {
    if (typeof candidate === "function") return { handler: candidate, config: mod.config ?? candidate.config };
    if (typeof candidate.handler === "function") return { handler: candidate.handler, config: candidate.config ?? mod.config };
    if (typeof candidate.default === "function") return { handler: candidate.default, config: candidate.config ?? mod.config };
  }
  return {};
}

/**
 * The emulator holds the other end of fd RUNPOD_EMULATOR_PARENT_FD. When it closes, the emulator is gone
 * (even after SIGKILL): take the whole process group down, so no worker outlives it.
 */
function watchParent() {
  const fd = Number(process.env.RUNPOD_EMULATOR_PARENT_FD);
  if (!Number.isInteger(fd)) return;
  const pipe = new Socket({ fd, readable: true, writable: false });
  const die = () => {
    try {
      process.kill(-process.pid, "SIGKILL");
    } catch {
      process.exit(1);
    }
  };
  pipe.on("end", die).on("close", die).on("error", die);
  pipe.resume();
  pipe.unref();
}
