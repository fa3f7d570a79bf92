import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { userError } from "../errors.js";
import { type EmulatorOptions, defaults } from "../options.js";

type FlagType = "string" | "integer" | "boolean";

interface Flag {
  name: string;
  key: keyof EmulatorOptions;
  type: FlagType;
  help: string;
  min?: number;
  choices?: readonly string[];
  /** The flag sets `key` to false (`--no-watch`). */
  negates?: boolean;
}

/** Every option of `emulator` (SPEC §5): each also read from EMULATOR_<NAME> and the config file. */
export const FLAGS: readonly Flag[] = [
  { name: "port", key: "port", type: "integer", min: 0, help: "port to listen on; 0 = any free port (default 8000)" },
  { name: "host", key: "host", type: "string", help: "address to bind (default 127.0.0.1)" },
  { name: "endpoint-id", key: "endpointId", type: "string", help: "endpoint id in /v2/{id}/… (default local)" },
  { name: "api-key", key: "apiKey", type: "string", help: "require this key from clients (Bearer or raw)" },
  { name: "python", key: "python", type: "string", help: "Python interpreter for .py handlers" },
  { name: "db", key: "db", type: "string", help: "SQLite file (default .runpod-emulator/emulator.db)" },
  { name: "in-memory", key: "inMemory", type: "boolean", help: "keep jobs in memory only" },
  { name: "min-workers", key: "minWorkers", type: "integer", min: 0, help: "workers always kept running (default 0)" },
  { name: "max-workers", key: "maxWorkers", type: "integer", min: 1, help: "most workers at once (default 3)" },
  { name: "idle-timeout", key: "idleTimeout", type: "integer", min: 0, help: "seconds before an idle worker above the minimum stops (default 5)" },
  { name: "scaler", key: "scaler", type: "string", choices: ["queue-delay", "request-count"], help: "queue-delay (default) or request-count" },
  { name: "queue-delay", key: "queueDelay", type: "integer", min: 0, help: "seconds a job may wait before a worker is added (default 4)" },
  { name: "requests-per-worker", key: "requestsPerWorker", type: "integer", min: 1, help: "jobs per worker for the request-count scaler (default 1)" },
  { name: "execution-timeout", key: "executionTimeout", type: "integer", min: 5, help: "seconds a job may run, unless its policy says otherwise (default 600)" },
  { name: "cold-start", key: "coldStart", type: "integer", min: 0, help: "milliseconds of simulated start-up per new worker (default 0)" },
  { name: "flashboot", key: "flashboot", type: "boolean", help: "shorter cold starts for workers started soon after one stopped" },
  { name: "gpus", key: "gpus", type: "string", help: "all (default), none, or indices such as 0,2" },
  { name: "gpus-per-worker", key: "gpusPerWorker", type: "integer", min: 1, help: "GPUs given to each worker (default 1)" },
  { name: "no-watch", key: "watch", type: "boolean", negates: true, help: "do not reload workers when the handler's files change" },
  { name: "mock", key: "mock", type: "boolean", help: "serve the built-in mock handler instead of a file" },
  { name: "history-limit", key: "historyLimit", type: "integer", min: 1, help: "finished jobs kept in the database (default 100000)" },
];

export interface CommandLine {
  options: EmulatorOptions;
  /** Where each option's value came from: flag, env, config file or default. */
  sources: Map<keyof EmulatorOptions, string>;
  positionals: string[];
  logFormat: "pretty" | "json";
  help: boolean;
  version: boolean;
  printConfig: boolean;
  /** Values of the extra flags a sub-command asked for. */
  extra: Record<string, string | boolean | undefined>;
}

/**
 * Reads the options with the precedence flags > environment > config file > defaults. Every mistake
 * (unknown flag, bad value) is a user error naming the flag.
 */
export function parseCommandLine(
  argv: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  extra: Record<string, { type: "string" | "boolean" }> = {},
): CommandLine {
  const spec: Record<string, { type: "string" | "boolean" }> = {
    ...extra,
    config: { type: "string" },
    "log-format": { type: "string" },
    help: { type: "boolean" },
    version: { type: "boolean" },
    "print-config": { type: "boolean" },
  };
  for (const flag of FLAGS) spec[flag.name] = { type: flag.type === "boolean" ? "boolean" : "string" };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true });
  } catch (error) {
    throw userError("ERR_BAD_OPTION", `${describeParseError(error as Error)} (see emulator --help)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;

  const options: EmulatorOptions = {};
  const sources = new Map<keyof EmulatorOptions, string>();
  const set = (flag: Flag, raw: unknown, source: string) => {
    (options as Record<string, unknown>)[flag.key] = convert(flag, raw, source);
    sources.set(flag.key, source);
  };

  const configPath = typeof values.config === "string" ? resolve(cwd, values.config) : resolve(cwd, "emulator.config.json");
  if (typeof values.config === "string" || existsSync(configPath)) {
    const config = readConfig(configPath);
    for (const [key, raw] of Object.entries(config)) {
      const flag = FLAGS.find((f) => f.key === key && !f.negates) ?? FLAGS.find((f) => f.key === key);
      if (!flag) throw userError("ERR_BAD_OPTION", `${configPath}: unknown option "${key}" (options are named as in createEmulator(), e.g. "maxWorkers")`);
      (options as Record<string, unknown>)[flag.key] = convert({ ...flag, negates: false }, raw, `config file ${configPath}`);
      sources.set(flag.key, "config file");
    }
  }
  for (const flag of FLAGS) {
    const name = `EMULATOR_${flag.name.replace(/-/g, "_").toUpperCase()}`;
    if (env[name] !== undefined && env[name] !== "") set(flag, env[name], `environment ${name}`);
  }
  for (const flag of FLAGS) if (values[flag.name] !== undefined) set(flag, values[flag.name], `--${flag.name}`);
  for (const key of sources.keys()) sources.set(key, simplify(sources.get(key) ?? ""));

  const logFormat = (values["log-format"] as string | undefined) ?? env.EMULATOR_LOG_FORMAT ?? "pretty";
  if (logFormat !== "pretty" && logFormat !== "json") throw userError("ERR_BAD_OPTION", `--log-format must be pretty or json, got "${logFormat}"`);
  return {
    options,
    sources,
    positionals: parsed.positionals,
    logFormat,
    help: values.help === true,
    version: values.version === true,
    printConfig: values["print-config"] === true,
    extra: Object.fromEntries(Object.keys(extra).map((name) => [name, values[name]])),
  };
}

/** node:util's parse errors, said in one short sentence. */
export function describeParseError(error: Error): string {
  const option = /'(-[^']*)'/.exec(error.message)?.[1];
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && option) return `unknown option ${option}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && option) return `option ${option} needs a value`;
  return error.message.split(". ")[0];
}

