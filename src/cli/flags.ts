import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { userError } from "../errors.js";
import { type OptionKey, OPTIONS, type Settings, envName, flagName, optionRow, optionRows, resolveOptions } from "../options.js";
import { closestName, didYouMean } from "../options/did-you-mean.js";
import { defaultText } from "../options/option-docs.js";
import { type Kind, OptionProblem } from "../options/option-kinds.js";

// node:util parseArgs rather than a CLI framework: the options table already makes the flags, help,
// variables and config keys, and one loop below layers them the same way; a framework (commander 14
// for Node 20) would own only the flags and word their errors unlike those of variables and the file.

/** What one command (`emulator`, `emulator run`, `emulator jobs`) reads. */
export interface CommandSpec {
  /** How errors name the command for its help: "emulator", "emulator jobs". */
  command: string;
  /** The table's options it reads from flags, EMULATOR_* variables and the config file; default all. */
  options?: readonly OptionKey[];
  /** Its own flags, read from the command line only, each checked by its kind. */
  flags?: Record<string, Kind<unknown, unknown>>;
  /** Its first argument is the handler. */
  handlerArgument?: true;
  /** Its defaults, above the table's; given what the user set (`emulator run` keeps jobs in memory unless told a db). */
  defaults?: (given: Partial<Record<OptionKey, unknown>>) => Partial<Record<OptionKey, unknown>>;
}

/** The flags of a command line, read but not yet layered with the environment and the config file. */
export interface Arguments {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  help: boolean;
}

/** Where an option's value came from: `label` for --print-config, `name` for error messages. */
export interface Source {
  label: string;
  name: string;
}

/** A command's options after layering flags > environment > config file > defaults. */
export interface CommandLine {
  settings: Settings;
  /** Where each option given by the user came from; absent means its default. */
  sources: Map<OptionKey, Source>;
  positionals: string[];
  /** The checked values of the command's own flags. */
  flags: Record<string, unknown>;
  /** Unknown EMULATOR_* variables, said once each. */
  warnings: string[];
}

const COMMON_FLAGS = { help: { type: "boolean", short: "h" }, config: { type: "string" } } as const;

/** The options a command line can set: all but functions and objects. */
const COMMAND_LINE_KEYS = optionRows()
  .filter(([, row]) => !row.codeOnly)
  .map(([key]) => key);

/** The options read from EMULATOR_* variables: those with a flag. */
const VARIABLE_KEYS = COMMAND_LINE_KEYS.filter((key) => !optionRow(key).noFlag);

const commandOptions = (spec: CommandSpec): OptionKey[] => spec.options?.filter((key) => COMMAND_LINE_KEYS.includes(key)) ?? COMMAND_LINE_KEYS;

/** Reads the flags of `argv`; an unknown or misspelt flag is a user error ("did you mean --max-workers?"). */
export function readArguments(argv: string[], spec: CommandSpec): Arguments {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = { ...COMMON_FLAGS };
  const optionalValues = new Set<string>();
  for (const [name, kind] of Object.entries(spec.flags ?? {})) options[name] = { type: kind.arg ? "string" : "boolean" };
  for (const key of commandOptions(spec)) {
    const flag = flagName(key);
    if (flag) options[flag] = { type: optionRow(key).kind.arg ? "string" : "boolean" };
    if (flag && optionRow(key).kind.optionalValue) optionalValues.add(`--${flag}`);
  }
  // A flag whose value is optional takes it after "=" only, as Node's --inspect does: alone, it is on.
  const given = argv.map((arg) => (optionalValues.has(arg) ? `${arg}=true` : arg));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: joinNegativeValues(given, options), options, allowPositionals: true, strict: true });
  } catch (error) {
    const option = /'(-[^' ]*)/.exec((error as Error).message)?.[1] ?? "";
    const code = (error as NodeJS.ErrnoException).code;
    const flags = Object.keys(options).map((name) => `--${name}`);
    let problem = (error as Error).message.split(/\.\s/)[0];
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") problem = `unknown option ${option}${didYouMean(option, flags)}`;
    else if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") problem = `option ${option} ${/does not take/.test((error as Error).message) ? "takes no value" : "needs a value"}`;
    throw userError("ERR_BAD_OPTION", `${problem} (see ${spec.command} --help)`);
  }
  const values = parsed.values as Arguments["values"];
  return { values, positionals: parsed.positionals, help: values.help === true };
}

/**
 * parseArgs refuses `--max-workers -1` as ambiguous; a negative number after a flag that takes a value is
 * that value, so it is passed as `--max-workers=-1` and gets the same message as from the API.
 */
function joinNegativeValues(argv: string[], options: Record<string, { type: string }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i].startsWith("--") ? argv[i].slice(2) : undefined;
    if (flag && options[flag]?.type === "string" && /^-\d/.test(argv[i + 1] ?? "")) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

