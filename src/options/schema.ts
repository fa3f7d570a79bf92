import type { Clock } from "../core/clock.js";
import type { EmulatorEvent } from "../core/events.js";
import type { HandlerFunction } from "../handler-function.js";
import { type Kind, boolean, byteSize, choice, debugPort, duration, integer, list, programmatic, text } from "./option-kinds.js";

/** The ports debuggers use by default: Node's inspector's, and the one debugpy's documentation uses. */
export const INSPECT_PORT = 9229;
export const DEBUGPY_PORT = 5678;

/** Server options are set once per emulator; endpoint options per endpoint (and as defaults for all). */
export type Scope = "server" | "endpoint";

/** One row of the options table: everything the library, the CLI, the help and the README say of it. */
export interface OptionSpec<In> {
  scope: Scope;
  /** One line for `--help` and the README table, without the default. */
  help: string;
  /** The value when none is given, written as a user would write it. */
  default?: In;
  /** Said instead of a default in help where there is no plain value. */
  defaultText?: string;
  /** The flag's name when it is not the key in kebab-case; false: given as the command's argument. */
  flag?: string | false;
  /** The flag turns the option off (`--no-watch` sets watch to false). */
  negated?: true;
  /** The flag's value placeholder in help, when the kind's says too little. */
  arg?: string;
  /** Only for createEmulator(): no flag, EMULATOR_* variable or config key (functions, objects). */
  codeOnly?: true;
  /** No flag or EMULATOR_* variable: createEmulator() and the config file only (lists, the endpoint kinds). */
  noFlag?: true;
  /** Code-only at the top level, but accepted in an entry of the config file's `endpoints`. */
  inEntries?: true;
  /** Only for the command line: createEmulator() prints nothing. */
  commandLineOnly?: true;
  /** `--print-config` does not show the value. */
  secret?: true;
  /** Fine-tuning, mostly for tests: listed after the others. */
  tuning?: true;
}

export type OptionRow<In = unknown, Out = unknown> = OptionSpec<In> & { kind: Kind<In, Out> };

function option<In, Out, const S extends OptionSpec<In>>(kind: Kind<In, Out>, spec: S): S & { kind: Kind<In, Out> } {
  return { ...spec, kind };
}

const isFunction = (value: unknown) => typeof value === "function";
const isObject = (value: unknown) => typeof value === "object" && value !== null && !Array.isArray(value);
const isListOfObjects = (value: unknown) => Array.isArray(value) && value.length > 0 && value.every(isObject);

/**
 * Every option of the emulator, in the order help and the README list them. createEmulator() checks its
 * argument against this table; the CLI makes its flags, EMULATOR_* variables and config keys from it.
 */
