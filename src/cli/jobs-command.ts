import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { Emulator } from "../emulator.js";
import { userError } from "../errors.js";
import { isTerminal } from "../core/job.js";
import { openDatabase } from "../store/database.js";
import { JobStore } from "../store/jobs.js";
import { readServerInfo } from "../store/server-info.js";
import { jobDetails } from "../store/history.js";
import { describeParseError } from "./flags.js";
import { clientCall, followJob } from "./follow-job.js";
import { discoverHandler } from "./handler-discovery.js";
import { formatJob, formatJobList, readableError } from "./job-report.js";

const USAGE = `Usage: emulator jobs [--status S] [--limit N] [--endpoint EP] [--json]
       emulator jobs show ID [--json]
       emulator jobs replay ID [HANDLER]
       emulator jobs export ID > test_input.json
Common: --db PATH (default .runpod-emulator/emulator.db), --api-key KEY (of a running emulator)`;

/** `emulator jobs …`: the job history, read straight from the database, running emulator or not. */
export async function jobsCommand(argv: string[], env: NodeJS.ProcessEnv, cwd: string, print: (text: string) => void): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        db: { type: "string" }, status: { type: "string" }, limit: { type: "string" }, endpoint: { type: "string" },
        json: { type: "boolean" }, "api-key": { type: "string" }, help: { type: "boolean" },
      },
    });
  } catch (error) {
    throw userError("ERR_BAD_OPTION", `${describeParseError(error as Error)}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    print(USAGE);
    return 0;
  }
  const databasePath = resolve(cwd, values.db ?? env.EMULATOR_DB ?? ".runpod-emulator/emulator.db");
  const [action, id, handler] = positionals;
  const db = openDatabase(databasePath);
  const jobs = new JobStore(db);
  try {
    if (action === undefined) {
      const limit = Number(values.limit ?? 20);
      if (!Number.isInteger(limit) || limit < 1) throw userError("ERR_BAD_OPTION", `--limit must be a positive whole number, got "${values.limit}"`);
      const status = values.status?.toUpperCase();
      const list = jobs.recent({ status, endpointId: values.endpoint, limit });
      print(values.json ? JSON.stringify(list) : formatJobList(list, Date.now()));
      return 0;
    }
    if (!["show", "replay", "export"].includes(action)) throw userError("ERR_BAD_OPTION", `unknown jobs action "${action}"\n${USAGE}`);
    if (!id) throw userError("ERR_BAD_OPTION", `emulator jobs ${action} needs a job id`);
    const details = jobDetails(db, id, Date.now());
    if (!details) throw userError("ERR_JOB_NOT_FOUND", `no job "${id}" in ${databasePath}`);
    const { job } = details;
    if (action === "export") {
      print(JSON.stringify({ input: job.input }, null, 2));
      return 0;
    }
    if (action === "show") {
      print(values.json ? JSON.stringify(details) : formatJob(details));
      return 0;
    }
    db.close();
    return await replay(job.input, job.policy, job.s3Config, { databasePath, cwd, env, handler, apiKey: values["api-key"] ?? env.EMULATOR_API_KEY, print });
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
  print: (text: string) => void;
}

/** Queues the same input again on the current code and follows it to its end: exit 0 only on COMPLETED. */
async function replay(input: unknown, policy: unknown, s3Config: unknown, context: ReplayContext): Promise<number> {
  const running = readServerInfo(context.databasePath);
  let emulator: Emulator | undefined;
  let url = running?.url;
  const apiKey = running ? (context.apiKey ?? running.apiKey) : undefined;
  if (!url) {
    const handler = context.handler ?? discoverHandler(context.cwd);
    if (!handler) throw userError("ERR_HANDLER_NOT_FOUND", "no emulator is running on this database and no handler was found; pass its path: emulator jobs replay ID HANDLER");
    emulator = await Emulator.start({ handler, db: context.databasePath, cwd: context.cwd, env: context.env, port: 0, host: "127.0.0.1" });
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
