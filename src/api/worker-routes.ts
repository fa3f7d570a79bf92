import type { IncomingMessage, ServerResponse } from "node:http";
import type { Endpoint, JobDoneBody } from "../core/endpoint.js";
import { type Job, workerJob } from "../core/job.js";
import type { WorkerSlot } from "../core/worker-slot.js";
import { sameSecret } from "./auth.js";
import { HttpError, readBody, sendJson, sendNoContent } from "./http.js";

export interface WorkerRequest {
  req: IncomingMessage;
  res: ServerResponse;
  endpoint: Endpoint;
  query: URLSearchParams;
  worker: WorkerSlot;
  /** The job id of job-done and job-stream. */
  jobId: string;
}

interface WorkerRoute {
  methods: readonly string[];
  takesJobId: boolean;
  handle: (request: WorkerRequest) => Promise<void> | void;
}

/** Results and chunks above this are refused outright; results above a job's own limit fail the job. */
const WORKER_BODY_LIMIT = 256_000_000;
const STREAM_CHUNK_WARNING = 1_000_000;

/** The platform's side of the worker protocol (SPEC §2.2), by operation name. */
export const workerRoutes: Record<string, WorkerRoute> = {
  "job-take": { methods: ["GET"], takesJobId: false, handle: (r) => take(r, false) },
  "job-take-batch": { methods: ["GET"], takesJobId: false, handle: (r) => take(r, true) },
  "job-done": { methods: ["POST"], takesJobId: true, handle: done },
  "job-stream": { methods: ["POST"], takesJobId: true, handle: stream },
  "job-stop": { methods: ["GET"], takesJobId: false, handle: stop },
  ping: { methods: ["GET", "POST"], takesJobId: false, handle: ping },
};

/** The worker named in the path, if the `token` query parameter is its secret. Never logs the token. */
export function authenticateWorker(endpoint: Endpoint, workerId: string, query: URLSearchParams): WorkerSlot {
  const worker = endpoint.worker(workerId);
  const token = query.get("token") ?? "";
  if (!worker || !sameSecret(token, worker.secret)) throw new HttpError(401, `unknown worker "${workerId}" or wrong token`);
  return worker;
}

async function take(r: WorkerRequest, batch: boolean): Promise<void> {
  const max = batch ? batchSize(r.query) : 1;
  const inProgress = r.query.get("job_in_progress") === "1";
  // A worker that hangs up while held: its take is withdrawn, so no job is handed to a closed socket.
  const onClose = () => {
    if (!r.res.headersSent) r.worker.answerTake([]);
  };
  r.res.once("close", onClose);
  const jobs = await r.endpoint.take(r.worker, max, inProgress);
  if (jobs.length === 0) return sendNoContent(r.res);
  if (r.res.destroyed) return r.endpoint.untake(r.worker, jobs);
  r.res.off("close", onClose);
  // The job counts as taken only once its answer was written out in full.
  r.res.once("close", () => {
    if (!r.res.writableFinished) r.endpoint.untake(r.worker, jobs);
  });
  sendJson(r.res, 200, batch ? jobs.map(workerJob) : workerJob(jobs[0] as Job));
}

function batchSize(query: URLSearchParams): number {
  const raw = query.get("batch_size") ?? "1";
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new HttpError(400, `batch_size must be a positive whole number, got "${raw}"`);
  return Math.min(value, 1000);
}

/** The SDK posts JSON text as application/x-www-form-urlencoded: the raw body is parsed as JSON. */
async function jsonBody(r: WorkerRequest): Promise<{ body: Record<string, unknown>; bytes: number }> {
  const raw = await readBody(r.req, WORKER_BODY_LIMIT, () => `a worker's request body may not exceed ${WORKER_BODY_LIMIT / 1e6} MB`);
  let body: unknown;
  try {
    body = raw.length === 0 ? {} : JSON.parse(raw.toString("utf8"));
  } catch (error) {
    throw new HttpError(400, `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpError(400, "the body must be a JSON object");
  return { body: body as Record<string, unknown>, bytes: raw.length };
}

async function done(r: WorkerRequest): Promise<void> {
  const { body, bytes } = await jsonBody(r);
  r.endpoint.done(r.worker, r.jobId, body as JobDoneBody, bytes);
  sendJson(r.res, 200, {});
}

async function stream(r: WorkerRequest): Promise<void> {
  const { body, bytes } = await jsonBody(r);
  if (bytes > STREAM_CHUNK_WARNING) r.endpoint.warn(`job ${r.jobId}: a stream chunk of ${(bytes / 1e6).toFixed(1)} MB (over 1 MB) from worker ${r.worker.id}`);
  r.endpoint.streamChunk(r.worker, r.jobId, body.output);
  sendJson(r.res, 200, {});
}

async function stop(r: WorkerRequest): Promise<void> {
  const onClose = () => {
    if (!r.res.headersSent) r.worker.answerStops([]);
  };
  r.res.once("close", onClose);
  const ids = await r.endpoint.pollStops(r.worker);
  if (ids.length === 0) return sendNoContent(r.res);
  r.res.off("close", onClose);
  // Stops that could not be delivered are kept for the next poll.
  if (r.res.destroyed) return ids.forEach((id) => r.worker.requestStop(id));
  r.res.once("close", () => {
    if (!r.res.writableFinished) ids.forEach((id) => r.worker.requestStop(id));
  });
  sendJson(r.res, 200, { jobsToStop: ids });
}

function ping(r: WorkerRequest): void {
  const jobIds = r.query.get("job_id")?.split(",").filter(Boolean);
  const unhealthy =
    r.query.get("status") === "unhealthy"
      ? [r.query.get("check"), r.query.get("reason")].filter(Boolean).join(": ") || "reported unhealthy"
      : undefined;
  r.endpoint.ping(r.worker, jobIds, r.query.get("runpod_version") ?? undefined, unhealthy);
  sendJson(r.res, 200, {});
}
