import { resolve } from "node:path";
import { isTerminal } from "../core/job.js";
import { RunningEmulator } from "../emulator.js";
import { userError } from "../errors.js";
import { resolveOptions } from "../options.js";
import { boolean, choice, integer, text } from "../options/option-kinds.js";
import { openDatabase } from "../store/database.js";
import { jobDetails } from "../store/history.js";
import { JobStore } from "../store/jobs.js";
import { readServerInfo } from "../store/server-info.js";
import type { JobStatus } from "../types.js";
import { type CommandSpec, readArguments, resolveCommandLine } from "./flags.js";
import { clientCall, followJob } from "./follow-job.js";
import { discoverHandler } from "./handler-discovery.js";
import { formatJob, formatJobList, readableError } from "./job-report.js";

const JOB_STATES = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"] as const satisfies readonly JobStatus[];

const JOBS: CommandSpec = {
  command: "emulator jobs",
  // The database, and what a replay needs to reach a running emulator or start the handler itself.
  options: ["db", "apiKey", "python"],
  flags: { status: choice(JOB_STATES), limit: integer({ min: 1 }), endpoint: text(), json: boolean },
};

const USAGE = `Usage: emulator jobs [--status S] [--limit N] [--endpoint EP] [--json]
       emulator jobs show ID [--json]
       emulator jobs replay ID [HANDLER]
       emulator jobs export ID > test_input.json
--status is one of ${JOB_STATES.join(", ")}; --limit defaults to 20.
Common: --db PATH (default .runpod-emulator/emulator.db), --api-key KEY (of a running emulator),
--python PATH (for a replay that starts a .py handler), --config FILE; also from EMULATOR_* variables
and emulator.config.json, as for emulator (see emulator --help).`;

/** `emulator jobs …`: the job history, read straight from the database, running emulator or not. */
export async function jobsCommand(argv: string[], env: NodeJS.ProcessEnv, cwd: string, print: (text: string) => void): Promise<number> {
  const args = readArguments(argv, JOBS);
  if (args.help) {
    print(USAGE);
    return 0;
  }
  const line = resolveCommandLine(args, env, cwd, JOBS);
  // On stderr: `emulator jobs export ID > test_input.json` must stay clean JSON.
  for (const warning of line.warnings) console.error(`warning: ${warning}`);
  const flags = line.flags as { status?: JobStatus; limit?: number; endpoint?: string; json?: boolean };
  const databasePath = resolve(cwd, line.settings.db);
  const [action, id, handler] = line.positionals;
  if (action !== undefined && !["show", "replay", "export"].includes(action)) throw userError("ERR_BAD_OPTION", `unknown jobs action "${action}"\n${USAGE}`);
  if (action !== undefined && !id) throw userError("ERR_BAD_OPTION", `emulator jobs ${action} needs a job id`);
  const db = openDatabase(databasePath);
  try {
    if (action === undefined) {
      const list = new JobStore(db).recent({ status: flags.status, endpointId: flags.endpoint, limit: flags.limit ?? 20 });
      print(flags.json ? JSON.stringify(list) : formatJobList(list, Date.now()));
      return 0;
    }
    const details = jobDetails(db, id, Date.now());
    if (!details) throw userError("ERR_JOB_NOT_FOUND", `no job "${id}" in ${databasePath}`);
    const { job } = details;
    if (action === "export") {
      print(JSON.stringify({ input: job.input }, null, 2));
      return 0;
    }
    if (action === "show") {
      print(flags.json ? JSON.stringify(details) : formatJob(details));
      return 0;
    }
    db.close();
    const context = { databasePath, cwd, env, handler, apiKey: line.settings.apiKey, python: line.settings.python, print };
    return await replay(job.input, job.policy, job.s3Config, context);
  } finally {
    if (db.open) db.close();
  }
}

interface ReplayContext {
  databasePath: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  handler: string | undefined;
  apiKey: string | undefined;
  python: string | undefined;
  print: (text: string) => void;
}

/** Queues the same input again on the current code and follows it to its end: exit 0 only on COMPLETED. */
async function replay(input: unknown, policy: unknown, s3Config: unknown, context: ReplayContext): Promise<number> {
  const running = readServerInfo(context.databasePath);
  let emulator: RunningEmulator | undefined;
  let url = running?.url;
  const apiKey = running ? (context.apiKey ?? running.apiKey) : undefined;
  if (!url) {
    const handler = context.handler ?? discoverHandler(context.cwd);
    if (!handler) throw userError("ERR_HANDLER_NOT_FOUND", "no emulator is running on this database and no handler was found; pass its path: emulator jobs replay ID HANDLER");
    const { databasePath: db, cwd, env, python } = context;
    emulator = await RunningEmulator.start(resolveOptions({ handler, python, db, cwd, env, port: 0, watch: false }));
    url = emulator.url;
  }
  try {
    const { id } = await clientCall<{ id: string }>(url, "POST", "/run", apiKey, { input, policy, ...(s3Config ? { s3Config } : {}) });
    context.print(`replaying as job ${id} on ${running ? `the emulator at ${url}` : "a fresh worker"}`);
    const final = await followJob(url, id, apiKey, (chunk) => context.print(`chunk ${JSON.stringify(chunk)}`));
    context.print(JSON.stringify(final, null, 2));
    if (final.error && isTerminal(final.status)) context.print(readableError(final.error).join("\n"));
    return final.status === "COMPLETED" ? 0 : 1;
  } finally {
    await emulator?.close();
  }
}
