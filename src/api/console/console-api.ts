import type { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Endpoint } from "../../core/endpoint.js";
import type { EventBus, WorkerState } from "../../core/events.js";
import { handlerException } from "../../core/job-error.js";
import type { LoadBalancingEndpoint } from "../../core/load-balancer.js";
import type { WorkerInfo } from "../../core/worker-registry.js";
import type { JobDetails } from "../../store/history.js";
import type { JobList } from "../../store/job-list.js";
import { type HealthWorkers, type JobStatus, TERMINAL_STATUSES } from "../../types.js";
import type { ApiEnv } from "../api-env.js";
import { clientAuth } from "../middleware/auth.js";
import { sendJson } from "../replies.js";
import { type WorkerUsage, WorkerUsageMeter } from "./worker-usage.js";

/** Where the console's data comes from besides the endpoints: the job history. */
export interface ConsoleSource {
  jobs: JobList;
  /** Everything kept about one job; undefined when the history does not have it. */
  details(id: string): JobDetails | undefined;
  /** What an endpoint runs (its handler file or command), and the handler version new workers get. */
  describe(endpointId: string): { handler?: string; handlerVersion?: string };
}

export interface ConsoleApiOptions {
  endpoints: ReadonlyMap<string, Endpoint>;
  loadBalancers: ReadonlyMap<string, { endpoint: LoadBalancingEndpoint }>;
  bus: EventBus;
  apiKey: string | undefined;
  source: ConsoleSource;
}

/** The console's JSON API lives under this path, which no RunPod route uses. */
export const CONSOLE_API = "/console/api";

const STATUSES = new Set<JobStatus>(["IN_QUEUE", "IN_PROGRESS", ...TERMINAL_STATUSES]);
const PAGE_DEFAULT = 50;
const PAGE_MAX = 500;
/** The plot's window, and how many of the newest jobs are read to fill it. */
const TIMINGS_WINDOW_MS = 10 * 60_000;
const TIMINGS_JOBS = 1_000;
/** Worker notes kept at most: the last word about workers that may be gone. */
const NOTES_MAX = 500;

/**
 * The console's JSON API, behind the client API's key: the endpoints with their counts and recent
 * timings, the workers with their processes' use, a page of jobs and one job's whole record. Live
 * changes reach the page over the WebSocket feed; every action goes through the client API.
 */
export function consoleApi(app: Hono<ApiEnv>, options: ConsoleApiOptions): void {
  const auth = clientAuth(options.apiKey);
  const notes = workerNotes(options.bus);
  const usage = new WorkerUsageMeter();

  app.get(`${CONSOLE_API}/endpoints`, auth, (c) => {
    const now = Date.now();
    const queues = [...options.endpoints.values()].map((endpoint) => {
      const health = endpoint.health();
      return {
        id: endpoint.id,
        kind: "queue",
        ...options.source.describe(endpoint.id),
        queue: { inQueue: health.jobs.inQueue, inProgress: health.jobs.inProgress },
        jobs: { completed: health.jobs.completed, failed: health.jobs.failed, retried: health.jobs.retried },
        workers: health.workers,
        problems: notes.problems(endpoint.id, health.workers),
        timings: options.source.jobs.timings(endpoint.id, now - TIMINGS_WINDOW_MS, TIMINGS_JOBS),
      };
    });
    const balancers = [...options.loadBalancers.values()].map(({ endpoint }) => {
      const health = endpoint.health();
      return { id: endpoint.id, kind: "load-balancing", ...options.source.describe(endpoint.id), requests: health.requests, workers: health.workers, problems: notes.problems(endpoint.id, health.workers) };
    });
    return sendJson(c, { endpoints: [...queues, ...balancers], timingsWindowMs: TIMINGS_WINDOW_MS });
  });

  app.get(`${CONSOLE_API}/workers`, auth, (c) => {
    const all = [...options.endpoints.values(), ...[...options.loadBalancers.values()].map((target) => target.endpoint)].flatMap((endpoint) =>
      endpoint.workers().map((worker) => ({ endpointId: endpoint.id, worker })),
    );
    const used = usage.read(all.map(({ worker }) => worker), Date.now());
    const workers = all.map(({ endpointId, worker }) => consoleWorker(endpointId, worker, used.get(worker.id), notes.detail(worker.id), options.source.describe(endpointId).handlerVersion));
    return sendJson(c, { workers });
  });

  app.get(`${CONSOLE_API}/jobs`, auth, (c) => {
    const status = c.req.query("status") || undefined;
    if (status !== undefined && !STATUSES.has(status as JobStatus)) {
      throw new HTTPException(400, { message: `status must be one of ${[...STATUSES].join(", ")}, got "${status}"` });
    }
    const limit = Math.min(Math.max(whole(c.req.query("limit"), "limit") ?? PAGE_DEFAULT, 1), PAGE_MAX);
    // One more than asked tells whether there is a next page.
    const page = options.source.jobs.page({
      endpointId: c.req.query("endpoint") || undefined,
      status: status as JobStatus | undefined,
      text: c.req.query("q")?.trim() || undefined,
      before: whole(c.req.query("before"), "before"),
      limit: limit + 1,
    });
    const more = page.length > limit;
    const jobs = more ? page.slice(0, -1) : page;
    return sendJson(c, { jobs, next: more ? (jobs.at(-1)?.seq ?? null) : null });
  });

  app.get(`${CONSOLE_API}/jobs/:jobId`, auth, (c) => {
    const id = c.req.param("jobId");
    const details = options.source.details(id);
    if (!details) throw new HTTPException(404, { message: `no job "${id}" in the history` });
    const { s3Config: _secret, ...job } = details.job;
    const exception = job.error === undefined ? undefined : handlerException(job.error);
    return sendJson(c, { ...details, job, exception, known: options.endpoints.has(job.endpointId) });
  });
}

function consoleWorker(endpointId: string, worker: WorkerInfo, usage: WorkerUsage | undefined, detail: string | undefined, currentVersion: string | undefined) {
  return {
    endpointId,
    ...worker,
    current: worker.handlerVersion === currentVersion,
    ...(detail === undefined ? {} : { detail }),
    ...(usage === undefined ? {} : { usage }),
  };
}

/** A whole number from a query parameter; undefined when absent. */
function whole(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new HTTPException(400, { message: `query parameter "${name}" must be a whole number, got "${raw}"` });
  return value;
}

/**
 * The last word said about each worker (why it is unhealthy, outdated or throttled), which the worker
 * list does not carry, and each endpoint's workers that are wanted but missing, with why.
 */
function workerNotes(bus: EventBus) {
  const details = new Map<string, { endpointId: string; state: WorkerState; detail?: string }>();
  bus.on((event) => {
    if (event.type !== "worker") return;
    if (event.state === "exited") return void details.delete(event.workerId);
    details.delete(event.workerId);
    details.set(event.workerId, { endpointId: event.endpointId, state: event.state, detail: event.detail });
    if (details.size > NOTES_MAX) details.delete(details.keys().next().value as string);
  });
  return {
    detail: (workerId: string) => details.get(workerId)?.detail,
    /** The newest reasons for the endpoint's throttled and unhealthy workers, while /health counts any. */
    problems: (endpointId: string, counts: HealthWorkers) => {
      if (counts.throttled + counts.unhealthy === 0) return [];
      return [...details.entries()]
        .filter(([, note]) => note.endpointId === endpointId && (note.state === "throttled" || note.state === "unhealthy") && note.detail !== undefined)
        .slice(-3)
        .map(([workerId, note]) => ({ workerId, state: note.state, detail: note.detail as string }));
    },
  };
}
