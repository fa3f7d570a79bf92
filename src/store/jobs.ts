import type { Job, JobKind } from "../core/job.js";
import type { JobStatus } from "../types.js";
import type { Database } from "./database.js";

interface JobRow {
  id: string;
  endpoint_id: string;
  kind: JobKind;
  status: JobStatus;
  input: string;
  output: string | null;
  error: string | null;
  policy: string;
  webhook: string | null;
  s3_config: string | null;
  created_at: number;
  taken_at: number | null;
  finished_at: number | null;
  delay_ms: number | null;
  execution_ms: number | null;
  worker_id: string | null;
  retries: number;
  lost: number;
  handler_version: string | null;
  handler_file: string | null;
  expires_at: number;
  stream_count: number;
  stream_cursor: number;
}

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));
const parsed = (text: string | null): unknown => (text === null ? undefined : JSON.parse(text));
const orUndefined = <T>(value: T | null): T | undefined => (value === null ? undefined : value);

function fromRow(row: JobRow): Job {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    kind: row.kind,
    status: row.status,
    input: JSON.parse(row.input),
    output: parsed(row.output),
    error: orUndefined(row.error),
    policy: JSON.parse(row.policy),
    webhook: orUndefined(row.webhook),
    s3Config: parsed(row.s3_config) as Record<string, unknown> | undefined,
    createdAt: row.created_at,
    takenAt: orUndefined(row.taken_at),
    finishedAt: orUndefined(row.finished_at),
    delayTime: orUndefined(row.delay_ms),
    executionTime: orUndefined(row.execution_ms),
    workerId: orUndefined(row.worker_id),
    retries: row.retries,
    lost: row.lost,
    handlerVersion: orUndefined(row.handler_version),
    handlerFile: orUndefined(row.handler_file),
    expiresAt: row.expires_at,
    streamCount: row.stream_count,
    streamCursor: row.stream_cursor,
  };
}

function mutableColumns(job: Job) {
  return {
    id: job.id,
    status: job.status,
    output: json(job.output),
    error: job.error ?? null,
    taken_at: job.takenAt ?? null,
    finished_at: job.finishedAt ?? null,
    delay_ms: job.delayTime ?? null,
    execution_ms: job.executionTime ?? null,
    worker_id: job.workerId ?? null,
    retries: job.retries,
    lost: job.lost,
    handler_version: job.handlerVersion ?? null,
    handler_file: job.handlerFile ?? null,
    expires_at: job.expiresAt,
  };
}

/** How many of the jobs an ambiguous id prefix matches are named. */
const LOOKUP_CANDIDATES = 10;

/** What a job id typed by a person names: one job, several (the prefix is too short), or none. */
export type JobLookup =
  | { kind: "found"; job: Job }
  | { kind: "ambiguous"; prefix: string; ids: string[]; total: number }
  | { kind: "none"; prefix: string };

/** The jobs table and its stream chunks: the only place that knows their SQL. */
export class JobStore {
  private readonly insertJob;
  private readonly updateJob;
  private readonly selectJob;
  private readonly selectByStatus;
  private readonly deleteJob;
  private readonly insertChunk;
  private readonly selectChunks;
  private readonly updateCursor;
  private readonly countByStatus;
  private readonly selectRecent;
  private readonly countMatching;
  private readonly selectIdRange;
  private readonly countIdRange;
  private readonly selectCutoff;
  private readonly pruneOld;
  private readonly selectCounter;
  private readonly addCounter;