export const OPTIONS = {
  // Server
  port: option(integer({ min: 0, max: 65535 }), { scope: "server", default: 8000, help: "port to listen on; 0 picks a free one" }),
  host: option(text(), { scope: "server", default: "127.0.0.1", arg: "HOST", help: "address to listen on; beyond loopback, set --api-key too" }),
  apiKey: option(text(), { scope: "server", defaultText: "none", arg: "KEY", secret: true, help: "clients must send Authorization: Bearer KEY, or the raw KEY" }),
  db: option(text(), { scope: "server", default: ".runpod-emulator/emulator.db", arg: "PATH", help: "SQLite file of the job history, relative to the working folder" }),
  inMemory: option(boolean, { scope: "server", default: false, help: "keep jobs in memory only" }),
  historyLimit: option(integer({ min: 1 }), { scope: "server", default: 100_000, help: "finished jobs kept in the database, with their logs and chunks" }),
  cors: option(list, { scope: "server", defaultText: "localhost origins", arg: "ORIGINS", help: "browser origins allowed to call the API, or * for any" }),
  allowedHosts: option(list, { scope: "server", defaultText: "none", arg: "HOSTS", help: "Host names accepted besides localhost names and the bound address" }),
  allowWebhookHosts: option(list, { scope: "server", defaultText: "none", arg: "HOSTS", help: "webhook hosts allowed even at link-local or metadata addresses" }),
  logFormat: option(choice(["pretty", "json"]), { scope: "server", default: "pretty", commandLineOnly: true, help: "terminal lines, or one JSON event per line" }),
  onEvent: option(programmatic<(event: EmulatorEvent) => void>("a function", isFunction), { scope: "server", codeOnly: true, defaultText: "none", help: "receives every event from the start, the first workers' included" }),
  maxRunBody: option(integer({ min: 1 }), { scope: "server", default: 10_000_000, arg: "BYTES", tuning: true, help: "largest /run body and result, in bytes" }),
  maxRunsyncBody: option(integer({ min: 1 }), { scope: "server", default: 20_000_000, arg: "BYTES", tuning: true, help: "largest /runsync body and result, in bytes" }),
  pollHold: option(duration("ms", { min: 100, max: 60_000 }), { scope: "server", default: 30_000, tuning: true, help: "how long job-take and job-stop long-polls are held" }),
  webhookRetryDelay: option(duration("ms"), { scope: "server", default: 10_000, tuning: true, help: "wait between webhook attempts" }),
  webhookTimeout: option(duration("ms", { min: 1 }), { scope: "server", default: 10_000, tuning: true, help: "how long one webhook attempt may take" }),
  endpoints: option(programmatic<Record<string, unknown>[]>("a list of endpoint declarations, each an object with an id", isListOfObjects), {
    scope: "server", noFlag: true, defaultText: "one endpoint, described by the endpoint options", help: "several endpoints in one emulator: each entry is an id and endpoint options",
  }),
  clock: option(programmatic<Clock>("a clock (now, setTimeout, clearTimeout)", (v) => isObject(v) && isFunction((v as Clock).now)), {
    scope: "server", codeOnly: true, tuning: true, defaultText: "the system clock", help: "the time the queue, lifetimes and scaler see",
  }),

  // Endpoint
  handler: option(programmatic<string | HandlerFunction<any>>("a file path, \"mock\" or a function", (v) => (typeof v === "string" && v !== "") || isFunction(v)), {
    scope: "endpoint", defaultText: "found in the working folder", flag: false, help: "a .py file, a Node module, \"mock\", or (in code) a function",
  }),
  type: option(choice(["queue", "load-balancing"]), { scope: "endpoint", noFlag: true, default: "queue", help: "queue: a handler behind /run, /runsync…; load-balancing: your own HTTP server" }),
  command: option(text(), { scope: "endpoint", noFlag: true, defaultText: "none", help: "the command that starts a load-balancing worker's HTTP server (run by sh, with PORT set)" }),
  mock: option(boolean, { scope: "endpoint", default: false, help: "serve the built-in mock handler instead of a file" }),
  endpointId: option(text({ pattern: /^[A-Za-z0-9][A-Za-z0-9_-]*$/, expected: "letters, digits, - and _" }), { scope: "endpoint", default: "local", arg: "ID", help: "the {endpoint} of /v2/{endpoint}/…" }),
  python: option(text(), { scope: "endpoint", defaultText: "$VIRTUAL_ENV, ./.venv, python3, python", arg: "PATH", help: "the Python interpreter for .py handlers" }),
  sdk: option(choice(["auto", "bundled"]), { scope: "endpoint", default: "auto", help: "the runpod module of .py handlers: yours if installed (auto), or the bundled one" }),
  minWorkers: option(integer({ min: 0 }), { scope: "endpoint", default: 0, help: "workers always running (the hosted \"active\" workers)" }),
  maxWorkers: option(integer({ min: 1 }), { scope: "endpoint", default: 3, help: "most workers at once (the hosted \"max\" workers)" }),
  extraWorkers: option(integer({ min: 0 }), { scope: "endpoint", default: 0, help: "workers added beyond maxWorkers in a spike, once one has started (hosted default 2)" }),
  idleTimeout: option(duration("s"), { scope: "endpoint", default: 5, help: "how long a worker above the minimum may stay idle" }),
  scaler: option(choice(["queue-delay", "request-count"]), { scope: "endpoint", default: "queue-delay", help: "the hosted scaling strategy" }),
  queueDelay: option(duration("s"), { scope: "endpoint", default: 4, help: "how long a job may wait before queue-delay adds a worker" }),
  requestsPerWorker: option(integer({ min: 1 }), { scope: "endpoint", default: 1, help: "jobs per worker for the request-count scaler" }),
  executionTimeout: option(duration("s", { min: 5_000 }), { scope: "endpoint", default: 600, help: "how long a job may run, unless its policy says otherwise" }),
  requestTimeout: option(duration("s"), { scope: "endpoint", noFlag: true, default: 120, help: "how long a load-balancing request waits for a ready worker" }),
  processingTimeout: option(duration("s", { min: 1_000 }), { scope: "endpoint", noFlag: true, default: 330, help: "how long a load-balancing request may take, its answer included" }),
  lbPort: option(integer({ min: 0, max: 65535 }), {
    scope: "endpoint", noFlag: true, defaultText: "the emulator's port + 1, + 2, …", help: "the port of a load-balancing endpoint's own URL; 0 picks a free one",
  }),
  coldStart: option(duration("ms"), { scope: "endpoint", default: 0, help: "simulated container start before each new worker" }),
  flashboot: option(boolean, { scope: "endpoint", default: false, help: "shorter cold starts soon after a worker stopped" }),
  gpus: option(text({ pattern: /^(all|none|\d+(,\d+)*)$/, expected: "all, none or GPU indices such as 0,2" }), { scope: "endpoint", default: "all", arg: "all|none|0,2", help: "GPUs given to workers (CUDA_VISIBLE_DEVICES)" }),
  gpusPerWorker: option(integer({ min: 1 }), { scope: "endpoint", default: 1, help: "GPUs given to each worker" }),
  gpuType: option(list, { scope: "endpoint", defaultText: "any", arg: "TYPES", help: "GPU types workers may get, in order of preference: H100, or \"H100 80GB,A100\"" }),
  workerMemory: option(byteSize({ min: 1024 * 1024 }), { scope: "endpoint", defaultText: "no limit", help: "memory each worker may use, such as 24GB; over it, the worker is killed as a container out of memory" }),
  volume: option(text(), { scope: "endpoint", defaultText: "none", arg: "PATH", help: "a folder shared by the workers as their network volume, at /runpod-volume where the system allows" }),
  inspect: option(debugPort(INSPECT_PORT), {
    scope: "endpoint", defaultText: "off", help: "Node handlers: workers run with the inspector on 127.0.0.1:PORT (9229 without a value), one worker at a time",
  }),
  inspectWait: option(boolean, { scope: "endpoint", default: false, help: "Node handlers: --inspect, and the worker waits for the debugger before its first job (one worker)" }),
  debugpy: option(debugPort(DEBUGPY_PORT), {
    scope: "endpoint", defaultText: "off", help: "Python handlers: workers run under debugpy on 127.0.0.1:PORT (5678 without a value), one worker at a time",
  }),
  debugpyWait: option(boolean, { scope: "endpoint", default: false, help: "Python handlers: --debugpy, and the worker waits for the debugger before its first job (one worker)" }),
  watch: option(boolean, { scope: "endpoint", default: true, flag: "no-watch", negated: true, help: "reload workers when the handler's files change; --no-watch: don't" }),
  cwd: option(text(), { scope: "endpoint", codeOnly: true, inEntries: true, defaultText: "the process's", help: "the folder handlers run in" }),
  env: option(programmatic<NodeJS.ProcessEnv>("an object of environment variables", isObject), { scope: "endpoint", codeOnly: true, inEntries: true, defaultText: "the process's", help: "the environment workers start from" }),
  ttl: option(duration("ms", { min: 10_000 }), { scope: "endpoint", default: 86_400_000, tuning: true, help: "a job's TTL, unless its policy says otherwise" }),
  runRetention: option(duration("ms"), { scope: "endpoint", default: 30 * 60_000, tuning: true, help: "how long the API answers for a finished /run job" }),
  runsyncRetention: option(duration("ms"), { scope: "endpoint", default: 60_000, tuning: true, help: "how long the API answers for a finished /runsync job" }),
  stopGrace: option(duration("ms"), { scope: "endpoint", default: 5_000, tuning: true, help: "SIGTERM → SIGKILL grace when a worker is stopped" }),
  releaseGrace: option(duration("ms"), { scope: "endpoint", default: 5_000, tuning: true, help: "how long a worker may hold a cancelled job before it is killed" }),
  pingInterval: option(duration("ms", { min: 1_000 }), { scope: "endpoint", default: 10_000, tuning: true, help: "RUNPOD_PING_INTERVAL given to workers" }),
  pingTimeout: option(duration("ms"), { scope: "endpoint", defaultText: "3 ping intervals", tuning: true, help: "silence after which a worker is unhealthy (killed if it holds jobs); 0: never" }),
  reloadDebounce: option(duration("ms"), { scope: "endpoint", default: 150, tuning: true, help: "quiet time that gathers file changes into one reload" }),
};

