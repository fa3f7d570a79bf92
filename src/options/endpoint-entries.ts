import { isAbsolute, resolve } from "node:path";
import { userError } from "../errors.js";
import { didYouMean } from "./did-you-mean.js";
import { OptionProblem, quote } from "./option-kinds.js";
import { OPTIONS, type OptionKey, type OptionRow, type Settings, optionRows } from "./schema.js";

/** Options that only a queue endpoint reads, and those that only a load-balancing endpoint reads. */
const QUEUE_ONLY = new Set<OptionKey>([
  "handler", "mock", "python", "scaler", "queueDelay", "executionTimeout", "ttl",
  "runRetention", "runsyncRetention", "releaseGrace", "pingInterval", "pingTimeout",
  "inspect", "inspectWait", "debugpy", "debugpyWait",
]);
const LOAD_BALANCING_ONLY = new Set<OptionKey>(["command", "requestTimeout", "processingTimeout", "lbPort"]);

/** Options each entry names for itself rather than taking from the top level. */
const OWN_KEYS: OptionKey[] = ["handler", "mock", "command", "endpointId"];

const bad = (message: string) => userError("ERR_BAD_OPTION", message);

/** Where the entries are checked: createEmulator() accepts functions and objects, the config file does not. */
export interface EntryContext {
  /** The entries come from the config file (or the command line's layers). */
  commandLine?: boolean;
  /** The keys given at the top level, beside `endpoints`. */
  given?: readonly string[];
}

/**
 * The settings of each endpoint: one per entry of `endpoints` (the top-level endpoint options are the
 * defaults of every entry; an entry's `env` adds to the environment and its `cwd` is relative to the
 * top-level one), or the top level itself when there is no list. Throws ERR_BAD_OPTION naming the entry
 * and the option for a bad value, a duplicate id, or an option that the endpoint's kind does not read.
 */
export function endpointSettings(settings: Settings, context: EntryContext = {}): Settings[] {
  const entries = settings.endpoints;
  if (entries === undefined) {
    checkKind(settings, "", new Set(context.given));
    return [settings];
  }
  for (const key of OWN_KEYS) {
    if (context.given?.includes(key)) throw bad(`option ${key} cannot be combined with endpoints: each entry of endpoints names its own`);
  }
  const base: Settings = { ...settings, endpoints: undefined };
  const seen = new Set<string>();
  return entries.map((entry, index) => {
    const label = typeof entry.id === "string" ? `endpoints entry "${entry.id}"` : `endpoints entry ${index + 1}`;
    if (typeof entry.id !== "string" || entry.id === "") throw bad(`${label} needs an "id": the {endpoint} of its URLs`);
    const resolved = resolveEntry(entry, base, label, context);
    if (seen.has(resolved.endpointId)) throw bad(`${label}: the id "${resolved.endpointId}" is used twice in endpoints`);
    seen.add(resolved.endpointId);
    checkKind(resolved, `${label}: `, new Set(Object.keys(entry)));
    return resolved;
  });
}

function resolveEntry(entry: Record<string, unknown>, base: Settings, label: string, context: EntryContext): Settings {
  const resolved: Record<string, unknown> = { ...base };
  for (const [given, value] of Object.entries(entry)) {
    const key = (given === "id" ? "endpointId" : given) as OptionKey;
    const row: OptionRow | undefined = Object.hasOwn(OPTIONS, key) && given !== "endpointId" ? OPTIONS[key] : undefined;
    if (!row) {
      const known = ["id", ...optionRows().filter(([k, r]) => r.scope === "endpoint" && k !== "endpointId").map(([k]) => k)];
      throw bad(`${label}: unknown option "${given}"${didYouMean(given, known, (k) => `"${k}"`)}`);
    }
    if (row.scope !== "endpoint") throw bad(`${label}: option ${given} is a server option; set it once, at the top level`);
    if (context.commandLine && row.codeOnly && !row.inEntries) throw bad(`${label}: option ${given} can only be given to createEmulator()`);
    if (value === undefined || value === null) continue;
    try {
      resolved[key] = row.kind.parse(value);
    } catch (error) {
      if (error instanceof OptionProblem) throw bad(`${label}: ${given} ${error.message}`);
      throw error;
    }
  }
  const settings = resolved as Settings;
  // An entry's variables come on top of the emulator's environment, never instead of it (PATH stays).
  if (entry.env !== undefined && entry.env !== null) settings.env = { ...(base.env ?? process.env), ...settings.env };
  const baseCwd = base.cwd ?? process.cwd();
  if (settings.cwd !== base.cwd && settings.cwd !== undefined && !isAbsolute(settings.cwd)) settings.cwd = resolve(baseCwd, settings.cwd);
  // A volume is named from the emulator's folder, as `db` is, whatever the entry's cwd: "./volume" is one folder for every entry.
  if (settings.volume !== undefined && !isAbsolute(settings.volume)) settings.volume = resolve(baseCwd, settings.volume);
  for (const [name, value] of Object.entries(settings.env ?? {})) {
    if (typeof value !== "string") throw bad(`${label}: env.${name} must be text, got ${quote(value)}`);
  }
  if (settings.minWorkers > settings.maxWorkers) throw bad(`${label}: minWorkers (${settings.minWorkers}) must not be more than maxWorkers (${settings.maxWorkers})`);
  return settings;
}

/** A load-balancing endpoint runs a command and no handler; options of the other kind given for it are refused. */
function checkKind(settings: Settings, prefix: string, own: ReadonlySet<string>): void {
  const loadBalancing = settings.type === "load-balancing";
  const others = loadBalancing ? QUEUE_ONLY : LOAD_BALANCING_ONLY;
  const kind = loadBalancing ? "a load-balancing endpoint" : "a queue endpoint";
  for (const key of own) {
    if (others.has(key as OptionKey)) throw bad(`${prefix}option ${key} does not apply to ${kind}${loadBalancing ? "" : ' (set "type": "load-balancing" for one)'}`);
  }
  if (!loadBalancing) return;
  if (settings.handler !== undefined || settings.mock) throw bad(`${prefix}a load-balancing endpoint runs a command (your HTTP server), not a handler`);
  if (settings.command === undefined) throw bad(`${prefix}a load-balancing endpoint needs a command that starts its HTTP server, such as "uvicorn app:app --port $PORT"`);
}
