import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { RunningEmulator } from "../emulator.js";
import { userError } from "../errors.js";
import { text } from "../options/option-kinds.js";
import { clientCall, followJob } from "./follow-job.js";
import { type CommandSpec, readArguments, resolveCommandLine } from "./flags.js";
import { requireHandler } from "./handler-discovery.js";
import { readableError } from "./job-report.js";

const RUN: CommandSpec = {
  command: "emulator run",
  handlerArgument: true,
  flags: { input: text(), "input-file": text() },
  // One job and done: a free port, no file watching, and jobs in memory unless a database is named.
  defaults: (given) => ({ port: 0, watch: false, inMemory: given.db === undefined }),
};

const USAGE = `Usage: emulator run [HANDLER] [--input JSON | --input-file FILE] [options]

Runs one job through the whole path (worker start, protocol, limits), prints stream chunks as they
arrive and then the job's status object; exits 0 on COMPLETED, 1 otherwise. The job is --input, or
--input-file, or ./test_input.json: {"input": …}, as the SDK's local test mode reads it. Every option
of emulator applies (see emulator --help); by default the job is kept in memory.`;

/**
 * `emulator run [HANDLER] [--input JSON | --input-file FILE]`: one job through the whole path (worker
 * start, protocol, limits), stream chunks printed as they arrive, then the status object. Exit 0 on
 * COMPLETED, 1 otherwise — for CI, like the SDK's `test_input.json` mode, generators included.
 */
export async function runCommand(argv: string[], env: NodeJS.ProcessEnv, cwd: string, print: (text: string) => void): Promise<number> {
  const args = readArguments(argv, RUN);
  if (args.help) {
    print(USAGE);
    return 0;
  }
  const line = resolveCommandLine(args, env, cwd, RUN);
  // On stderr: stdout carries the job's chunks and status object.
  for (const warning of line.warnings) console.error(`warning: ${warning}`);
  requireHandler(line, cwd);
  const body = readJobBody(line.flags.input as string | undefined, line.flags["input-file"] as string | undefined, cwd);
  const emulator = await RunningEmulator.start(line.settings);
  try {
    emulator.on("log", (event) => print(`[${event.workerId}] ${event.message}`));
    // A handler that cannot start would leave the job queued for ever: give up after its first failure.
    const unhealthy = new Promise<never>((_, reject) =>
      emulator.on("worker", (event) => {
        if (event.state !== "unhealthy") return;
        print(`worker ${event.workerId} unhealthy: ${event.detail ?? ""}`);
        reject(userError("ERR_HANDLER_NOT_FOUND", "the handler's worker could not start; see its output above"));
      }),
    );
    const apiKey = line.settings.apiKey;
    const { id } = await clientCall<{ id: string }>(emulator.url, "POST", "/run", apiKey, body);
    unhealthy.catch(() => {});
    const final = await Promise.race([followJob(emulator.url, id, apiKey, (chunk) => print(`chunk ${JSON.stringify(chunk)}`)), unhealthy]);
    print(JSON.stringify(final, null, 2));
    if (final.error) print(readableError(final.error).join("\n"));
    return final.status === "COMPLETED" ? 0 : 1;
  } finally {
    await emulator.close();
  }
}

/** The job body: `--input`, else `--input-file`, else ./test_input.json; `{"input": …}` as the SDK's file. */
function readJobBody(inline: string | undefined, file: string | undefined, cwd: string): Record<string, unknown> {
  let text = inline;
  let source = "--input";
  if (text === undefined) {
    const path = resolve(cwd, file ?? "test_input.json");
    source = file ?? "test_input.json";
    if (!existsSync(path)) throw userError("ERR_BAD_OPTION", `no input: pass --input '{"input": {...}}' or --input-file FILE (${source} not found)`);
    text = readFileSync(path, "utf8");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw userError("ERR_BAD_OPTION", `${source} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body) || !("input" in body)) {
    throw userError("ERR_BAD_OPTION", `${source} must be a JSON object with an "input" key, like test_input.json`);
  }
  return body as Record<string, unknown>;
}
