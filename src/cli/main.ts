#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import type { EmulatorEvent } from "../core/events.js";
import { RunningEmulator } from "../emulator.js";
import { EmulatorError } from "../errors.js";
import { optionHelp } from "../options/option-docs.js";
import { boolean } from "../options/option-kinds.js";
import { MOUNT_POINT } from "../workers/network-volume.js";
import { findPython, probePython } from "../workers/runtimes/python.js";
import { packageRoot } from "../workers/runtimes/runtime.js";
import type { CommandOutput } from "./command-output.js";
import { debuggerHint } from "./debugger-hint.js";
import { type CommandSpec, describeConfig, readArguments, resolveCommandLine } from "./flags.js";
import { findHandler, requireHandler } from "./handler-discovery.js";
import { jobsCommand } from "./jobs-command.js";
import { logsCommand } from "./logs-command.js";
import { startingParents, whenOrphaned } from "./orphan-watch.js";
import { Printer } from "./printer.js";
import { runCommand } from "./run-command.js";
import { shellCommand } from "./shell-command.js";

const VERSION = (JSON.parse(readFileSync(`${packageRoot}package.json`, "utf8")) as { version: string }).version;

const SERVE: CommandSpec = { command: "emulator", handlerArgument: true, flags: { version: boolean, "print-config": boolean } };

