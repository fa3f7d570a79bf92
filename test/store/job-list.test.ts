import { describe, expect, it } from "vitest";
import type { Job } from "../../src/core/job.js";
import { openDatabase } from "../../src/store/database.js";
import { JobList } from "../../src/store/job-list.js";
import { JobStore } from "../../src/store/jobs.js";
import type { JobStatus } from "../../src/types.js";

function job(n: number, endpointId: string, status: JobStatus, input: unknown = { n }): Job {
  return { id: `job-${n}`, endpointId, kind: "run", status, input, policy: {}, createdAt: n, retries: 0, lost: 0, expiresAt: 1e15, streamCount: 0, streamCursor: 0 };
}

function filled() {
  const db = openDatabase(null);
  const store = new JobStore(db);
  const statuses: JobStatus[] = ["COMPLETED", "FAILED", "IN_QUEUE"];
  for (let n = 1; n <= 12; n++) store.insert(job(n, n % 2 ? "a" : "b", statuses[n % 3] as JobStatus, { n, word: n === 7 ? "needle" : "hay" }));
  return { db, list: new JobList(db) };
}

describe("the console's job list", () => {
  it("pages newest first by a keyset cursor, each page continuing where the last ended", () => {
    const { list } = filled();
    const first = list.page({ limit: 5 });
    expect(first.map((j) => j.id)).toEqual(["job-12", "job-11", "job-10", "job-9", "job-8"]);
    const second = list.page({ limit: 5, before: first.at(-1)?.seq });
    expect(second.map((j) => j.id)).toEqual(["job-7", "job-6", "job-5", "job-4", "job-3"]);
    expect(list.page({ limit: 5, before: second.at(-1)?.seq }).map((j) => j.id)).toEqual(["job-2", "job-1"]);
  });

  it("filters by state, endpoint and text in the id or the input, alone and together", () => {
    const { list } = filled();
    expect(list.page({ limit: 50, status: "FAILED" }).map((j) => j.id)).toEqual(["job-10", "job-7", "job-4", "job-1"]);
    expect(list.page({ limit: 50, endpointId: "b" }).map((j) => j.id)).toEqual(["job-12", "job-10", "job-8", "job-6", "job-4", "job-2"]);
    expect(list.page({ limit: 50, endpointId: "b", status: "FAILED" }).map((j) => j.id)).toEqual(["job-10", "job-4"]);
    expect(list.page({ limit: 50, text: "needle" }).map((j) => j.id)).toEqual(["job-7"]);
    expect(list.page({ limit: 50, text: "job-1" }).map((j) => j.id)).toEqual(["job-12", "job-11", "job-10", "job-1"]);
    // Characters that LIKE would read as wildcards are plain text here.
    expect(list.page({ limit: 50, text: "%" })).toEqual([]);
  });

  it("walks an index for the state filter rather than reading every job", () => {
    const { db } = filled();
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT seq FROM jobs WHERE seq < ? AND status = ? ORDER BY seq DESC LIMIT 50").all(1e15, "FAILED") as { detail: string }[];
    expect(plan.map((step) => step.detail).join("; ")).toMatch(/USING (COVERING )?INDEX jobs_by_status/);
    expect(plan.map((step) => step.detail).join("; ")).not.toMatch(/TEMP B-TREE/);
  });

  it("gives the timings of an endpoint's recently finished jobs, oldest first", () => {
    const db = openDatabase(null);
    const store = new JobStore(db);
    store.insert({ ...job(1, "a", "COMPLETED"), finishedAt: 2000, delayTime: 5, executionTime: 50 });
    store.insert({ ...job(2, "b", "COMPLETED"), finishedAt: 2500, delayTime: 6, executionTime: 60 });
    store.insert({ ...job(3, "a", "FAILED"), finishedAt: 1500, delayTime: 7, executionTime: 70 });
    store.insert({ ...job(4, "a", "COMPLETED"), finishedAt: 500, delayTime: 8, executionTime: 80 });
    store.insert(job(5, "a", "IN_QUEUE"));
    expect(new JobList(db).timings("a", 1000, 100)).toEqual([
      { finishedAt: 1500, delayTime: 7, executionTime: 70 },
      { finishedAt: 2000, delayTime: 5, executionTime: 50 },
    ]);
  });
});
