import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { userError } from "../errors.js";
import { didYouMean } from "../options/did-you-mean.js";
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

/** findHandler(), and a user error when there is no handler at all or the one named is not a file. */
export function requireHandler(line: CommandLine, cwd: string, hint = ""): string | undefined {
  const found = findHandler(line, cwd);
  const { handler } = line.settings;
  if (!line.settings.mock && handler === undefined) {
    throw userError("ERR_HANDLER_NOT_FOUND", `no handler found in ${cwd} (tried ${HANDLER_CANDIDATES.join(", ")})${hint}`);
  }
  if (typeof handler === "string" && handler !== "mock" && !isFile(resolve(cwd, handler))) {
    const nearby = nearbyFiles(handler, cwd);
    // The same file name in another folder is the likeliest meaning; else the closest spelling.
    const sameName = nearby.find((file) => basename(file) === basename(handler));
    const suggestion = sameName ? `; did you mean ${sameName}?` : didYouMean(handler, nearby);
    throw userError("ERR_HANDLER_NOT_FOUND", `handler file not found: ${handler}${suggestion}`);
  }
  return found;
}

const isFile = (path: string) => existsSync(path) && statSync(path).isFile();

/** The files a misspelt handler path may have meant: those beside it, and the usual handlers of `cwd`. */
function nearbyFiles(handler: string, cwd: string): string[] {
  const folder = dirname(handler);
  let beside: string[] = [];
  try {
    beside = readdirSync(resolve(cwd, folder), { withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => join(folder, entry.name));
  } catch {
    // The folder is misspelt too, or unreadable: only the usual names remain.
  }
  return [...beside, ...HANDLER_CANDIDATES.filter((candidate) => isFile(join(cwd, candidate)))];
}
