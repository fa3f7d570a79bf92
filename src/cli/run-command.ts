import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { userError } from "../errors.js";
import { text } from "../options/option-kinds.js";
import type { CommandOutput } from "./command-output.js";
import { type CommandSpec, readArguments, resolveCommandLine } from "./flags.js";
import { clientCall, followToEnd, statusDocument } from "./follow-job.js";
import { requireHandler } from "./handler-discovery.js";
import { Printer } from "./printer.js";
import { startOnHistory } from "./start-on-history.js";

const RUN: CommandSpec = {
  command: "emulator run",
  handlerArgument: true,
  flags: { input: text(), "input-file": text() },
  // One job and done: a free port and no file watching. The job is kept in the history (the default
  // database) unless --in-memory: a failed CI run is the first thing to reproduce.
  defaults: () => ({ port: 0, watch: false }),
};

const USAGE = `Usage: emulator run [HANDLER] [--input JSON | --input-file FILE] [options]

Runs one job through the whole path (worker start, protocol, limits) and exits 0 on COMPLETED, 1
otherwise. The job is --input, or --input-file, or ./test_input.json: {"input": …}, as the SDK's local
test mode reads it.

stdout is one JSON document: the job's status object, with "stream" (the chunks, in order) when the
handler streamed. Everything else goes to stderr: the workers' output, progress, chunks as they
arrive, and a failure's traceback. So: emulator run handler.py --input '{"input": {}}' | jq .output

The job is kept in the job history, the database of emulator (default .runpod-emulator/emulator.db),
so that emulator jobs show and replay reach it; --in-memory keeps nothing. Every option of emulator
applies (see emulator --help).`;

/**
 * `emulator run [HANDLER] [--input JSON | --input-file FILE]`: one job through the whole path, for CI.
 * The status object alone on `out`; the terminal's lines, chunks and failures on `err`. Exit 0 on
 * COMPLETED, 1 otherwise — like the SDK's `test_input.json` mode, generators included.
 */
export async function runCommand(argv: string[], env: NodeJS.ProcessEnv, cwd: string, output: CommandOutput): Promise<number> {
  const args = readArguments(argv, RUN);
  if (args.help) {
    output.out(USAGE);
    return 0;
  }
  const line = resolveCommandLine(args, env, cwd, RUN);
  for (const warning of line.warnings) output.err(`warning: ${warning}`);
  requireHandler(line, cwd);
  const body = readJobBody(line.flags.input as string | undefined, line.flags["input-file"] as string | undefined, cwd);
  const printer = new Printer(output.err, output.color ?? false, line.settings.logFormat);
  // Only the default database gives way to a running emulator: one named is meant.
  const emulator = await startOnHistory({ ...line.settings, cwd, env, onEvent: printer.print }, output, "this run's job", !line.sources.has("db"));
  try {
    // A handler that cannot start would leave the job queued for ever: give up after its first failure.
    const unhealthy = new Promise<never>((_, reject) =>
      emulator.on("worker", (event) => {
        if (event.state === "unhealthy") reject(userError("ERR_HANDLER_NOT_FOUND", "the handler's worker could not start; its output is above"));
      }),
    );
    unhealthy.catch(() => {});
    const apiKey = line.settings.apiKey;
    const { id } = await clientCall<{ id: string }>(emulator.url, "POST", "/run", apiKey, body);
    const { final, chunks } = await Promise.race([followToEnd(emulator.url, id, apiKey, output), unhealthy]);
    output.out(JSON.stringify(statusDocument(final, chunks), null, 2));
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