async function main(argv: string[]): Promise<number> {
  const parents = startingParents();
  const cwd = process.cwd();
  const output: CommandOutput = {
    out: (text) => console.log(text),
    err: (text) => console.error(text),
    color: process.stderr.isTTY === true && !process.env.NO_COLOR,
  };
  if (argv[0] === "jobs") return jobsCommand(argv.slice(1), process.env, cwd, output);
  if (argv[0] === "run") return runCommand(argv.slice(1), process.env, cwd, output);
  if (argv[0] === "shell") return shellCommand(argv.slice(1), process.env, cwd, output);
  if (argv[0] === "logs") return logsCommand(argv.slice(1), process.env, cwd, output);
  const args = readArguments(argv, SERVE);
  if (args.help) return print(helpText());
  if (args.values.version) return print(VERSION);
  const line = resolveCommandLine(args, process.env, cwd, SERVE);
  for (const warning of line.warnings) console.error(`warning: ${warning}`);
  // Endpoints declared in the config file name their own handlers or commands: nothing to look for.
  const declared = line.settings.endpoints !== undefined || line.settings.type === "load-balancing";
  if (line.flags["print-config"]) {
    if (!declared) findHandler(line, cwd);
    return print(describeConfig(line, cwd, { python: await describeInterpreter(line.settings.python, cwd) }));
  }
  const { settings } = line;
  // With --log-format json, stdout carries only JSON: the lines for people go to stderr.
  const json = settings.logFormat === "json";
  const say = json ? output.err : output.out;
  const found = declared ? undefined : requireHandler(line, cwd, "; pass its path, or --mock");
  if (found) say(`found handler ${found}`);

  const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
  const lines = batchedLines(process.stdout);
  // With several endpoints, each terminal line names its endpoint after the time (JSON events carry it already).
  const several = (settings.endpoints?.length ?? 1) > 1 && settings.logFormat === "pretty";
  let current = "";
  const printer = new Printer((text) => lines.write(several ? text.replace(/^(\S+) /, `$1 [${current}] `) : text), color, settings.logFormat);
  const onEvent = (event: EmulatorEvent) => {
    current = event.endpointId;
    printer.print(event);
  };
  const emulator = await RunningEmulator.start({ ...settings, onEvent });
  const handler = settings.mock ? "mock" : relative(cwd, resolve(cwd, String(settings.handler)));
  printBanner(say, emulator, handler, VERSION);
  if (!isLoopback(settings.host) && !settings.apiKey) {
    say(`warning: listening on ${settings.host} without --api-key: anyone who can reach this address can run jobs`);
  }
  if (json) lines.write(JSON.stringify({ type: "ready", time: Date.now(), url: emulator.url, handler, database: emulator.databasePath }));
  else say(`ready: ${emulator.url}`);
  lines.flush();

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (reason: string) => {
      lines.flush();
      if (stopping) {
        say(`${reason} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      say(`${reason}: stopping workers…`);
      void emulator.close().then(resolve);
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
    whenOrphaned(parents, () => stop("the process that started the emulator exited"));
  });
  lines.flush();
  return 0;
}

/** The text of `emulator --help`: the options come from the options table. */
function helpText(): string {
  return `Usage: emulator [HANDLER] [options]
       emulator run [HANDLER] [--input JSON | --input-file FILE] [options]   (see emulator run --help)
       emulator jobs [show|replay|export ID]   (see emulator jobs --help)
       emulator shell [WORKER] [-- COMMAND…]   (see emulator shell --help)
       emulator logs [--follow] [--job ID] [--worker ID] [--since 10m]   (see emulator logs --help)

Runs a RunPod Serverless handler (handler.py, or a Node module) behind a local copy of the hosted
queue API at http://HOST:PORT/v2/ENDPOINT_ID. Without HANDLER, looks for handler.py, src/handler.py,
rp_handler.py, src/rp_handler.py, handler.{ts,js,mjs} and src/handler.{ts,js,mjs}.

${optionHelp()}

Other options:
  --config FILE                  a JSON config file (default ./emulator.config.json when present)
  --print-config                 print every option, its value and where it came from, then exit
  --version                      print the version
  --help, -h                     print this help

Every option is also read from EMULATOR_<KEY> (EMULATOR_MAX_WORKERS=2, EMULATOR_WATCH=false) and from
the config file under its createEmulator() name ({"maxWorkers": 2}); flags win over variables, which win
over the file. SECONDS and MS take a number in that unit, or a duration with its own: 500ms, 30s, 10m, 1h.`;
}

function printBanner(say: (text: string) => void, emulator: RunningEmulator, handler: string, version: string): void {
  const endpoints = [...emulator.running.values()];
  const single = endpoints.length === 1 && endpoints[0]?.type === "queue" && endpoints[0].settings.endpoints === undefined;
  const rows: [string, string][] = single
    ? [["handler", `${handler} — ${emulator.runtime.description}`]]
    : endpoints.map((entry) => {
        const what =
          entry.type === "queue"
            ? `queue ${entry.url} — ${entry.settings.mock ? "mock" : typeof entry.settings.handler === "string" ? relative(process.cwd(), resolve(entry.settings.cwd ?? process.cwd(), entry.settings.handler)) : "function"}: ${entry.runtime.description}`
            : `load-balancing ${entry.url} (also ${entry.hostUrl}) — ${entry.runtime.description}`;
        return [entry.id, what];
      });
  rows.push(
    ["console", `${emulator.consoleUrl} (workers and jobs, live, in a browser)`],
    ["database", emulator.databasePath ? `${relative(process.cwd(), emulator.databasePath)} (kept across restarts)` : "in memory (--in-memory)"],
    ["gpus", emulator.gpus.length ? emulator.gpus.map((g) => `${g.index}: ${g.name} (${g.memory})`).join("; ") : "none (no nvidia-smi, or --gpus none)"],
  );
  for (const volume of emulator.volumes.values()) {
    const where = volume.mounted ? `at ${MOUNT_POINT} in every worker (a mount namespace of its own each)` : `not at ${MOUNT_POINT} on this system (${volume.unavailable})`;
    rows.push(["volume", `${relative(process.cwd(), volume.path) || "."}: ${where}; RUNPOD_VOLUME_PATH says where a worker finds it`]);
  }
  for (const entry of endpoints) {
    const hint = debuggerHint(entry.runtime);
    if (hint) rows.push(["debugger", single ? hint : `${entry.id}: ${hint}`]);
  }
  if (emulator.dotEnvKeys.length) rows.push(["env", `${emulator.dotEnvKeys.join(", ")} from .env; everything else from your environment`]);
  say(`RunPod Serverless emulator ${version}`);
  for (const [name, value] of rows) say(`  ${name.padEnd(9)} ${value}`);
}

/** How long terminal lines may wait to be written together: unnoticeable to a reader, a few jobs' worth when busy. */
const LINES_WAIT_MS = 10;

/**
 * Lines written together at most every LINES_WAIT_MS: one write for a burst of events, not one per job
 * (each write wakes whoever reads the terminal, on the cores the jobs need). Nothing is written before
 * the first `flush()`, so start-up events follow the banner.
 */
function batchedLines(stream: NodeJS.WritableStream): { write: (line: string) => void; flush: () => void } {
  let pending: string[] = [];
  let started = false;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    started = true;
    clearTimeout(timer);
    timer = undefined;
    if (pending.length) stream.write(`${pending.join("\n")}\n`);
    pending = [];
  };
  return {
    write(line) {
      if (pending.length === 0 && started) timer = setTimeout(flush, LINES_WAIT_MS);
      pending.push(line);
    },
    flush,
  };
}

/** The interpreter .py handlers would run on, as --print-config shows it: its path, version and SDK. */
async function describeInterpreter(python: string | undefined, cwd: string): Promise<string> {
  try {
    const probe = await probePython(findPython(python, cwd, process.env), cwd, process.env);
    return `${probe.executable} (Python ${probe.version}, ${probe.runpod ? `runpod ${probe.runpod}` : "no runpod: the bundled module"})`;
  } catch (error) {
    return error instanceof EmulatorError ? error.message : String(error);
  }
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

function print(text: string): number {
  console.log(text);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof EmulatorError && error.userError) console.error(`error: ${error.message}`);
    else console.error(`internal error, please report it:\n${(error as Error)?.stack ?? error}`);
    process.exit(1);
  },
);
