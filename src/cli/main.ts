#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { Emulator } from "../emulator.js";
import { EmulatorError, userError } from "../errors.js";
import { defaults } from "../options.js";
import { packageRoot } from "../workers/runtimes/runtime.js";
import { describeConfig, helpText, parseCommandLine } from "./flags.js";
import { HANDLER_CANDIDATES, discoverHandler } from "./handler-discovery.js";
import { jobsCommand } from "./jobs-command.js";
import { Printer } from "./printer.js";
import { runCommand } from "./run-command.js";

const VERSION = (JSON.parse(readFileSync(`${packageRoot}package.json`, "utf8")) as { version: string }).version;

async function main(argv: string[]): Promise<number> {
  const cwd = process.cwd();
  const log = (text: string) => console.log(text);
  if (argv[0] === "jobs") return jobsCommand(argv.slice(1), process.env, cwd, log);
  if (argv[0] === "run") return runCommand(argv.slice(1), process.env, cwd, log);
  const line = parseCommandLine(argv, process.env, cwd);
  if (line.help) return print(helpText());
  if (line.version) return print(VERSION);
  if (line.printConfig) return print(describeConfig(line));

  const options = line.options;
  if (line.positionals.length > 1) throw userError("ERR_BAD_OPTION", `expected at most one handler, got: ${line.positionals.join(" ")}`);
  if (!options.mock) {
    options.handler = line.positionals[0] ?? discoverHandler(cwd);
    if (!options.handler) {
      throw userError("ERR_HANDLER_NOT_FOUND", `no handler found in ${cwd} (tried ${HANDLER_CANDIDATES.join(", ")}); pass its path, or --mock`);
    }
    if (!line.positionals[0]) console.log(`found handler ${options.handler}`);
  }

  const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
  const output = batchedLines(process.stdout);
  const printer = new Printer(output.write, color, line.logFormat);
  const emulator = await Emulator.start({ port: defaults.port, ...options, onEvent: printer.print });
  printBanner(emulator, options.mock ? "mock" : relative(cwd, resolve(cwd, String(options.handler))), VERSION);
  if ((options.host ?? defaults.host) !== defaults.host && !options.apiKey && !isLoopback(options.host ?? "")) {
    console.log(`warning: listening on ${options.host} without --api-key: anyone who can reach this address can run jobs`);
  }
  console.log(`ready: ${emulator.url}`);
  output.flush();

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        console.log(`${signal} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      console.log(`${signal}: stopping workers…`);
      void emulator.close().then(resolve);
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
  return 0;
}

function printBanner(emulator: Emulator, handler: string, version: string): void {
  const rows: [string, string][] = [
    ["handler", `${handler} — ${emulator.runtime.description}`],
    ["database", emulator.databasePath ? `${relative(process.cwd(), emulator.databasePath)} (kept across restarts)` : "in memory (--in-memory)"],
    ["gpus", emulator.gpus.length ? emulator.gpus.map((g) => `${g.index}: ${g.name} (${g.memory})`).join("; ") : "none (no nvidia-smi, or --gpus none)"],
  ];
  if (emulator.dotEnvKeys.length) rows.push(["env", `${emulator.dotEnvKeys.join(", ")} from .env; everything else from your environment`]);
  console.log(`RunPod Serverless emulator ${version}`);
  for (const [name, value] of rows) console.log(`  ${name.padEnd(9)} ${value}`);
}

/**
 * Lines written together once per turn of the event loop: one write for a burst of events, not one
 * each. Nothing is written before the first `flush()`, so start-up events follow the banner.
 */
function batchedLines(stream: NodeJS.WritableStream): { write: (line: string) => void; flush: () => void } {
  let pending: string[] = [];
  let started = false;
  const flush = () => {
    started = true;
    if (pending.length) stream.write(`${pending.join("\n")}\n`);
    pending = [];
  };
  return {
    write(line) {
      if (pending.length === 0 && started) setImmediate(flush);
      pending.push(line);
    },
    flush,
  };
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
