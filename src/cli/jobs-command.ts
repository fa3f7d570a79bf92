import { existsSync } from "node:fs";
import { relative, resolve } from "node:path";
import type { Job } from "../core/job.js";
import { RunningEmulator } from "../emulator.js";
import { userError } from "../errors.js";
import { resolveOptions } from "../options.js";
import { boolean, choice, integer, text } from "../options/option-kinds.js";
import { type Database, openDatabase } from "../store/database.js";
import { jobDetails } from "../store/history.js";
import { JobStore } from "../store/jobs.js";
import { type ServerInfo, readServerInfo } from "../store/server-info.js";
import type { JobStatus } from "../types.js";
import type { CommandOutput } from "./command-output.js";
import { debuggerHint } from "./debugger-hint.js";
import { type CommandSpec, readArguments, resolveCommandLine } from "./flags.js";
import { clientCall, followToEnd, statusDocument } from "./follow-job.js";
import { discoverHandler } from "./handler-discovery.js";
import { formatJob, formatJobList, readableError } from "./job-report.js";
import { Printer } from "./printer.js";
import { startOnHistory } from "./start-on-history.js";

const JOB_STATES = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"] as const satisfies readonly JobStatus[];

const JOBS: CommandSpec = {
  command: "emulator jobs",
  // The database, and what a replay needs to reach a running emulator or start the handler itself.
  options: ["db", "apiKey", "python", "inspect", "debugpy"],
  flags: { status: choice(JOB_STATES), limit: integer({ min: 1 }), endpoint: text(), json: boolean },
};

const USAGE = `Usage: emulator jobs [--status S] [--limit N] [--endpoint EP] [--json]
       emulator jobs show ID [--json]
       emulator jobs replay ID [HANDLER] [--inspect[=PORT] | --debugpy[=PORT]]
       emulator jobs export ID > test_input.json
ID is a job id or its first characters, as the terminal prints them (3b435494…).
--status is one of ${JOB_STATES.join(", ")}; --limit defaults to 20.
replay queues the job's input again and follows it to its end (exit 0 on COMPLETED, 1 otherwise): on
the emulator running on this database, or else on a fresh one that runs HANDLER, by default the
handler file the job ran on. The status object goes to stdout, the rest to stderr. With --inspect (a
Node handler) or --debugpy (a Python one), the replay always runs on a fresh worker that waits for the
debugger on PORT (default 9229, 5678) before it takes the job: attach, set a breakpoint, and it stops.
Common: --db PATH (default .runpod-emulator/emulator.db), --api-key KEY (of a running emulator),
--python PATH (for a replay that starts a .py handler), --config FILE; also from EMULATOR_* variables
and emulator.config.json, as for emulator (see emulator --help).`;

/** `emulator jobs …`: the job history, read straight from the database, running emulator or not. */
export async function jobsCommand(argv: string[], env: NodeJS.ProcessEnv, cwd: string, output: CommandOutput): Promise<number> {
  const args = readArguments(argv, JOBS);
  if (args.help) {
    output.out(USAGE);
    return 0;
  }
  const line = resolveCommandLine(args, env, cwd, JOBS);
  // On stderr: `emulator jobs export ID > test_input.json` must stay clean JSON.
  for (const warning of line.warnings) output.err(`warning: ${warning}`);
  const flags = line.flags as { status?: JobStatus; limit?: number; endpoint?: string; json?: boolean };
  const databasePath = resolve(cwd, line.settings.db);
  const [action, id, handler] = line.positionals;
  if (action !== undefined && !["show", "replay", "export"].includes(action)) throw userError("ERR_BAD_OPTION", `unknown jobs action "${action}"\n${USAGE}`);
  if (action !== undefined && !id) throw userError("ERR_BAD_OPTION", `emulator jobs ${action} needs a job id`);
  // Reading the history must not create one where there is none.
  if (!existsSync(databasePath)) {
    throw userError("ERR_DATABASE", `no job history at ${databasePath}: no emulator has kept jobs there; run emulator in this folder first, or pass --db PATH`);
  }
  const db = openDatabase(databasePath);
  try {
    const store = new JobStore(db);
    if (action === undefined) {
      const filter = { status: flags.status, endpointId: flags.endpoint };
      const list = store.recent({ ...filter, limit: flags.limit ?? 20 });
      if (flags.json) return print(output, JSON.stringify(list));
      const total = store.countRecent(filter);
      const more = total > list.length ? `\n(the newest ${list.length} of ${total} jobs; --limit N shows more)` : "";
      return print(output, `${formatJobList(list, Date.now())}${more}`);
    }
    const job = findJob(store, id, databasePath);
    if (action === "export") return print(output, JSON.stringify({ input: job.input }, null, 2));
    if (action === "show") {
      const details = jobDetails(db, job.id, Date.now());
      return print(output, flags.json ? JSON.stringify(details) : formatJob(details!, cwd));
    }
    db.close();
    const { apiKey, python, inspect, debugpy } = line.settings;
    return await replay(job, { databasePath, cwd, env, handler, apiKey, python, debugger: { inspect, debugpy }, output });
  } finally {
    if (db.open) db.close();
  }
}

function print(output: CommandOutput, text: string): number {
  output.out(text);
  return 0;
}

/** The job a typed id names (a whole id, or its start as the terminal prints it); a user error otherwise. */
export function findJob(store: JobStore, typed: string, databasePath: string): Job {
  const found = store.lookup(typed);
  if (found.kind === "found") return found.job;
  if (found.kind === "none") throw userError("ERR_JOB_NOT_FOUND", `no job "${typed}" in ${databasePath}`);
  const more = found.total > found.ids.length ? `, and ${found.total - found.ids.length} more` : "";
  throw userError("ERR_JOB_NOT_FOUND", `"${found.prefix}" starts ${found.total} job ids; give more of the one you mean:\n  ${found.ids.join("\n  ")}${more}`);
}

