import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Endpoint, JobDoneBody } from "../core/endpoint.js";
import { formatMB } from "../core/job-result.js";
import { type Job, workerJob } from "../core/job.js";
import type { ApiEnv } from "./api-env.js";
import { TooDeep, parseJson } from "./json-body.js";
import { workerAuth } from "./middleware/auth.js";
import { endpointLookup } from "./middleware/endpoint-lookup.js";
import { sendJson, sendJsonNow, sendNoContent } from "./replies.js";
import { readBody } from "./request-body.js";

/**
 * Results and chunks above this are refused without being read further (a result over it fails its job);
 * results above a job's own, smaller limit fail the job once read.
 */
export const WORKER_BODY_LIMIT = 256_000_000;

/** The platform's side of the worker protocol (SPEC §2.2). `bodyLimit`: the largest body a worker may post. */
export function workerRoutes(app: Hono<ApiEnv>, endpoints: ReadonlyMap<string, Endpoint>, bodyLimit = WORKER_BODY_LIMIT): void {
  const endpoint = endpointLookup(endpoints);
  app.get("/v2/:endpointId/job-take/:workerId", endpoint, workerAuth, (c) => take(c, false));
  app.get("/v2/:endpointId/job-take-batch/:workerId", endpoint, workerAuth, (c) => take(c, true));
  app.post("/v2/:endpointId/job-done/:workerId/:jobId", endpoint, workerAuth, (c) => done(c, bodyLimit));
  app.post("/v2/:endpointId/job-done-batch/:workerId", endpoint, workerAuth, (c) => doneBatch(c, bodyLimit));
  app.post("/v2/:endpointId/job-stream/:workerId/:jobId", endpoint, workerAuth, (c) => stream(c, bodyLimit));
  app.get("/v2/:endpointId/job-stop/:workerId", endpoint, workerAuth, stop);
  app.on(["GET", "POST"], "/v2/:endpointId/ping/:workerId", endpoint, workerAuth, ping);
}

async function take(c: Context<ApiEnv>, batch: boolean): Promise<Response> {
  const port = c.get("endpoint").port(c.get("worker"));
  const max = batch ? batchSize(c.req.query("batch_size")) : 1;
  // The signal aborts when the connection closes before the answer was written in full: a worker that
  // hangs up while held has its take withdrawn, so no job is handed to a closed socket.
  const signal = c.req.raw.signal;
  const jobs = await port.take(max, c.req.query("job_in_progress") === "1", signal);
  if (jobs.length === 0) return sendNoContent(c);
  // The jobs count as taken only once their answer was written out in full.
  signal.addEventListener("abort", () => port.giveBack(jobs));
  // Answered once their taking is committed: an emulator killed while a worker runs a job then finds
  // it running (lost, requeued once and counted), never still queued as if no worker had it.
  return sendJson(c, batch ? jobs.map(workerJob) : workerJob(jobs[0] as Job));
}

function batchSize(raw = "1"): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new HTTPException(400, { message: `batch_size must be a positive whole number, got "${raw}"` });
  return Math.min(value, 1000);
}

async function done(c: Context<ApiEnv>, limit: number): Promise<Response> {
  const jobId = c.req.param("jobId") ?? "";
  await results(c, limit, [jobId], "the handler's result", (body) => (isResultBody(body) ? [body] : undefined));
  return sendJsonNow(c, {});
}

/**
 * The emulator's own runtimes' job-done (not the SDK's): the results of the jobs named by `id` (one
 * job-done body, or a JSON array of one per id, in order), each taken as its own job-done; with `batch_size`, then a job-take-batch on
 * the same request. One request per turn of results and take, where the SDK makes one per result and
 * one for the take.
 */
async function doneBatch(c: Context<ApiEnv>, limit: number): Promise<Response> {
  const ids = c.req.queries("id") ?? [];
  await results(c, limit, ids, "the handler's results", (body) => {
    if (ids.length === 1 && isResultBody(body)) return [body];
    return Array.isArray(body) && body.length === ids.length && body.every(isResultBody) ? body : undefined;
  });
  return c.req.query("batch_size") === undefined ? sendJsonNow(c, {}) : take(c, true);
}