type Options = typeof OPTIONS;
export type OptionKey = keyof Options;
type InputOf<R> = R extends { kind: Kind<infer In, unknown> } ? In : never;
type OutputOf<R> = R extends { kind: Kind<unknown, infer Out> } ? Out : never;

/**
 * What createEmulator() takes (and the config file, and the flags, under their kebab-case names). Every
 * option is in the README's option table, with its unit and default.
 */
export type EmulatorOptions = {
  [K in OptionKey as Options[K] extends { commandLineOnly: true } ? never : K extends "endpoints" ? never : K]?: InputOf<Options[K]>;
} & {
  /** Several endpoints in one emulator; the endpoint options above are the defaults of every entry. */
  endpoints?: EndpointDeclaration[];
};

/** The options that describe one endpoint. */
export type EndpointOptionKey = { [K in OptionKey]: Options[K] extends { scope: "endpoint" } ? K : never }[OptionKey];

/** One entry of `endpoints`: the endpoint's id and its own options (the others come from the top level). */
export type EndpointDeclaration = { id: string } & { [K in EndpointOptionKey]?: InputOf<Options[K]> };

/** The options after checking: every default filled in, durations in milliseconds, lists as arrays. */
export type Settings = { [K in OptionKey]: OutputOf<Options[K]> | (Options[K] extends { default: unknown } ? never : undefined) };

/** One row of the table, seen as any row. */
export const optionRow = (key: OptionKey): OptionRow => OPTIONS[key];

/** The table's rows, each with its key. */
export const optionRows = (): [OptionKey, OptionRow][] => Object.entries(OPTIONS) as [OptionKey, OptionRow][];

/** The flag of an option: its key in kebab-case unless the row names another; undefined for the handler argument and options without one. */
export function flagName(key: OptionKey): string | undefined {
  const { flag, noFlag } = optionRow(key);
  return flag === false || noFlag ? undefined : (flag ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
}

/** The environment variable of an option: EMULATOR_ and its key in upper snake case (EMULATOR_MAX_WORKERS). */
export const envName = (key: OptionKey): string => `EMULATOR_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
