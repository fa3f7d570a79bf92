import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type Endpoint, formatMB } from "../core/endpoint.js";
import { type Job, type JobKind, isTerminal, statusObject } from "../core/job.js";
import type { ApiEnv } from "./api-env.js";
import { clientAuth } from "./middleware/auth.js";
import { endpointLookup } from "./middleware/endpoint-lookup.js";
import { submissionGate } from "./middleware/submission-gate.js";
import { clamp, queryMs } from "./query-params.js";
import { sendJson, sendNoContent } from "./replies.js";
import { readBody } from "./request-body.js";
import { parseRunRequest } from "./run-request.js";

/** Request body limits of the two submit routes, in bytes (SPEC §1.5). */
export type BodyLimits = Record<JobKind, number>;

export interface ClientRouteOptions {
  endpoints: ReadonlyMap<string, Endpoint>;
  apiKey: string | undefined;
  limits: BodyLimits;
  /** Webhook hosts allowed although link-local or metadata addresses. */
  allowedWebhookHosts: ReadonlySet<string>;
}

/** Operations whose path ends in a job id. */
export const JOB_ROUTES = new Set(["status", "status-sync", "stream", "cancel", "retry"]);

const WAIT_DEFAULT = 90_000;
const STREAM_WAIT_DEFAULT = 1_000;

/** The hosted queue API of SPEC §1.2. */
export function clientRoutes(app: Hono<ApiEnv>, options: ClientRouteOptions): void {
  const auth = clientAuth(options.apiKey);
  const endpoint = endpointLookup(options.endpoints);
  const gate = submissionGate();
  app.post("/v2/:endpointId/run", auth, endpoint, gate, (c) => submit(c, "run", options));
  app.post("/v2/:endpointId/runsync", auth, endpoint, gate, (c) => submit(c, "runsync", options));
  app.on(["GET", "POST"], "/v2/:endpointId/status/:jobId", auth, endpoint, status);
  app.on(["GET", "POST"], "/v2/:endpointId/status-sync/:jobId", auth, endpoint, statusSync);
  app.on(["GET", "POST"], "/v2/:endpointId/stream/:jobId", auth, endpoint, stream);
  app.post("/v2/:endpointId/cancel/:jobId", auth, endpoint, cancel);
  app.post("/v2/:endpointId/retry/:jobId", auth, endpoint, retry);
  app.post("/v2/:endpointId/purge-queue", auth, endpoint, (c) => sendJson(c, { removed: c.get("endpoint").purgeQueue(), status: "completed" }));
  app.get("/v2/:endpointId/health", auth, endpoint, (c) => sendJson(c, c.get("endpoint").health()));
}

async function submit(c: Context<ApiEnv>, kind: JobKind, options: ClientRouteOptions): Promise<Response> {
  const limit = options.limits[kind];
  const wait = kind === "runsync" ? waitParam(c, WAIT_DEFAULT) : 0;
  const raw = await readBody(c, limit, (bytes) =>
    bytes === undefined
      ? `request body exceeds the ${formatMB(limit)} MB limit of /${kind}`
      : `request body of ${formatMB(bytes)} MB exceeds the ${formatMB(limit)} MB limit of /${kind}`,
  );
  const { submission, warnings } = parseRunRequest(raw, `/${kind}`, options.allowedWebhookHosts);
  const endpoint = c.get("endpoint");
  const job = endpoint.submit(submission, kind);
  for (const warning of warnings) endpoint.warn(`job ${job.id}: ${warning}`);
  // The job may already be with a worker: the answer still says it was queued, as hosted.
  if (kind === "run") return sendJson(c, { id: job.id, status: "IN_QUEUE" });
  const settled = await endpoint.waitFor(job, wait, (j) => isTerminal(j.status));
  return sendJson(c, pendingOrFinal(settled));
}

/** A finished job's whole status object; a pending one without its interim output (as hosted). */
function pendingOrFinal(job: Job): unknown {
  const body = statusObject(job);
  if (!isTerminal(job.status)) delete body.output;
  return body;
}

function visible(c: Context<ApiEnv>): Job {
  const id = c.req.param("jobId") ?? "";
  const job = c.get("endpoint").visibleJob(id);
  if (!job) throw new HTTPException(404, { message: `no job "${id}" on endpoint "${c.get("endpoint").id}" (unknown, or past its TTL or retention)` });
  return job;
}

function status(c: Context<ApiEnv>): Response | Promise<Response> {
  const job = visible(c);
  const ttl = queryMs(c.req.query("ttl"), "ttl");
  if (ttl !== undefined) c.get("endpoint").shortenLifetime(job, ttl);
  return sendJson(c, statusObject(job));
}

async function statusSync(c: Context<ApiEnv>): Promise<Response> {
  const job = visible(c);
  const wait = waitParam(c, WAIT_DEFAULT);
  return sendJson(c, statusObject(await c.get("endpoint").waitFor(job, wait, (j) => isTerminal(j.status))));
}

async function stream(c: Context<ApiEnv>): Promise<Response> {
  const endpoint = c.get("endpoint");
  let job = visible(c);
  let chunks = endpoint.drainStream(job);
  if (chunks.length === 0 && !isTerminal(job.status)) {
    const wait = clamp(queryMs(c.req.query("wait"), "wait") ?? STREAM_WAIT_DEFAULT, 0, 300_000);
    job = await endpoint.waitFor(job, wait, (j) => j.streamCount > j.streamCursor);
    // A client that left while held must not consume the chunks it would never see.
    if (c.req.raw.signal.aborted) return sendNoContent(c);
    chunks = endpoint.drainStream(job);
  }
  return sendJson(c, { status: job.status, stream: chunks.map((output) => ({ output })) });
}

function cancel(c: Context<ApiEnv>): Response | Promise<Response> {
  const job = c.get("endpoint").cancel(visible(c));
  return sendJson(c, { id: job.id, status: job.status });
}

function retry(c: Context<ApiEnv>): Response | Promise<Response> {
  const job = visible(c);
  const retried = c.get("endpoint").retry(job);
  if (!retried) throw new HTTPException(400, { message: `job "${job.id}" is ${job.status}; only FAILED or TIMED_OUT jobs can be retried` });
  return sendJson(c, { id: retried.id, status: "IN_QUEUE" });
}

function waitParam(c: Context<ApiEnv>, fallback: number): number {
  return clamp(queryMs(c.req.query("wait"), "wait") ?? fallback, 1000, 300_000);
}
