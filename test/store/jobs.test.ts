import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Job } from "../../src/core/job.js";
import { openDatabase } from "../../src/store/database.js";
import { JobStore } from "../../src/store/jobs.js";
import { LogStore } from "../../src/store/logs.js";
import { scratchDir } from "../helpers/scratch.js";

function job(n: number, status: Job["status"]): Job {
  return {
    id: `job-${n}`, endpointId: "ep", kind: "run", status, input: { n }, policy: {}, createdAt: n, retries: 0, lost: 0,
    expiresAt: n + 1000, streamCount: 0, streamCursor: 0,
  };
}

describe("the job store", () => {
  it("keeps the newest finished jobs up to the history limit, every unfinished one, and drops the rest's logs", () => {
    const db = openDatabase(null);
    const jobs = new JobStore(db);
    const logs = new LogStore(db);
    for (let n = 1; n <= 10; n++) {
      jobs.insert(job(n, n === 2 ? "IN_QUEUE" : "COMPLETED"));
      logs.append({ jobId: `job-${n}`, workerId: "w", stream: "stdout", message: `line ${n}`, at: n });
    }
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

  it("refuses a database written by a newer schema, naming it", () => {
    const path = join(scratchDir(), "jobs.db");
    const db = openDatabase(path);
    db.pragma("user_version = 99");
    db.close();
    expect(() => openDatabase(path)).toThrow(/was written by a newer emulator \(schema 99, this one knows 2\)/);
  });
});
