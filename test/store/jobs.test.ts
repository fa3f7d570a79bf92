import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Job } from "../../src/core/job.js";
import { openDatabase } from "../../src/store/database.js";
import { JobStore } from "../../src/store/jobs.js";
import { migrations } from "../../src/store/migrations.js";
import { LogStore } from "../../src/store/logs.js";
import { scratchDir } from "../helpers/scratch.js";

function job(n: number, status: Job["status"]): Job {
  return {
    id: `job-${n}`, endpointId: "ep", kind: "run", status, input: { n }, policy: {}, createdAt: n, retries: 0, lost: 0,
    expiresAt: n + 1000, streamCount: 0, streamCursor: 0,
  };
}

describe("the job store", () => {
  it("with turns, writes the jobs of one turn of the event loop in one transaction, committed at its end", async () => {
    const path = join(scratchDir(), "jobs.db");
    const db = openDatabase(path);
    const store = new JobStore(db, undefined, true);
    const reader = openDatabase(path);
    const onDisk = (id: string) => reader.prepare("SELECT status FROM jobs WHERE id = ?").get(id);
    try {
      store.insert(job(1, "IN_QUEUE"));
      store.update(job(1, "IN_PROGRESS"));
      store.insert(job(2, "IN_QUEUE"));
      expect(db.inTransaction).toBe(true);
      expect([onDisk("job-1"), onDisk("job-2")]).toEqual([undefined, undefined]);
      const committed = store.committed();
      expect(committed).toBeInstanceOf(Promise);
      await committed;
      expect(db.inTransaction).toBe(false);
      expect([onDisk("job-1"), onDisk("job-2")]).toEqual([{ status: "IN_PROGRESS" }, { status: "IN_QUEUE" }]);
      expect(store.committed()).toBeUndefined();
    } finally {
      reader.close();
      db.close();
    }
  });

  it("keeps the newest finished jobs up to the history limit, every unfinished one, and drops the rest's logs", () => {
    const db = openDatabase(null);
    const jobs = new JobStore(db);
    const logs = new LogStore(db);
    for (let n = 1; n <= 10; n++) {
      jobs.insert(job(n, n === 2 ? "IN_QUEUE" : "COMPLETED"));
      logs.append({ jobId: `job-${n}`, workerId: "w", stream: "stdout", message: `line ${n}`, at: n });
    }
    logs.flush();
    expect(jobs.prune(4)).toBe(5);
    const left = jobs.recent({ limit: 100 }).map((j) => j.id);
    expect(left).toEqual(["job-10", "job-9", "job-8", "job-7", "job-2"]);
    expect(logs.forJob("job-1")).toEqual([]);
    expect(logs.forJob("job-7").map((l) => l.message)).toEqual(["line 7"]);
  });

  it("round-trips a job, telling a null output from none", () => {
    const store = new JobStore(openDatabase(null));
    store.insert({ ...job(1, "COMPLETED"), output: null, s3Config: { bucket: "b" }, webhook: "http://x" });
    store.insert(job(2, "COMPLETED"));
    expect(store.get("job-1")).toMatchObject({ output: null, s3Config: { bucket: "b" }, webhook: "http://x", input: { n: 1 } });
    expect("output" in (store.get("job-2") as Job) && store.get("job-2")?.output).toBe(undefined);
  });

  it("finds a job by its whole id or the start of it, as the terminal prints it, and names the candidates of a short one", () => {
    const store = new JobStore(openDatabase(null));
    for (const id of ["3b435494-aaaa-u1", "3b435494-bbbb-u1", "3b9-cccc-u1", "sync-3b435494-dddd-u1", "x%_-eeee-u1"]) store.insert({ ...job(1, "COMPLETED"), id });
    expect(store.lookup("3b435494-aaaa-u1")).toMatchObject({ kind: "found", job: { id: "3b435494-aaaa-u1" } });
    expect(store.lookup("3b435494-a…")).toMatchObject({ kind: "found", job: { id: "3b435494-aaaa-u1" } });
    expect(store.lookup(" 3b9... ")).toMatchObject({ kind: "found", job: { id: "3b9-cccc-u1" } });
    expect(store.lookup("sync-3b435494…")).toMatchObject({ kind: "found", job: { id: "sync-3b435494-dddd-u1" } });
    // % and _ are plain characters of the id, not patterns.
    expect(store.lookup("x%_")).toMatchObject({ kind: "found", job: { id: "x%_-eeee-u1" } });
    expect(store.lookup("x_")).toEqual({ kind: "none", prefix: "x_" });
    expect(store.lookup("3b435494…")).toEqual({ kind: "ambiguous", prefix: "3b435494", ids: ["3b435494-bbbb-u1", "3b435494-aaaa-u1"], total: 2 });
    expect(store.lookup("3b")).toMatchObject({ kind: "ambiguous", total: 3 });
    expect(store.lookup("4")).toEqual({ kind: "none", prefix: "4" });
    expect(store.lookup("…")).toEqual({ kind: "none", prefix: "" });
  });

  it("names at most ten candidates of a prefix, with their number", () => {
    const store = new JobStore(openDatabase(null));
    for (let n = 0; n < 25; n++) store.insert({ ...job(n, "COMPLETED"), id: `ab-${String(n).padStart(2, "0")}` });
    const found = store.lookup("ab");
    expect(found).toMatchObject({ kind: "ambiguous", total: 25 });
    expect(found.kind === "ambiguous" && found.ids).toEqual(Array.from({ length: 10 }, (_, i) => `ab-${24 - i}`));
  });

  it("counts the jobs a listing would show without its limit", () => {
    const store = new JobStore(openDatabase(null));
    for (let n = 1; n <= 5; n++) store.insert({ ...job(n, n % 2 ? "FAILED" : "COMPLETED"), endpointId: n === 5 ? "other" : "ep" });
    expect(store.countRecent({})).toBe(5);
    expect(store.countRecent({ status: "FAILED" })).toBe(3);
    expect(store.countRecent({ status: "FAILED", endpointId: "ep" })).toBe(2);
  });

  it("keeps the handler file a job ran on, and adds its column to a database of the previous schema", () => {
    const path = join(scratchDir(), "jobs.db");
    const old = openDatabase(path);
    // A database as the previous release left it: schema 2, a job without a handler file.
    old.exec("DROP INDEX jobs_by_status; ALTER TABLE jobs DROP COLUMN handler_file; ALTER TABLE job_logs DROP COLUMN endpoint_id");
    old.pragma("user_version = 2");
    old.prepare("INSERT INTO jobs (id, endpoint_id, kind, status, input, policy, created_at, expires_at) VALUES ('old-u1', 'ep', 'run', 'COMPLETED', '1', '{}', 1, 2)").run();
    old.close();
    const store = new JobStore(openDatabase(path));
    expect(store.get("old-u1")).toMatchObject({ id: "old-u1", input: 1 });
    expect(store.get("old-u1")?.handlerFile).toBeUndefined();
    const taken = { ...job(2, "IN_PROGRESS"), handlerFile: "/project/handler.py" };
    store.insert(taken);
    store.update({ ...taken, handlerFile: "/project/src/handler.py" });
    expect(store.get("job-2")?.handlerFile).toBe("/project/src/handler.py");
  });

  it("refuses a database written by a newer schema, naming it", () => {
    const path = join(scratchDir(), "jobs.db");
    const db = openDatabase(path);
    db.pragma("user_version = 99");
    db.close();
    expect(() => openDatabase(path)).toThrow(`was written by a newer emulator (schema 99, this one knows ${migrations.length})`);
  });
});