function simplify(source: string): string {
  if (source.startsWith("environment")) return source.replace("environment ", "env ");
  return source.startsWith("config file") ? "config file" : source;
}

function readConfig(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw userError("ERR_BAD_OPTION", `config file not found: ${path}`);
  }
  try {
    const config = JSON.parse(text) as unknown;
    if (typeof config !== "object" || config === null || Array.isArray(config)) throw new Error("expected a JSON object");
    return config as Record<string, unknown>;
  } catch (error) {
    throw userError("ERR_BAD_OPTION", `config file ${path} is not a JSON object of options: ${(error as Error).message}`);
  }
}

function convert(flag: Flag, raw: unknown, source: string): unknown {
  const where = source.startsWith("--") ? source : `${source} (--${flag.name})`;
  if (flag.type === "boolean") {
    const value = raw === true || raw === "true" || raw === "1" ? true : raw === false || raw === "false" || raw === "0" ? false : undefined;
    if (value === undefined) throw userError("ERR_BAD_OPTION", `${where} must be true or false, got "${String(raw)}"`);
    return flag.negates ? !value : value;
  }
  if (flag.type === "integer") {
    const value = typeof raw === "number" ? raw : Number(String(raw).trim() || Number.NaN);
    if (!Number.isInteger(value)) throw userError("ERR_BAD_OPTION", `${where} must be a whole number, got "${String(raw)}"`);
    if (flag.min !== undefined && value < flag.min) throw userError("ERR_BAD_OPTION", `${where} must be at least ${flag.min}, got ${value}`);
    if (flag.name === "port" && value > 65535) throw userError("ERR_BAD_OPTION", `${where} must be at most 65535, got ${value}`);
    return value;
  }
  if (typeof raw !== "string" || raw === "") throw userError("ERR_BAD_OPTION", `${where} needs a value`);
  if (flag.choices && !flag.choices.includes(raw)) throw userError("ERR_BAD_OPTION", `${where} must be one of ${flag.choices.join(", ")}, got "${raw}"`);
  return raw;
}

/** The value each option resolves to, including defaults, with its source (`--print-config`). */
export function describeConfig(line: CommandLine): string {
  const rows = FLAGS.map((flag) => {
    const value = (line.options as Record<string, unknown>)[flag.key] ?? (defaults as Record<string, unknown>)[flag.key];
    const source = line.sources.get(flag.key) ?? (value === undefined ? "unset" : "default");
    const name = flag.negates ? flag.key : flag.name;
    return `  ${name.padEnd(20)} ${String(value ?? "-").padEnd(24)} ${source}`;
  });
  return [`  ${"option".padEnd(20)} ${"value".padEnd(24)} source`, ...rows].join("\n");
}

/** The text of `emulator --help`. */
export function helpText(): string {
  const rows = FLAGS.map((flag) => {
    const arg = flag.type === "boolean" ? "" : flag.type === "integer" ? " N" : " VALUE";
    return `  --${`${flag.name}${arg}`.padEnd(26)} ${flag.help}`;
  });
  return `Usage: emulator [HANDLER] [options]
       emulator run [HANDLER] [--input JSON | --input-file FILE]
       emulator jobs [show|replay|export ID]   (see emulator jobs --help)

Runs a RunPod Serverless handler (handler.py, or a Node module) behind a local copy of the hosted
queue API at http://HOST:PORT/v2/ENDPOINT_ID. Without HANDLER, looks for handler.py, src/handler.py,
rp_handler.py, src/rp_handler.py, handler.{ts,js,mjs} and src/handler.{ts,js,mjs}.

Options (each also read from EMULATOR_<NAME>, e.g. EMULATOR_MAX_WORKERS, and from emulator.config.json):
${rows.join("\n")}
  --config FILE                a JSON config file (default ./emulator.config.json when present)
  --log-format pretty|json     terminal lines, or one JSON event per line
  --print-config               print every option, its value and where it came from, then exit
  --version                    print the version
  --help                       print this help`;
}