/** Layers flags > EMULATOR_* variables > config file > defaults, and checks every value against the table. */
export function resolveCommandLine(args: Arguments, env: NodeJS.ProcessEnv, cwd: string, spec: CommandSpec): CommandLine {
  const keys = new Set(commandOptions(spec));
  const given: Partial<Record<OptionKey, unknown>> = {};
  const sources = new Map<OptionKey, Source>();
  const set = (key: OptionKey, value: unknown, source: Source) => {
    if (!keys.has(key)) return;
    given[key] = value;
    sources.set(key, source);
  };

  const configPath = typeof args.values.config === "string" ? resolve(cwd, args.values.config) : resolve(cwd, "emulator.config.json");
  if (typeof args.values.config === "string" || existsSync(configPath)) {
    for (const [key, value] of Object.entries(readConfig(configPath))) set(key as OptionKey, value, { label: "config file", name: `${key} in ${configPath}` });
  }
  const warnings = unknownVariables(env);
  for (const key of keys) {
    if (!VARIABLE_KEYS.includes(key)) continue;
    const name = envName(key);
    if (env[name] !== undefined && env[name] !== "") set(key, env[name], { label: `env ${name}`, name });
  }
  for (const key of keys) {
    const flag = flagName(key);
    const value = flag === undefined ? undefined : args.values[flag];
    if (value !== undefined) set(key, optionRow(key).negated ? !value : value, { label: `--${flag}`, name: `--${flag}` });
  }
  if (spec.handlerArgument) {
    if (args.positionals.length > 1) throw userError("ERR_BAD_OPTION", `expected at most one handler, got: ${args.positionals.join(" ")}`);
    if (args.positionals[0] !== undefined) set("handler", args.positionals[0], { label: "argument", name: "the handler argument" });
  }

  const settings = resolveOptions(given, {
    commandLine: true,
    defaults: spec.defaults?.(given),
    name: (key) => sources.get(key)?.name ?? (flagName(key) ? `--${flagName(key)}` : key),
  });
  const flags: Record<string, unknown> = {};
  for (const [name, kind] of Object.entries(spec.flags ?? {})) {
    const value = args.values[name];
    try {
      flags[name] = value === undefined ? undefined : kind.parse(value);
    } catch (error) {
      if (error instanceof OptionProblem) throw userError("ERR_BAD_OPTION", `--${name} ${error.message}`);
      throw error;
    }
  }
  return { settings, sources, positionals: args.positionals, flags, warnings };
}

/** The config file's options: a JSON object whose keys are createEmulator()'s ("maxWorkers"). */
function readConfig(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw userError("ERR_BAD_OPTION", `cannot read the config file ${path}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : (error as Error).message}`, { cause: error });
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw userError("ERR_BAD_OPTION", `the config file ${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) throw userError("ERR_BAD_OPTION", `the config file ${path} must hold a JSON object of options`);
  for (const key of Object.keys(config)) {
    if (!Object.hasOwn(OPTIONS, key)) throw userError("ERR_BAD_OPTION", `${path}: unknown option "${key}"${didYouMean(key, COMMAND_LINE_KEYS, (k) => `"${k}"`)}`);
    if (optionRow(key as OptionKey).codeOnly) throw userError("ERR_BAD_OPTION", `${path}: option "${key}" can only be given to createEmulator()`);
  }
  return config as Record<string, unknown>;
}

/** An EMULATOR_* variable that is no option's is most likely a typo: said, never fatal. */
function unknownVariables(env: NodeJS.ProcessEnv): string[] {
  const known = VARIABLE_KEYS.map(envName);
  return Object.keys(env)
    .filter((name) => name.startsWith("EMULATOR_") && !known.includes(name))
    .map((name) => {
      const closest = closestName(name, known);
      return `unknown variable ${name} ignored${closest ? `; did you mean ${closest}?` : ""}`;
    });
}

/**
 * `--print-config`: every option of the command line with its value and where the value came from;
 * `resolved` gives what a default resolves to where that is worth saying (the interpreter found).
 */
export function describeConfig(line: CommandLine, cwd: string, resolved: Partial<Record<OptionKey, string>> = {}): string {
  const rows = COMMAND_LINE_KEYS.map((key) => {
    const row = optionRow(key);
    const value: unknown = line.settings[key];
    let shown: string;
    if (resolved[key] !== undefined) shown = resolved[key];
    else if (key === "db") shown = line.settings.inMemory ? "in memory" : resolve(cwd, line.settings.db);
    else if (key === "handler" && value === undefined && !line.settings.mock) shown = "none found";
    else if (value === undefined) shown = defaultText(key);
    else if (row.secret) shown = "(hidden)";
    else shown = row.kind.show(value);
    return [flagName(key)?.replace(/^no-/, "") ?? key, shown, line.sources.get(key)?.label ?? "default"];
  });
  const width = Math.max(...rows.map(([, value]) => value.length)) + 2;
  return [["option", "value", "source"], ...rows].map(([name, value, source]) => `  ${name.padEnd(20)} ${value.padEnd(width)} ${source}`).join("\n");
}