  constructor(private readonly db: Database) {
    this.insertJob = db.prepare(`INSERT INTO jobs (id, endpoint_id, kind, status, input, output, error, policy,
      webhook, s3_config, created_at, taken_at, finished_at, delay_ms, execution_ms, worker_id, retries, lost,
      handler_version, handler_file, expires_at, stream_count, stream_cursor) VALUES (@id, @endpoint_id, @kind,
      @status, @input, @output, @error, @policy, @webhook, @s3_config, @created_at, @taken_at, @finished_at,
      @delay_ms, @execution_ms, @worker_id, @retries, @lost, @handler_version, @handler_file, @expires_at,
      @stream_count, @stream_cursor)`);
    this.updateJob = db.prepare(`UPDATE jobs SET status = @status, output = @output, error = @error,
      taken_at = @taken_at, finished_at = @finished_at, delay_ms = @delay_ms, execution_ms = @execution_ms,
      worker_id = @worker_id, retries = @retries, lost = @lost, handler_version = @handler_version,
      handler_file = @handler_file, expires_at = @expires_at WHERE id = @id`);
    this.selectJob = db.prepare<[string], JobRow>("SELECT * FROM jobs WHERE id = ?");
    this.selectByStatus = db.prepare<[string, string], JobRow>(
      "SELECT * FROM jobs WHERE endpoint_id = ? AND status = ? ORDER BY seq",
    );
    this.deleteJob = db.prepare("DELETE FROM jobs WHERE id = ?");
    this.insertChunk = db.prepare("INSERT INTO stream_chunks (job_id, seq, output, at) VALUES (?, ?, ?, ?)");
    this.selectChunks = db.prepare<[string, number, number], { output: string }>(
      "SELECT output FROM stream_chunks WHERE job_id = ? AND seq >= ? AND seq < ? ORDER BY seq",
    );
    this.updateCursor = db.prepare("UPDATE jobs SET stream_count = ?, stream_cursor = ? WHERE id = ?");
    this.countByStatus = db.prepare<[string], { status: JobStatus; n: number }>(
      "SELECT status, count(*) AS n FROM jobs WHERE endpoint_id = ? GROUP BY status",
    );
    this.selectRecent = db.prepare<{ endpoint: string | null; status: string | null; limit: number }, JobRow>(
      `SELECT * FROM jobs WHERE (@endpoint IS NULL OR endpoint_id = @endpoint) AND (@status IS NULL OR status = @status)
       ORDER BY seq DESC LIMIT @limit`,
    );
    this.countMatching = db.prepare<{ endpoint: string | null; status: string | null }, { n: number }>(
      "SELECT count(*) AS n FROM jobs WHERE (@endpoint IS NULL OR endpoint_id = @endpoint) AND (@status IS NULL OR status = @status)",
    );
    // A range over the id index rather than LIKE, whose % and _ a typed id could contain.
    this.selectIdRange = db.prepare<{ from: string; to: string; limit: number }, { id: string }>(
      "SELECT id FROM jobs WHERE id >= @from AND id < @to ORDER BY seq DESC LIMIT @limit",
    );
    this.countIdRange = db.prepare<{ from: string; to: string }, { n: number }>("SELECT count(*) AS n FROM jobs WHERE id >= @from AND id < @to");
    this.selectCutoff = db.prepare<[number], { seq: number }>("SELECT seq FROM jobs ORDER BY seq DESC LIMIT 1 OFFSET ?");
    const old = "SELECT id FROM jobs WHERE seq <= @cutoff AND status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'TIMED_OUT')";
    this.pruneOld = [
      db.prepare(`DELETE FROM stream_chunks WHERE job_id IN (${old})`),
      db.prepare(`DELETE FROM job_logs WHERE job_id IN (${old})`),
      db.prepare(`DELETE FROM webhook_deliveries WHERE job_id IN (${old})`),
      db.prepare(old.replace("SELECT id", "DELETE")),
    ];
    this.selectCounter = db.prepare<[string, string], { value: number }>(
      "SELECT value FROM counters WHERE endpoint_id = ? AND name = ?",
    );
    this.addCounter = db.prepare(`INSERT INTO counters (endpoint_id, name, value) VALUES (?, ?, ?)
      ON CONFLICT (endpoint_id, name) DO UPDATE SET value = value + excluded.value`);
  }

