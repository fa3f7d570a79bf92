import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The environment workers start from: the user's own, plus the project's `.env` file for the variables
 * the environment does not already set (a real environment variable always wins, as with dotenv).
 * Returns which keys came from `.env`, so the banner can say where each came from.
 */
export function loadDotEnv(cwd: string, base: NodeJS.ProcessEnv): { env: Record<string, string>; keys: string[] } {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(base)) if (value !== undefined) env[key] = value;
  const path = join(cwd, ".env");
  if (!existsSync(path)) return { env, keys: [] };
  const keys: string[] = [];
  for (const [key, value] of parseDotEnv(readFileSync(path, "utf8"))) {
    if (key in env) continue;
    env[key] = value;
    keys.push(key);
  }
  return { env, keys };
}

/** `KEY=value` lines; `export` prefixes, comments and single or double quotes as dotenv reads them. */
export function parseDotEnv(text: string): [string, string][] {
  const entries: [string, string][] = [];
  for (const raw of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(raw);
    if (!match) continue;
    let value = match[2].trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, "\n");
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    entries.push([match[1], value]);
  }
  return entries;
}
