import { existsSync } from "node:fs";
import { resolve } from "node:path";
import WebSocket from "ws";
import type { EmulatorEvent } from "../core/events.js";
import { userError } from "../errors.js";
import { boolean, duration, text } from "../options/option-kinds.js";
import { openDatabase } from "../store/database.js";
import { JobStore } from "../store/jobs.js";
import { type LogFilter, type LogLine, LogStore } from "../store/logs.js";
import { type ServerInfo, readServerInfo } from "../store/server-info.js";
import type { CommandOutput } from "./command-output.js";
import { type CommandSpec, readArguments, resolveCommandLine } from "./flags.js";
import { findJob } from "./jobs-command.js";
import { Printer } from "./printer.js";

type LogEvent = Extract<EmulatorEvent, { type: "log" }>;

const LOGS: CommandSpec = {
  command: "emulator logs",
  options: ["db", "apiKey"],
  flags: { follow: boolean, job: text(), worker: text(), since: duration("s"), endpoint: text() },
};

const USAGE = `Usage: emulator logs [--follow] [--job ID] [--worker ID] [--since 10m] [--endpoint ID]

Prints the workers' output kept in the job history, each line with its time, worker and job, as the
emulator's terminal shows it. --job takes a job id or its first characters; --since a duration (10m,
2h; a number alone is in seconds). With --follow, it goes on with the lines of the emulator running on
the database, as they come, until Ctrl-C or until that emulator stops.
Common: --db PATH (default .runpod-emulator/emulator.db), --api-key KEY (of a running emulator),
--config FILE; also from EMULATOR_* variables and emulator.config.json.`;


/** `emulator logs`: the workers' lines from the database, then, with --follow, from the running emulator's feed. */
export async function logsCommand(argv: string[], env: NodeJS.ProcessEnv, cwd: string, output: CommandOutput): Promise<number> {
  const args = readArguments(argv, LOGS);
  if (args.help) {
    output.out(USAGE);
    return 0;
  }
  const line = resolveCommandLine(args, env, cwd, LOGS);
  for (const warning of line.warnings) output.err(`warning: ${warning}`);
  if (args.positionals.length > 0) throw userError("ERR_BAD_OPTION", `emulator logs takes no arguments, got: ${args.positionals.join(" ")}\n${USAGE}`);
  const flags = line.flags as { follow?: boolean; job?: string; worker?: string; since?: number; endpoint?: string };
  const databasePath = resolve(cwd, line.settings.db);
  if (!existsSync(databasePath)) {
    throw userError("ERR_DATABASE", `no job history at ${databasePath}: no emulator has kept logs there; run emulator in this folder first, or pass --db PATH`);
  }
  const printer = new Printer(output.out, output.color ?? false);
  const show = (l: LogLine) => printer.print({ type: "log", endpointId: l.endpointId ?? "", time: l.at, jobId: l.jobId, workerId: l.workerId, stream: l.stream, level: l.level, message: l.message });

  const db = openDatabase(databasePath);
  let live: Feed | undefined;
  try {
    const filter: LogFilter = { workerId: flags.worker, endpointId: flags.endpoint, since: flags.since === undefined ? undefined : Date.now() - flags.since };
    if (flags.job !== undefined) filter.jobId = findJob(new JobStore(db), flags.job, databasePath).id;
    const running = flags.follow ? readServerInfo(databasePath) : undefined;
    // Subscribed before the history is read, so that no line falls between the two.
    if (running) live = await Feed.open(running, line.settings.apiKey ?? running.apiKey, flags.endpoint);
    const logs = new LogStore(db);
    let last: (LogLine & { id: number }) | undefined;
    // The lines of the last stored moment: a live line of that moment may be one of them.
    let printedAtLast = new Set<string>();
    for (let page = logs.matching(filter); page.length > 0; page = logs.matching(filter, last?.id)) {
      for (const stored of page) {
        if (stored.at !== last?.at) printedAtLast = new Set();
        printedAtLast.add(lineKey(stored));
        show(stored);
        last = stored;
      }
    }
    if (!flags.follow) return 0;
    if (!live) {
      output.err(`note: no emulator is running on ${databasePath}; nothing more will come`);
      return 0;
    }
    // Lines of the moments before the last stored line's were printed already.
    const printedUpTo = last?.at ?? Number.NEGATIVE_INFINITY;
    db.close();
    const matches = (event: LogEvent) =>
      (filter.jobId === undefined || event.jobId === filter.jobId) && (filter.workerId === undefined || event.workerId === filter.workerId);
    await live.follow((event) => {
      if (!matches(event) || event.time < printedUpTo || (event.time === printedUpTo && printedAtLast.has(lineKey({ ...event, at: event.time })))) return;
      printer.print(event);
    });
    output.err("the emulator stopped");
    return 0;
  } finally {
    live?.close();
    if (db.open) db.close();
  }
}

const lineKey = (l: Pick<LogLine, "workerId" | "message" | "at">) => `${l.at}\n${l.workerId}\n${l.message}`;

/** The log events of a running emulator's endpoints, through its WebSocket feed (SPEC §6). */
class Feed {
  private buffered: LogEvent[] = [];
  private onEvent: ((event: LogEvent) => void) | undefined;

  private constructor(private readonly sockets: WebSocket[]) {
    sockets.forEach((ws) => ws.on("message", (data) => this.receive(data)));
  }

  /** Connects to every endpoint's feed (or the one named) and resolves once all are open. */
  static async open(running: ServerInfo, apiKey: string | undefined, endpointId: string | undefined): Promise<Feed> {
    const url = running.url as string;
    const endpoints = endpointId !== undefined ? [endpointId] : (running.endpoints ?? [url.slice(url.lastIndexOf("/") + 1)]);
    const base = url.slice(0, url.lastIndexOf("/")).replace(/^http/, "ws");
    const headers = apiKey ? { Authorization: `Bearer ${apiKey}` } : undefined;
    const sockets = endpoints.map((id) => new WebSocket(`${base}/${encodeURIComponent(id)}/ws`, { headers }));
    const feed = new Feed(sockets);
    try {
      await Promise.all(sockets.map((ws, index) => opened(ws, `${base}/${endpoints[index]}/ws`)));
    } catch (error) {
      feed.close();
      throw error;
    }
    return feed;
  }

  /** Hands every log event to `onEvent`, those received so far first; resolves when the emulator closes the feed. */
  follow(onEvent: (event: LogEvent) => void): Promise<void> {
    this.onEvent = onEvent;
    for (const event of this.buffered.splice(0)) onEvent(event);
    return new Promise((resolve) => {
      let open = this.sockets.length;
      for (const ws of this.sockets) ws.once("close", () => --open === 0 && resolve());
    });
  }

  close(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  private receive(data: WebSocket.RawData): void {
    let event: LogEvent;
    try {
      event = JSON.parse(String(data)) as LogEvent;
    } catch {
      return;
    }
    if (event.type !== "log") return;
    if (this.onEvent) this.onEvent(event);
    else this.buffered.push(event);
  }
}

function opened(ws: WebSocket, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_request, response) => reject(userError("ERR_REQUEST_FAILED", `the emulator refused its feed ${url} (${response.statusCode}); pass --api-key if it has one`)));
    ws.once("error", (error) => reject(userError("ERR_UNREACHABLE", `cannot reach the emulator's feed ${url}: ${error.message}`, { cause: error })));
    // After the first failure, further errors (a reset while closing) are expected.
    ws.on("error", () => {});
  });
}
