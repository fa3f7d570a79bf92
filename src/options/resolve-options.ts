import { userError } from "../errors.js";
import { didYouMean } from "./did-you-mean.js";
import { endpointSettings } from "./endpoint-entries.js";
import { OptionProblem, quote } from "./option-kinds.js";
import { OPTIONS, type OptionKey, type OptionRow, type Scope, type Settings, optionRows } from "./schema.js";

export interface ResolveContext {
  /** How messages name an option: "option maxWorkers" unless the command line names its flag, variable or file. */
  name?: (key: OptionKey) => string;
  /** Defaults of the caller, above the table's (createEmulator() listens on a free port). */
  defaults?: Partial<Record<OptionKey, unknown>>;
  /** Accept the options of the command line only (logFormat). */
  commandLine?: boolean;
  /** Accept only options of this scope (an endpoint's entry in a config file). */
  scope?: Scope;
}

const bad = (message: string) => userError("ERR_BAD_OPTION", message);

/**
 * Checks options against the table and fills in every default: the one place where options enter the
 * library. Throws an EmulatorError (ERR_BAD_OPTION) naming the option and the rule it breaks. A value of
 * null or undefined counts as not given.
 */
export function resolveOptions(options: unknown, context: ResolveContext = {}): Settings {
  const name = context.name ?? ((key: OptionKey) => `option ${key}`);
  if (typeof options !== "object" || options === null || Array.isArray(options)) throw bad(`the options must be an object, got ${quote(options)}`);
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) checkKey(key, context);

  const settings: Record<string, unknown> = {};
  for (const [key, row] of optionRows()) {
    const value = given[key] ?? context.defaults?.[key] ?? row.default;
    try {
      settings[key] = value === undefined || value === null ? undefined : row.kind.parse(value);
    } catch (error) {
      if (error instanceof OptionProblem) throw bad(`${name(key)} ${error.message}`);
      throw error;
    }
  }
  const resolved = settings as Settings;
  if (resolved.minWorkers > resolved.maxWorkers) {
    throw bad(`${name("minWorkers")} (${resolved.minWorkers}) must not be more than ${name("maxWorkers")} (${resolved.maxWorkers})`);
  }
  // Each endpoint is checked here too, so that a bad entry is refused before anything starts.
  endpointSettings(resolved, { commandLine: context.commandLine, given: Object.keys(given).filter((key) => given[key] !== undefined && given[key] !== null) });
  return resolved;
}

function checkKey(key: string, context: ResolveContext): void {
  const row: OptionRow | undefined = Object.hasOwn(OPTIONS, key) ? OPTIONS[key as OptionKey] : undefined;
  if (!row) {
    const known = optionRows()
      .filter(([, r]) => accepted(r, context))
      .map(([k]) => k);
    throw bad(`unknown option "${key}"${didYouMean(key, known, (k) => `"${k}"`)}`);
  }
  if (row.commandLineOnly && !context.commandLine) throw bad(`option ${key} applies to the emulator command only (createEmulator() prints nothing)`);
  if (context.scope && row.scope !== context.scope) throw bad(`option ${key} is a ${row.scope} option: only ${context.scope} options can be set here`);
}

const accepted = (row: OptionRow, context: ResolveContext) =>
  (!row.commandLineOnly || context.commandLine === true) && (!context.scope || row.scope === context.scope);
