import { existsSync } from "node:fs";
import { join } from "node:path";

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
