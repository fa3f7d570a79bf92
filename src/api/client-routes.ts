import type { IncomingMessage, ServerResponse } from "node:http";
import type { Endpoint } from "../core/endpoint.js";
import { formatMB } from "../core/endpoint.js";
import { type Job, type JobKind, isTerminal, statusObject } from "../core/job.js";
import { HttpError, clamp, queryMs, readBody, sendJson } from "./http.js";
import { parseRunRequest } from "./run-request.js";

/** Request body limits of the two submit routes, in bytes (SPEC §1.5). */
export type BodyLimits = Record<JobKind, number>;

export interface ClientRequest {
  req: IncomingMessage;
  res: ServerResponse;
  endpoint: Endpoint;
  query: URLSearchParams;
  /** The job id of routes that take one. */
  jobId: string;
  limits: BodyLimits;
  /** Where warnings about a request go (unknown policy fields). */
  warn: (message: string) => void;
}

interface ClientRoute {
  methods: readonly string[];
  takesId: boolean;
  handle: (request: ClientRequest) => Promise<void> | void;
}

const WAIT_DEFAULT = 90_000;
const STREAM_WAIT_DEFAULT = 1_000;

/** The hosted queue API of SPEC §1.2, by operation name. */
export const clientRoutes: Record<string, ClientRoute> = {
  run: { methods: ["POST"], takesId: false, handle: (r) => submit(r, "run") },
  runsync: { methods: ["POST"], takesId: false, handle: (r) => submit(r, "runsync") },
  status: { methods: ["GET", "POST"], takesId: true, handle: status },
  "status-sync": { methods: ["GET", "POST"], takesId: true, handle: statusSync },
  stream: { methods: ["GET", "POST"], takesId: true, handle: stream },
  cancel: { methods: ["POST"], takesId: true, handle: cancel },
  retry: { methods: ["POST"], takesId: true, handle: retry },
  "purge-queue": { methods: ["POST"], takesId: false, handle: ({ res, endpoint }) => sendJson(res, 200, { removed: endpoint.purgeQueue(), status: "completed" }) },
  health: { methods: ["GET"], takesId: false, handle: ({ res, endpoint }) => sendJson(res, 200, endpoint.health()) },
};

async function submit(r: ClientRequest, kind: JobKind): Promise<void> {
  const limit = r.limits[kind];
  const raw = await readBody(r.req, limit, (bytes) =>
    bytes === undefined
      ? `request body exceeds the ${formatMB(limit)} MB limit of /${kind}`
      : `request body of ${formatMB(bytes)} MB exceeds the ${formatMB(limit)} MB limit of /${kind}`,
  );
  const { submission, warnings } = parseRunRequest(raw, `/${kind}`);
  const job = r.endpoint.submit(submission, kind);
  for (const warning of warnings) r.warn(`job ${job.id}: ${warning}`);
  // The job may already be with a worker: the answer still says it was queued, as hosted.
  if (kind === "run") return sendJson(r.res, 200, { id: job.id, status: "IN_QUEUE" });
  const wait = waitParam(r.query, WAIT_DEFAULT);
  const settled = await r.endpoint.waitFor(job, wait, (j) => isTerminal(j.status));
  sendJson(r.res, 200, pendingOrFinal(settled));
}

/** A finished job's whole status object; a pending one without its interim output (as hosted). */
function pendingOrFinal(job: Job): unknown {
  const body = statusObject(job);
  if (!isTerminal(job.status)) delete body.output;
  return body;
}

function visible(r: ClientRequest): Job {
  const job = r.endpoint.visibleJob(r.jobId);
  if (!job) throw new HttpError(404, `no job "${r.jobId}" on endpoint "${r.endpoint.id}" (unknown, or past its TTL or retention)`);
  return job;
}

function status(r: ClientRequest): void {
  const job = visible(r);
  const ttl = queryMs(r.query, "ttl");
  if (ttl !== undefined) r.endpoint.shortenLifetime(job, ttl);
  sendJson(r.res, 200, statusObject(job));
}

async function statusSync(r: ClientRequest): Promise<void> {
  const job = visible(r);
  const wait = waitParam(r.query, WAIT_DEFAULT);
  sendJson(r.res, 200, statusObject(await r.endpoint.waitFor(job, wait, (j) => isTerminal(j.status))));
}

async function stream(r: ClientRequest): Promise<void> {
  let job = visible(r);
  let chunks = r.endpoint.drainStream(job);
  if (chunks.length === 0 && !isTerminal(job.status)) {
    const wait = clamp(queryMs(r.query, "wait") ?? STREAM_WAIT_DEFAULT, 0, 300_000);
    job = await r.endpoint.waitFor(job, wait, (j) => j.streamCount > j.streamCursor);
    // A client that left while held must not consume the chunks it would never see.
    if (r.res.destroyed) return;
    chunks = r.endpoint.drainStream(job);
  }
  sendJson(r.res, 200, { status: job.status, stream: chunks.map((output) => ({ output })) });
}

function cancel(r: ClientRequest): void {
  const job = r.endpoint.cancel(visible(r));
  sendJson(r.res, 200, { id: job.id, status: job.status });
}

function retry(r: ClientRequest): void {
  const job = visible(r);
  const retried = r.endpoint.retry(job);
  if (!retried) throw new HttpError(400, `job "${job.id}" is ${job.status}; only FAILED or TIMED_OUT jobs can be retried`);
  sendJson(r.res, 200, { id: retried.id, status: "IN_QUEUE" });
}

function waitParam(query: URLSearchParams, fallback: number): number {
  return clamp(queryMs(query, "wait") ?? fallback, 1000, 300_000);
}
