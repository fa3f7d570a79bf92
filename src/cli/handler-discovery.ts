import { existsSync } from "node:fs";
import { join } from "node:path";
import { userError } from "../errors.js";
import type { CommandLine } from "./flags.js";

/** Where a handler is looked for when none is named (SPEC §5), in order. */
export const HANDLER_CANDIDATES = [
  "handler.py",
  "src/handler.py",
  "rp_handler.py",
  "src/rp_handler.py",
  "handler.ts",
  "handler.js",
  "handler.mjs",
  "src/handler.ts",
  "src/handler.js",
  "src/handler.mjs",
];

/** The first candidate present in `cwd`, or undefined. */
export function discoverHandler(cwd: string): string | undefined {
  return HANDLER_CANDIDATES.find((candidate) => existsSync(join(cwd, candidate)));
}

/** Fills in the handler of a command line that names none (and is not --mock) with the first candidate in `cwd`. */
export function findHandler(line: CommandLine, cwd: string): string | undefined {
  if (line.settings.mock || line.settings.handler !== undefined) return undefined;
  const found = discoverHandler(cwd);
  if (found === undefined) return undefined;
  line.settings.handler = found;
  line.sources.set("handler", { label: "found in the folder", name: "the handler found" });
  return found;
}

/** findHandler(), and a user error when there is no handler at all. */
export function requireHandler(line: CommandLine, cwd: string, hint = ""): string | undefined {
  const found = findHandler(line, cwd);
  if (!line.settings.mock && line.settings.handler === undefined) {
    throw userError("ERR_HANDLER_NOT_FOUND", `no handler found in ${cwd} (tried ${HANDLER_CANDIDATES.join(", ")})${hint}`);
  }
  return found;
}