/**
 * Reads results and finishes their jobs. A body that cannot be read fails every job it was for, with
 * why: refusing the post would leave them running until their timeout. An oversized one was counted as
 * it arrived (or declared), never gathered.
 */
async function results(c: Context<ApiEnv>, limit: number, ids: string[], subject: string, read: (body: unknown) => JobDoneBody[] | undefined): Promise<void> {
  const endpoint = c.get("endpoint");
  const worker = c.get("worker");
  try {
    // The SDK posts JSON text as application/x-www-form-urlencoded: the raw body is parsed as JSON.
    const raw = await readBody(c, limit, () => bodyTooLarge(limit));
    const bodies = read(raw.length === 0 ? {} : parseJson(raw, subject));
    if (!bodies) throw new HTTPException(400, { message: ids.length === 1 ? `${subject} must be a JSON object` : `${subject} must be a JSON array of one object per id` });
    bodies.forEach((body, i) => endpoint.done(worker, ids[i] ?? "", body, raw.length));
  } catch (error) {
    if (!(error instanceof HTTPException) || (error.status !== 400 && error.status !== 413)) throw error;
    const reason = error.status === 413 ? oversizedResult(c.req.header("content-length"), limit) : error.message;
    for (const id of ids) endpoint.done(worker, id, { error: reason }, 0);
    if (!(error instanceof TooDeep)) throw error;
  }
}

function isResultBody(value: unknown): value is JobDoneBody {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A job-done or job-stream body as a worker posts it: the JSON text of an object, empty meaning `{}`. */
export function resultBody(raw: Uint8Array, subject: string): JobDoneBody {
  const body = raw.length === 0 ? {} : parseJson(raw, subject);
  if (!isResultBody(body)) throw new HTTPException(400, { message: `${subject} must be a JSON object` });
  return body;
}

/** Why a worker's request over `limit` is refused. */
export function bodyTooLarge(limit: number): string {
  return `a worker's request body may not exceed ${formatMB(limit)} MB`;
}

/** Why a result over `limit` fails its job; `declared` is its size in bytes, where known. */
export function oversizedResult(declared: string | undefined, limit: number): string {
  const size = declared === undefined ? "" : ` of ${formatMB(Number(declared))} MB`;
  return `the job's result${size} exceeds the ${formatMB(limit)} MB limit of what a worker may post`;
}

async function stream(c: Context<ApiEnv>, limit: number): Promise<Response> {
  const endpoint = c.get("endpoint");
  const worker = c.get("worker");
  const jobId = c.req.param("jobId") ?? "";
  const raw = await readBody(c, limit, () => bodyTooLarge(limit));
  endpoint.streamChunk(worker, jobId, resultBody(raw, "the stream chunk").output, raw.length);
  return sendJsonNow(c, {});
}

async function stop(c: Context<ApiEnv>): Promise<Response> {
  const worker = c.get("worker");
  const signal = c.req.raw.signal;
  const withdraw = () => worker.answerStops([]);
  signal.addEventListener("abort", withdraw);
  const ids = await c.get("endpoint").pollStops(worker);
  signal.removeEventListener("abort", withdraw);
  if (ids.length === 0) return sendNoContent(c);
  // Stops that could not be delivered are kept for the next poll.
  const keep = () => ids.forEach((id) => worker.requestStop(id));
  if (signal.aborted) {
    keep();
    return sendNoContent(c);
  }
  signal.addEventListener("abort", keep);
  return sendJsonNow(c, { jobsToStop: ids });
}

function ping(c: Context<ApiEnv>): Response {
  const jobIds = c.req.query("job_id")?.split(",").filter(Boolean);
  const unhealthy =
    c.req.query("status") === "unhealthy" ? [c.req.query("check"), c.req.query("reason")].filter(Boolean).join(": ") || "reported unhealthy" : undefined;
  c.get("endpoint").ping(c.get("worker"), jobIds, c.req.query("runpod_version"), unhealthy);
  return sendJsonNow(c, {});
}