interface ReplayContext {
  databasePath: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The handler the command line named, if any. */
  handler: string | undefined;
  apiKey: string | undefined;
  python: string | undefined;
  /** The debugger port the replay's worker waits on, if any. */
  debugger: { inspect?: number; debugpy?: number };
  output: CommandOutput;
}

/**
 * Queues the same input again and follows it to its end: exit 0 only on COMPLETED. It runs on the
 * emulator running on the database when there is one, else on a fresh one that runs the handler named,
 * or the file the job ran on, or the one found in the folder; it says which file and version ran.
 */
async function replay(original: Job, context: ReplayContext): Promise<number> {
  const { output, cwd } = context;
  // What the replay must run, when anything says: the handler named, else the file the job ran on.
  const wanted = context.handler === "mock" ? "mock" : context.handler ? resolve(cwd, context.handler) : original.handlerFile;
  const { inspect, debugpy } = context.debugger;
  const debugging = inspect !== undefined || debugpy !== undefined;
  // Under a debugger, the replay needs a worker of its own that waits for it: never the running emulator's.
  const running = debugging ? undefined : readServerInfo(context.databasePath);
  let emulator: RunningEmulator | undefined;
  let url: string;
  let apiKey = context.apiKey;
  if (running) {
    url = runningEndpoint(running, original, wanted, context.databasePath);
    apiKey ??= running.apiKey;
  } else {
    const printer = new Printer(output.err, output.color ?? false);
    const { databasePath: db, env, python } = context;
    const handler = replayHandler(original, wanted, cwd);
    const debug = { inspect, inspectWait: inspect !== undefined, debugpy, debugpyWait: debugpy !== undefined };
    const options = { handler, python, db, cwd, env, port: 0, watch: false, endpointId: original.endpointId, onEvent: printer.print, ...debug };
    emulator = await startOnHistory(resolveOptions(options), output, "the replay");
    url = emulator.url;
    const hint = debuggerHint(emulator.runtime);
    if (hint) output.err(`the replay's worker waits for the debugger: ${hint}`);
  }
  let followed: Awaited<ReturnType<typeof followToEnd>>;
  let id: string;
  try {
    ({ id } = await clientCall<{ id: string }>(url, "POST", "/run", apiKey, {
      input: original.input, policy: original.policy, ...(original.s3Config ? { s3Config: original.s3Config } : {}),
    }));
    output.err(`replaying job ${original.id} as job ${id} on ${running ? `the emulator at ${url}` : "a fresh worker"}`);
    followed = await followToEnd(url, id, apiKey, output);
  } finally {
    await emulator?.close();
  }
  const { final, chunks } = followed;
  output.out(JSON.stringify(statusDocument(final, chunks), null, 2));
  // A fresh emulator's printer showed the failure already; a running one's is in its own terminal.
  if (final.error && !emulator) output.err(readableError(final.error).join("\n"));
  const replayed = emulator?.databasePath === null ? undefined : readJob(context.databasePath, id);
  if (replayed) output.err(ranOn(replayed, original, cwd));
  return final.status === "COMPLETED" ? 0 : 1;
}

/** The handler a replay starts: the one wanted, else the one found in the folder. */
function replayHandler(original: Job, wanted: string | undefined, cwd: string): string {
  if (wanted === original.handlerFile && wanted !== undefined && !existsSync(wanted)) {
    throw userError("ERR_HANDLER_NOT_FOUND", `job ${original.id} ran on ${wanted}, which is gone; pass the handler to replay it on: emulator jobs replay ID HANDLER`);
  }
  const found = wanted ?? discoverHandler(cwd);
  if (!found) {
    throw userError("ERR_HANDLER_NOT_FOUND", "no emulator is running on this database and no handler is known for this job; pass its path: emulator jobs replay ID HANDLER");
  }
  return found;
}

/** The URL of the job's endpoint on the running emulator, which must run the handler the replay is for. */
function runningEndpoint(running: ServerInfo, original: Job, wanted: string | undefined, databasePath: string): string {
  if (!running.url) throw userError("ERR_UNREACHABLE", `the emulator on ${databasePath} (pid ${running.pid}) is still starting; try again once it is ready`);
  const serving = running.handlers?.[original.endpointId];
  if (wanted && serving && serving !== wanted) {
    throw userError(
      "ERR_HANDLER_NOT_FOUND",
      `the emulator running on this database (pid ${running.pid}, ${running.url}) serves ${serving}, not ${wanted}; stop it to replay on ${wanted}, or name the one it serves`,
    );
  }
  return `${running.url.slice(0, running.url.lastIndexOf("/"))}/${encodeURIComponent(original.endpointId)}`;
}

function readJob(databasePath: string, id: string): Job | undefined {
  let db: Database | undefined;
  try {
    db = openDatabase(databasePath);
    return new JobStore(db).get(id);
  } finally {
    db?.close();
  }
}

/** Which file and version a replay ran, beside the original's. */
function ranOn(replayed: Job, original: Job, cwd: string): string {
  const file = replayed.handlerFile ? relative(cwd, replayed.handlerFile) || replayed.handlerFile : "the endpoint's handler";
  const version = replayed.handlerVersion ? `version ${replayed.handlerVersion}` : "no version";
  const before = original.handlerVersion === replayed.handlerVersion ? "the version the job ran on" : `the job ran on version ${original.handlerVersion ?? "unknown"}`;
  return `ran ${file}, ${version} (${before})`;
}
