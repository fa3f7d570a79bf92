import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it, onTestFinished, vi } from "vitest";
import type { Job } from "../../src/core/job.js";
import { type Database, openDatabase } from "../../src/store/database.js";
import { DiskFullError, DiskSpace } from "../../src/store/disk-space.js";
import { JobStore } from "../../src/store/jobs.js";
import { LogStore } from "../../src/store/logs.js";
import { WebhookStore } from "../../src/store/webhooks.js";
import { scratchDir } from "../helpers/scratch.js";

const BIG = "x".repeat(200_000);

function job(id: string, input: unknown = {}): Job {
  return { id, endpointId: "ep", kind: "run", status: "IN_QUEUE", input, policy: {}, createdAt: 1, retries: 0, lost: 0, expiresAt: 1e15, streamCount: 0, streamCursor: 0 };
}

/** The database can no longer grow: SQLite answers SQLITE_FULL as it does on a full disk. */
function fill(db: Database): void {
  db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true })}`);
}

function makeRoom(db: Database): void {
  db.pragma("max_page_count = 1073741823");
}

function storesOn(path: string, turns = false) {
  const db = openDatabase(path);
  onTestFinished(() => db.close());
  const reports: string[] = [];
  const space = new DiskSpace(path, (message) => reports.push(message));
  return { db, reports, jobs: new JobStore(db, space, turns), logs: new LogStore(db, space), webhooks: new WebhookStore(db, space) };
}

/** What another process reading the file sees. */
function onDisk(path: string, id: string): { status: string; output: string | null; stream_count: number } | undefined {
  const reader = new BetterSqlite3(path, { readonly: true });
  try {
    return reader.prepare("SELECT status, output, stream_count FROM jobs WHERE id = ?").get(id) as never;
  } finally {
    reader.close();
  }
}

describe("the job store on a full disk", () => {
  it("keeps every write of a turn whose transaction a full disk refuses, a new job's too, and writes them once there is room", async () => {
    const path = join(scratchDir(), "jobs.db");
    const { db, jobs } = storesOn(path, true);
    jobs.insert(job("a"));
    await jobs.committed();
    // One turn: a new job, then a result too large for what is left.
    jobs.insert(job("b", { n: 2 }));
    fill(db);
    const a = jobs.get("a") as Job;
    Object.assign(a, { status: "COMPLETED", output: BIG });
    jobs.update(a);
    expect(db.inTransaction).toBe(false);
    await jobs.committed();
    expect(onDisk(path, "b")).toBeUndefined();
    expect(onDisk(path, "a")?.status).toBe("IN_QUEUE");
    expect(jobs.get("b")).toMatchObject({ id: "b", input: { n: 2 } });
    expect(jobs.get("a")).toMatchObject({ status: "COMPLETED" });
    makeRoom(db);
    expect(jobs.flush()).toBe(true);
    expect(onDisk(path, "b")?.status).toBe("IN_QUEUE");
    expect(onDisk(path, "a")).toMatchObject({ status: "COMPLETED", output: JSON.stringify(BIG) });
  });

  it("refuses a new job with a DiskFullError that names the disk and the database", () => {
    const path = join(scratchDir(), "jobs.db");
    const { db, jobs, reports } = storesOn(path);
    jobs.insert(job("before"));
    fill(db);
    const refused = (() => {
      try {
        jobs.insert(job("after", { text: BIG }));
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(DiskFullError);
    expect((refused as Error).message).toBe(`the disk holding the job database ${path} is full: new jobs are refused until space is freed`);
    expect(jobs.get("after")).toBeUndefined();
    expect(jobs.get("before")).toMatchObject({ status: "IN_QUEUE" });
    expect(reports).toEqual([expect.stringMatching(/^the disk holding the job database .* is full: new jobs are refused \(503\)/)]);
  });

  it("keeps an accepted job's result, chunks and counters that cannot be written, shows them, and writes them once space returns", async () => {
    const path = join(scratchDir(), "jobs.db");
    const { db, jobs, logs, webhooks, reports } = storesOn(path);
    const running = { ...job("running"), status: "IN_PROGRESS" as const };
    jobs.insert(running);
    fill(db);

    jobs.appendChunk(running, { text: BIG }, 2);
    running.streamCount++;
    // As JobStates finishes a job: the update and the counter in one transaction, which commits nothing.
    running.status = "COMPLETED";
    running.output = { text: BIG };
    expect(jobs.transaction(() => {
      jobs.update(running);
      jobs.incrementCounter("ep", "completed");
      return "done";
    })).toBe("done");
    logs.append({ jobId: "running", workerId: "w", stream: "stdout", message: BIG, at: 3 });
    logs.flush();
    webhooks.record({ jobId: "running", url: "http://127.0.0.1/", attempt: 1, at: 3, status: 200, ms: 1, error: BIG });

    // Read from memory meanwhile; the file still has the old state.
    expect(jobs.get("running")).toMatchObject({ status: "COMPLETED", output: { text: BIG } });
    expect(jobs.chunks("running", 0, 1)).toEqual([{ text: BIG }]);
    expect(jobs.counter("ep", "completed")).toBe(1);
    expect(onDisk(path, "running")).toMatchObject({ status: "IN_PROGRESS", output: null });
    expect(reports).toHaveLength(1);

    makeRoom(db);
    // Written by the retry timer, without a new job to trigger it.
    await vi.waitFor(() => expect(onDisk(path, "running")).toMatchObject({ status: "COMPLETED", output: JSON.stringify({ text: BIG }), stream_count: 1 }), { timeout: 5000 });
    expect(jobs.chunks("running", 0, 1)).toEqual([{ text: BIG }]);
    expect(jobs.counter("ep", "completed")).toBe(1);
    expect(reports[1]).toMatch(/^space returned on the disk holding the job database .* new jobs are accepted again; 1 lines of worker output could not be kept$/);
    jobs.insert(job("later", { text: BIG }));
    expect(onDisk(path, "later")).toMatchObject({ status: "IN_QUEUE" });
  });

  it("tries the kept writes before a new job, and accepts it once they are written", () => {
    const path = join(scratchDir(), "jobs.db");
    const { db, jobs } = storesOn(path);
    const running = { ...job("running"), status: "IN_PROGRESS" as const };
    jobs.insert(running);
    fill(db);
    running.output = { text: BIG };
    jobs.update(running);
    expect(() => jobs.insert(job("small"))).toThrow(DiskFullError);
    makeRoom(db);
    jobs.insert(job("small"));
    expect(onDisk(path, "running")?.output).toBe(JSON.stringify({ text: BIG }));
  });
});
