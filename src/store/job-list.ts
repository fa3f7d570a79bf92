import type { JobKind } from "../core/job.js";
import type { JobStatus } from "../types.js";
import type { Statement } from "better-sqlite3";
import type { Database } from "./database.js";

/** One row of the console's job list: what a table shows, without input or output. */
export interface JobRow {
  /** The keyset cursor: jobs are listed by it, newest first. */
  seq: number;
  id: string;
  endpointId: string;
  kind: JobKind;
  status: JobStatus;
  createdAt: number;
  finishedAt?: number;
  delayTime?: number;
  executionTime?: number;
  workerId?: string;
  retries: number;
}

export interface JobFilter {
  endpointId?: string;
  status?: JobStatus;
  /** Text found in the job's id or in its input's JSON (case-sensitive). */
  text?: string;
  /** Only jobs older than this cursor (a row's `seq`). */
  before?: number;
  limit: number;
}

/** A terminal job's timings, for the console's plot. */
export interface JobTiming {
  finishedAt: number;
  delayTime: number | null;
  executionTime: number | null;
}

interface Row {
  seq: number;
  id: string;
  endpoint_id: string;
  kind: JobKind;
  status: JobStatus;
  created_at: number;
  finished_at: number | null;
  delay_ms: number | null;
  execution_ms: number | null;
  worker_id: string | null;
  retries: number;
}

const COLUMNS = "seq, id, endpoint_id, kind, status, created_at, finished_at, delay_ms, execution_ms, worker_id, retries";

/**
 * The job history as the console pages through it: newest first, a page at a time by keyset on `seq`
 * (never OFFSET, which reads every skipped row), filtered by endpoint, state and text. The state filter
 * walks the (status, seq) index and the endpoint filter the (endpoint, status, seq) one; a text filter
 * reads rows newest first until a page is full.
 */
export class JobList {
  /** One statement per combination of filters, so that each can use its index (an `@x IS NULL OR` cannot). */
  private readonly pages = new Map<string, Statement<PageParameters, Row>>();
  private readonly selectTimings;

  constructor(private readonly db: Database) {
    // A range of the primary key: the newest jobs of every endpoint, then those of this one.
    this.selectTimings = db.prepare<{ endpoint: string; since: number; limit: number }, { finished_at: number; delay_ms: number | null; execution_ms: number | null }>(
      `SELECT finished_at, delay_ms, execution_ms FROM jobs
       WHERE seq > (SELECT ifnull(max(seq), 0) FROM jobs) - @limit AND endpoint_id = @endpoint AND finished_at >= @since
       ORDER BY finished_at`,
    );
  }

  /** A page of jobs, newest first. */
  page(filter: JobFilter): JobRow[] {
    const parameters: PageParameters = { before: filter.before ?? Number.MAX_SAFE_INTEGER, limit: filter.limit };
    const conditions = ["seq < @before"];
    // Without a state, newest first along the primary key: the endpoint's index would sort all its jobs first.
    const endpointColumn = filter.status === undefined ? "+endpoint_id" : "endpoint_id";
    if (filter.endpointId !== undefined) (conditions.push(`${endpointColumn} = @endpoint`), (parameters.endpoint = filter.endpointId));
    if (filter.status !== undefined) (conditions.push("status = @status"), (parameters.status = filter.status));
    // instr() rather than LIKE, whose % and _ the text could contain.
    if (filter.text) (conditions.push("(instr(id, @text) > 0 OR instr(input, @text) > 0)"), (parameters.text = filter.text));
    const where = conditions.join(" AND ");
    let statement = this.pages.get(where);
    if (!statement) {
      statement = this.db.prepare<PageParameters, Row>(`SELECT ${COLUMNS} FROM jobs WHERE ${where} ORDER BY seq DESC LIMIT @limit`);
      this.pages.set(where, statement);
    }
    return statement.all(parameters).map(toJobRow);
  }

  /** Timings of an endpoint's jobs that finished since `since`, oldest first, among the newest `limit` jobs of all endpoints. */
  timings(endpointId: string, since: number, limit: number): JobTiming[] {
    return this.selectTimings
      .all({ endpoint: endpointId, since, limit })
      .map((row) => ({ finishedAt: row.finished_at, delayTime: row.delay_ms, executionTime: row.execution_ms }));
  }
}

interface PageParameters {
  before: number;
  limit: number;
  endpoint?: string;
  status?: string;
  text?: string;
}

function toJobRow(row: Row): JobRow {
  const job: JobRow = { seq: row.seq, id: row.id, endpointId: row.endpoint_id, kind: row.kind, status: row.status, createdAt: row.created_at, retries: row.retries };
  if (row.finished_at !== null) job.finishedAt = row.finished_at;
  if (row.delay_ms !== null) job.delayTime = row.delay_ms;
  if (row.execution_ms !== null) job.executionTime = row.execution_ms;
  if (row.worker_id !== null) job.workerId = row.worker_id;
  return job;
}
