import type { Job, JobKind } from "../core/job.js";
import type { JobStatus } from "../types.js";
import type { Database } from "./database.js";
import { DiskSpace, isDiskFull } from "./disk-space.js";
import { PendingWrites } from "./pending-writes.js";

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

/** How often writes that a full disk refused are tried again. */
const RETRY_MS = 1000;

/**
 * The jobs table and its stream chunks: the only place that knows their SQL. A full disk never loses an
 * accepted job's state: a refused write is kept in memory (`PendingWrites`), read from there, and retried
 * every second and before each new job; meanwhile new jobs are refused with a `DiskFullError`.
 */
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
  private readonly begin;
  private readonly commit;
  private readonly rollback;
  private readonly pending = new PendingWrites();
  private retryTimer: NodeJS.Timeout | undefined;
  /** Inside `transaction()`: what to keep of each write made so far, should the transaction not commit. */
  private open: (() => void)[] | undefined;
  /** The open transaction met a full disk: its writes are kept, not made. */
  private refused = false;
  /** With `turns`: what to keep of each write of this turn's transaction, should it not commit. */
  private turn: (() => void)[] | undefined;
  private turnCommitted: { promise: Promise<void>; resolve: () => void } | undefined;

  /**
   * `turns`: the writes of one turn of the event loop share one transaction, committed once the turn's
   * callbacks have run (a `setImmediate`): 32 clients submitting at once cost one commit, not 32. An
   * answer that acknowledges a write waits for `committed()`; a commit a full disk refuses keeps every
   * write of the turn for the retry, as a single refused write is kept.
   */
  constructor(
    private readonly db: Database,
    private readonly space = new DiskSpace(db.name),
    private readonly turns = false,
  ) {
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
    this.begin = db.prepare("BEGIN");
    this.commit = db.prepare("COMMIT");
    this.rollback = db.prepare("ROLLBACK");
  }

  /** Adds a new job; a full disk refuses it with a `DiskFullError` (after trying the kept writes first). */
  insert(job: Job): void {
    if (!this.flush()) throw this.space.refusal();
    // Accepted once inserted: should its turn's commit be refused, it is kept like any accepted write.
    const keep = this.joinTurn(() => this.pending.insert(job));
    try {
      this.insertRow(job);
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.space.full();
      if (this.turn) {
        // This job is refused, not kept: the rest of the turn is.
        this.turn = this.turn.filter((other) => other !== keep);
        this.refuseTurn();
      }
      throw this.space.refusal(error);
    }
    if (!this.turn) this.space.written();
  }

  private insertRow(job: Job): void {
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
    this.write(() => this.updateJob.run(mutableColumns(job)), () => this.pending.jobs.set(job.id, job));
  }

  get(id: string): Job | undefined {
    const kept = this.pending.jobs.get(id);
    if (kept) return kept;
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
    const chunk = { jobId: job.id, seq: job.streamCount, output: JSON.stringify(output), at };
    this.transaction(() => {
      this.write(() => this.insertChunk.run(chunk.jobId, chunk.seq, chunk.output, chunk.at), () => this.pending.chunks.push(chunk));
      this.write(() => this.updateCursor.run(job.streamCount + 1, job.streamCursor, job.id), () => this.pending.jobs.set(job.id, job));
    });
  }

  /** Chunks with seq in [from, to). */
  chunks(jobId: string, from: number, to: number): unknown[] {
    const rows = this.selectChunks.all(jobId, from, to);
    if (this.pending.chunks.length > 0) rows.push(...this.pending.chunksOf(jobId, from, to));
    return rows.map((row) => JSON.parse(row.output));
  }

  saveStreamCursor(job: Job): void {
    this.write(() => this.updateCursor.run(job.streamCount, job.streamCursor, job.id), () => this.pending.jobs.set(job.id, job));
  }

  /** The newest jobs first, optionally of one endpoint and one state. */
  recent(filter: { endpointId?: string; status?: string; limit: number }): Job[] {
    const rows = this.selectRecent.all({ endpoint: filter.endpointId ?? null, status: filter.status ?? null, limit: filter.limit });
    return rows.map((row) => this.pending.jobs.get(row.id) ?? fromRow(row));
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
    if (cutoff === undefined || this.pending.size > 0) return 0;
    try {
      return this.db.transaction(() => this.pruneOld.map((statement) => statement.run({ cutoff }).changes).pop() ?? 0)();
    } catch (error) {
      // Deleting needs room in the log too; the next prune tries again.
      if (isDiskFull(error)) return 0;
      throw error;
    }
  }

  countsByStatus(endpointId: string): Map<JobStatus, number> {
    return new Map(this.countByStatus.all(endpointId).map((r) => [r.status, r.n]));
  }

  counter(endpointId: string, name: string): number {
    return (this.selectCounter.get(endpointId, name)?.value ?? 0) + this.pending.counter(endpointId, name);
  }

  incrementCounter(endpointId: string, name: string, by = 1): void {
    this.write(() => this.addCounter.run(endpointId, name, by), () => this.pending.addCounter(endpointId, name, by));
  }

  /**
   * Runs `fn` as one transaction (a nested call joins the open one). If the disk is full, at any write or
   * at the commit, every write `fn` made is kept for the retry instead, and `fn`'s result stands.
   */
  transaction<T>(fn: () => T): T {
    // Within a turn's transaction, each write joins it (and is kept with it).
    if (this.open || this.turns) return fn();
    this.open = [];
    this.refused = this.pending.size > 0;
    try {
      if (!this.refused) this.begin.run();
      const result = fn();
      if (!this.refused) this.commitOrRefuse();
      if (this.refused) {
        if (this.db.inTransaction) this.rollback.run();
        for (const keep of this.open) keep();
        this.retrySoon();
      }
      return result;
    } catch (error) {
      if (this.db.inTransaction) this.rollback.run();
      throw error;
    } finally {
      this.open = undefined;
    }
  }

  /**
   * Writes what a full disk refused, in one transaction; true when nothing is left waiting. Also called
   * on a timer while something waits, and before each new job.
   */
  flush(): boolean {
    if (this.pending.size === 0) return true;
    if (!this.db.open) return false;
    try {
      this.db.transaction(() => {
        for (const id of this.pending.inserted) this.insertRow(this.pending.jobs.get(id) as Job);
        for (const chunk of this.pending.chunks) this.insertChunk.run(chunk.jobId, chunk.seq, chunk.output, chunk.at);
        for (const job of this.pending.jobs.values()) {
          if (this.pending.inserted.has(job.id)) continue;
          this.updateJob.run(mutableColumns(job));
          this.updateCursor.run(job.streamCount, job.streamCursor, job.id);
        }
        for (const { endpointId, name, by } of this.pending.counters.values()) this.addCounter.run(endpointId, name, by);
      })();
    } catch (error) {
      if (isDiskFull(error)) return false;
      throw error;
    }
    this.pending.clear();
    clearInterval(this.retryTimer);
    this.retryTimer = undefined;
    this.space.written();
    return true;
  }

  /**
   * Resolves once the writes made so far are committed (or, refused by a full disk, kept for the retry):
   * an answer that acknowledges them waits for it. Undefined when none waits.
   */
  committed(): Promise<void> | undefined {
    return this.turnCommitted?.promise;
  }

  /** Commits this turn's transaction now (at the end of the turn, or before the database closes). */
  commitTurn(): void {
    const keeps = this.turn;
    if (!keeps) return;
    this.turn = undefined;
    try {
      // A failed statement of another store (a full disk) may have rolled the transaction back already.
      if (!this.db.inTransaction) throw new Error("the transaction was rolled back");
      this.commit.run();
      this.space.written();
    } catch (error) {
      if (this.db.inTransaction) this.rollback.run();
      if (isDiskFull(error)) this.space.full();
      for (const keep of keeps) keep();
      this.retrySoon();
    }
    this.endTurn();
  }

  /** With turns, opens this turn's transaction unless it is open; returns `keep`, now one of the turn's. */
  private joinTurn(keep: () => void): () => void {
    if (!this.turns || this.pending.size > 0) return keep;
    if (!this.turn) {
      if (this.db.inTransaction || !this.db.open) return keep;
      this.begin.run();
      this.turn = [];
      let resolve!: () => void;
      this.turnCommitted = { promise: new Promise<void>((r) => (resolve = r)), resolve };
      setImmediate(() => this.commitTurn());
    }
    this.turn.push(keep);
    return keep;
  }

  /** A write of this turn met a full disk: the turn is undone and every write of it kept. */
  private refuseTurn(): void {
    const keeps = this.turn ?? [];
    this.turn = undefined;
    if (this.db.inTransaction) this.rollback.run();
    for (const keep of keeps) keep();
    this.retrySoon();
    this.endTurn();
  }

  private endTurn(): void {
    this.turnCommitted?.resolve();
    this.turnCommitted = undefined;
  }

  /** Makes one write, or keeps it (`keep`) when the disk is full or earlier writes still wait. */
  private write(run: () => void, keep: () => void): void {
    if (this.open) {
      this.open.push(keep);
      if (this.refused) return;
    } else if (this.pending.size > 0) {
      // While writes wait, the disk counts as full: this one waits with them, and the retry writes all.
      return keep();
    } else this.joinTurn(keep);
    try {
      run();
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.space.full();
      if (this.open) this.refused = true;
      else if (this.turn) this.refuseTurn();
      else {
        keep();
        this.retrySoon();
      }
    }
  }

  private commitOrRefuse(): void {
    try {
      this.commit.run();
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      this.space.full();
      this.refused = true;
    }
  }

  private retrySoon(): void {
    if (this.retryTimer) return;
    this.retryTimer = setInterval(() => {
      if (!this.db.open) {
        clearInterval(this.retryTimer);
        return;
      }
      try {
        this.flush();
      } catch {
        // Not a full disk: the writes stay kept, and the next new job meets (and reports) the error.
      }
    }, RETRY_MS);
    this.retryTimer.unref();
  }
}
