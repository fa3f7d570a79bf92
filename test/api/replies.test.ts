import { join } from "node:path";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import type { ApiEnv } from "../../src/api/api-env.js";
import { sendJson, sendJsonNow } from "../../src/api/replies.js";
import type { Endpoint } from "../../src/core/endpoint.js";
import type { Job } from "../../src/core/job.js";
import { type Database, openDatabase } from "../../src/store/database.js";
import { JobStore } from "../../src/store/jobs.js";
import { scratchDir } from "../helpers/scratch.js";

const open: Database[] = [];
afterEach(() => {
  for (const db of open.splice(0)) db.close();
});

/** An app whose routes insert a job through a store that commits once per turn, then answer. */
function appOnStore() {
  const path = join(scratchDir(), "jobs.db");
  const db = openDatabase(path);
  const reader = openDatabase(path);
  open.push(db, reader);
  const store = new JobStore(db, undefined, true);
  // The part of the endpoint an answer asks: whether writes wait for their commit.
  const endpoint = { committed: () => store.committed() } as Endpoint;
  const app = new Hono<ApiEnv>();
  app.use(async (c, next) => {
    c.set("endpoint", endpoint);
    await next();
  });
  const insert = (id: string) =>
    store.insert({ id, endpointId: "ep", kind: "run", status: "IN_QUEUE", input: {}, policy: {}, createdAt: 1, retries: 0, lost: 0, expiresAt: 1e15, streamCount: 0, streamCursor: 0 } satisfies Job);
  // What another process reading the file sees when the answer is made.
  const onDisk = (id: string) => reader.prepare("SELECT id FROM jobs WHERE id = ?").get(id) !== undefined;
  app.post("/client/:id", (c) => {
    insert(c.req.param("id"));
    return sendJson(c, {});
  });
  app.post("/worker/:id", (c) => {
    insert(c.req.param("id"));
    return sendJsonNow(c, {});
  });
  return { app, onDisk };
}

describe("answers", () => {
  it("to a client leave once the writes they acknowledge are committed; to a worker, at once", async () => {
    const { app, onDisk } = appOnStore();
    // What another process would see of each job when its answer is made.
    const seen = (id: string) => Promise.resolve(app.request(`/${id === "a" ? "client" : "worker"}/${id}`, { method: "POST" })).then(() => onDisk(id));
    expect(await seen("a")).toBe(true);
    expect(await seen("b")).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(onDisk("b")).toBe(true);
  });
});