  insert(job: Job): void {
    this.insertJob.run({
      ...mutableColumns(job),
      endpoint_id: job.endpointId,
      kind: job.kind,
      input: JSON.stringify(job.input),
      policy: JSON.stringify(job.policy),
      webhook: job.webhook ?? null,
      s3_config: json(job.s3Config),
      created_at: job.createdAt,
      stream_count: job.streamCount,
      stream_cursor: job.streamCursor,
    });
  }

  /** Writes every field that can change after submission. */
  update(job: Job): void {
    this.updateJob.run(mutableColumns(job));
  }

  get(id: string): Job | undefined {
    const row = this.selectJob.get(id);
    return row && fromRow(row);
  }

  /** Jobs of an endpoint in one state, oldest first. */
  withStatus(endpointId: string, status: JobStatus): Job[] {
    return this.selectByStatus.all(endpointId, status).map(fromRow);
  }

  delete(id: string): void {
    this.deleteJob.run(id);
  }

  /** Appends one stream chunk; `seq` is the job's chunk count before it. */
  appendChunk(job: Job, output: unknown, at: number): void {
    this.db.transaction(() => {
      this.insertChunk.run(job.id, job.streamCount, JSON.stringify(output), at);
      this.updateCursor.run(job.streamCount + 1, job.streamCursor, job.id);
    })();
  }

  /** Chunks with seq in [from, to). */
  chunks(jobId: string, from: number, to: number): unknown[] {
    return this.selectChunks.all(jobId, from, to).map((row) => JSON.parse(row.output));
  }

  saveStreamCursor(job: Job): void {
    this.updateCursor.run(job.streamCount, job.streamCursor, job.id);
  }

  /** The newest jobs first, optionally of one endpoint and one state. */
  recent(filter: { endpointId?: string; status?: string; limit: number }): Job[] {
    return this.selectRecent.all({ endpoint: filter.endpointId ?? null, status: filter.status ?? null, limit: filter.limit }).map(fromRow);
  }

  /** How many jobs `recent()` would list without its limit. */
  countRecent(filter: { endpointId?: string; status?: string }): number {
    return this.countMatching.get({ endpoint: filter.endpointId ?? null, status: filter.status ?? null })?.n ?? 0;
  }

  /**
   * The job a person means by `text`: a whole id, or the start of one as the terminal prints it
   * (`3b435494…`, the ellipsis included). Several jobs starting with it are named, newest first.
   */
  lookup(text: string): JobLookup {
    const prefix = text.trim().replace(/(…|\.\.\.)$/, "");
    if (prefix === "") return { kind: "none", prefix };
    const exact = this.get(prefix);
    if (exact) return { kind: "found", job: exact };
    // Ids are ASCII: every id that starts with the prefix sorts below the prefix and U+FFFF.
    const range = { from: prefix, to: `${prefix}\uffff` };
    const ids = this.selectIdRange.all({ ...range, limit: LOOKUP_CANDIDATES }).map((row) => row.id);
    if (ids.length === 0) return { kind: "none", prefix };
    if (ids.length === 1) return { kind: "found", job: this.get(ids[0]) as Job };
    return { kind: "ambiguous", prefix, ids, total: this.countIdRange.get(range)?.n ?? ids.length };
  }

  /** Keeps the newest `keep` jobs (and every unfinished one), with what is kept about them; returns how many went. */
  prune(keep: number): number {
    const cutoff = this.selectCutoff.get(keep)?.seq;
    if (cutoff === undefined) return 0;
    return this.transaction(() => this.pruneOld.map((statement) => statement.run({ cutoff }).changes).pop() ?? 0);
  }

  countsByStatus(endpointId: string): Map<JobStatus, number> {
    return new Map(this.countByStatus.all(endpointId).map((r) => [r.status, r.n]));
  }

  counter(endpointId: string, name: string): number {
    return this.selectCounter.get(endpointId, name)?.value ?? 0;
  }

  incrementCounter(endpointId: string, name: string, by = 1): void {
    this.addCounter.run(endpointId, name, by);
  }

  /** Runs `fn` as one transaction. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
