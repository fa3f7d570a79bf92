import { readFileSync } from "node:fs";
import BetterSqlite3 from "better-sqlite3";
import { type Cli, startCli } from "../helpers/cli.js";
import { record } from "./figures.js";

/** An emulator run as the `emulator` command, as users run it: a crash is its process ending. */
export interface EmulatorProcess {
  cli: Cli;
  url: string;
  pid: number;
  /** Its peak resident memory so far (VmHWM), in MB. */
  peakRssMB(): number;
  /** Whether it still runs. */
  alive(): boolean;
  /** SIGTERM and its exit; counts a crash if it had ended by itself or does not exit cleanly. */
  stop(): Promise<void>;
  /** SIGKILL and its exit; counts a crash if it had ended by itself. */
  kill9(): Promise<void>;
}

/** Starts `emulator ARGS… --port 0 --log-format json`; resolves once it is ready. */
export async function startEmulatorProcess(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; command?: string } = {}): Promise<EmulatorProcess> {
  const cli = startCli([...args, "--port", "0", "--log-format", "json"], options);
  const ready = JSON.parse(await cli.line(/^\{"type":"ready"/, 30_000)) as { url: string };
  const pid = cli.child.pid as number;
  const alive = () => cli.child.exitCode === null && cli.child.signalCode === null;
  const peakRssMB = () => {
    try {
      const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmHWM:")) ?? "";
      return Math.round(Number(line.split(/\s+/)[1]) / 1024);
    } catch {
      return 0;
    }
  };
  const end = async (signal: NodeJS.Signals) => {
    if (!alive()) {
      record({ crashes: 1 });
      return;
    }
    const rss = peakRssMB();
    if (rss > 0) record({ peakRssMB: rss });
    cli.child.kill(signal);
    const code = await cli.exit(30_000);
    if (signal === "SIGTERM" && code !== 0) record({ crashes: 1 });
  };
  return { cli, url: ready.url, pid, peakRssMB, alive, stop: () => end("SIGTERM"), kill9: () => end("SIGKILL") };
}

/** One request; resolves with the status and the parsed body (undefined when not JSON), or null for a network error. */
export async function send(url: string, method = "GET", body?: unknown): Promise<{ status: number; body: any } | null> {
  try {
    const response = await fetch(url, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed };
  } catch {
    return null;
  }
}

/** The jobs of a database file, by id, read as another process reads it. */
export function jobsOnDisk(path: string): Map<string, { status: string; retries: number; lost: number; error: string | null }> {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    const rows = db.prepare("SELECT id, status, retries, lost, error FROM jobs").all() as { id: string; status: string; retries: number; lost: number; error: string | null }[];
    return new Map(rows.map((row) => [row.id, row]));
  } finally {
    db.close();
  }
}

/** How often each job id appears in a ledger file (one line per execution). */
export function executions(ledger: string): Map<string, number> {
  const counts = new Map<string, number>();
  let text = "";
  try {
    text = readFileSync(ledger, "utf8");
  } catch {
    return counts;
  }
  for (const id of text.split("\n").filter(Boolean)) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

/**
 * Accounts for every acknowledged job once the emulator is done with them: it must be in the database and
 * finished, COMPLETED — or FAILED only as a job lost twice (SPEC §3.4) — and it may have run once, plus
 * once more per documented requeue after a lost worker (`retries`). Records and returns the counts.
 */
export function account(acknowledged: Iterable<string>, database: string, ledger: string) {
  const jobs = jobsOnDisk(database);
  const runs = executions(ledger);
  let count = 0;
  let lost = 0;
  let runTwice = 0;
  let requeuedRuns = 0;
  const problems: string[] = [];
  for (const id of acknowledged) {
    count++;
    const job = jobs.get(id);
    const ran = runs.get(id) ?? 0;
    const finished = job?.status === "COMPLETED" || (job?.status === "FAILED" && job.error?.includes("lost twice"));
    if (!job || !finished) {
      lost++;
      problems.push(`${id}: ${job ? `${job.status} ${job.error ?? ""}` : "not in the database"}`);
      continue;
    }
    if (ran > 1 + job.retries) {
      runTwice += ran - 1 - job.retries;
      problems.push(`${id}: ran ${ran} times with ${job.retries} requeues`);
    }
    requeuedRuns += Math.max(0, Math.min(ran - 1, job.retries));
  }
  record({ acknowledged: count, lost, runTwice, requeuedRuns });
  return { acknowledged: count, lost, runTwice, requeuedRuns, problems };
}
