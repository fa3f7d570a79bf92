/**
 * Numbered schema migrations. Each runs once, in order, inside a transaction, and records itself in
 * `PRAGMA user_version`. Never edit a released migration: add the next one, keeping existing data.
 */
export const migrations: readonly string[] = [
  // 1: jobs, their stream chunks and their log lines.
  `
  CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    endpoint_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT,
    error TEXT,
    policy TEXT NOT NULL,
    webhook TEXT,
    s3_config TEXT,
    created_at INTEGER NOT NULL,
    taken_at INTEGER,
    finished_at INTEGER,
    delay_ms INTEGER,
    execution_ms INTEGER,
    worker_id TEXT,
    retries INTEGER NOT NULL DEFAULT 0,
    lost INTEGER NOT NULL DEFAULT 0,
    handler_version TEXT,
    expires_at INTEGER NOT NULL,
    stream_count INTEGER NOT NULL DEFAULT 0,
    stream_cursor INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX jobs_by_endpoint_status ON jobs (endpoint_id, status, seq);
  CREATE TABLE stream_chunks (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    output TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
  ) WITHOUT ROWID;
  CREATE TABLE job_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT,
    worker_id TEXT NOT NULL,
    stream TEXT NOT NULL,
    level TEXT,
    message TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE INDEX job_logs_by_job ON job_logs (job_id, id);
  CREATE TABLE counters (
    endpoint_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, name)
  ) WITHOUT ROWID;
  `,
  // 2: every webhook delivery attempt, kept with its job.
  `
  CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    url TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    ms INTEGER NOT NULL
  );
  CREATE INDEX webhook_deliveries_by_job ON webhook_deliveries (job_id, id);
  `,
  // 3: the handler file a job ran on, so a replay runs that file again.
  `
  ALTER TABLE jobs ADD COLUMN handler_file TEXT;
  `,
  // 4: the endpoint of each log line, for emulator logs --endpoint (a worker's own lines have no job to tell it).
  `
  ALTER TABLE job_logs ADD COLUMN endpoint_id TEXT;
  `,
  // 5: the console's job list filtered by state across every endpoint, newest first.
  `
  CREATE INDEX jobs_by_status ON jobs (status, seq);
  `,
];
