import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Emulator } from "../emulator.js";
import { userError } from "../errors.js";
import { clientCall, followJob } from "./follow-job.js";
import { parseCommandLine } from "./flags.js";
import { HANDLER_CANDIDATES, discoverHandler } from "./handler-discovery.js";
import { readableError } from "./job-report.js";

/**
 * `emulator run [HANDLER] [--input JSON | --input-file FILE]`: one job through the whole path (worker
 * start, protocol, limits), stream chunks printed as they arrive, then the status object. Exit 0 on
 * COMPLETED, 1 otherwise — for CI, like the SDK's `test_input.json` mode, generators included.
 */
export async function runCommand(argv: string[], env: NodeJS.ProcessEnv, cwd: string, print: (text: string) => void): Promise<number> {
  const line = parseCommandLine(argv, env, cwd, { input: { type: "string" }, "input-file": { type: "string" } });
  const options = line.options;
  if (line.positionals.length > 1) throw userError("ERR_BAD_OPTION", `expected at most one handler, got: ${line.positionals.join(" ")}`);
  if (!options.mock) {
    options.handler = line.positionals[0] ?? discoverHandler(cwd);
    if (!options.handler) throw userError("ERR_HANDLER_NOT_FOUND", `no handler found in ${cwd} (tried ${HANDLER_CANDIDATES.join(", ")})`);
  }
  const body = readJobBody(line.extra.input as string | undefined, line.extra["input-file"] as string | undefined, cwd);
  const emulator = await Emulator.start({ inMemory: options.db === undefined, port: 0, ...options, watch: false });
  try {
    emulator.events.on((event) => {
      if (event.type === "log") print(`[${event.workerId}] ${event.message}`);
      if (event.type === "worker" && event.state === "unhealthy") print(`worker ${event.workerId} unhealthy: ${event.detail ?? ""}`);
    });
    // A handler that cannot start would leave the job queued for ever: give up after its first failure.
    const unhealthy = new Promise<never>((_, reject) =>
      emulator.events.on((event) => {
        if (event.type === "worker" && event.state === "unhealthy") reject(userError("ERR_HANDLER_NOT_FOUND", "the handler's worker could not start; see its output above"));
      }),
    );
    const { id } = await clientCall<{ id: string }>(emulator.url, "POST", "/run", options.apiKey, body);
    unhealthy.catch(() => {});
    const final = await Promise.race([followJob(emulator.url, id, options.apiKey, (chunk) => print(`chunk ${JSON.stringify(chunk)}`)), unhealthy]);
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
