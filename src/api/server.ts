import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { Endpoint } from "../core/endpoint.js";
import { clientAuthProblem } from "./auth.js";
import { type BodyLimits, clientRoutes } from "./client-routes.js";
import { HttpError, sendError } from "./http.js";
import { authenticateWorker, workerRoutes } from "./worker-routes.js";

export interface ApiOptions {
  endpoints: ReadonlyMap<string, Endpoint>;
  apiKey: string | undefined;
  limits: BodyLimits;
  /** Called for an internal error while answering a request (the request gets a generic answer). */
  onInternalError: (error: unknown) => void;
}

/** The HTTP server: the client API and the worker protocol under `/v2/{endpoint}/…`. */
export function createApiServer(options: ApiOptions): Server {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return sendError(res, error.status, error.message, error.headers);
      options.onInternalError(error);
      sendError(res, 500, `internal error: ${(error as Error).message ?? error}`);
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Long-polls (job-take, runsync) outlive Node's default request timeout.
  server.requestTimeout = 0;
  return server;
}

async function handle(options: ApiOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const [prefix, endpointId, operation, first, second, ...rest] = url.pathname.split("/").slice(1).map(decode);
  if (prefix !== "v2" || !endpointId || !operation) throw new HttpError(404, `no route ${url.pathname}; the API lives under /v2/{endpoint_id}/`);
  const method = req.method ?? "GET";

  const workerRoute = Object.hasOwn(workerRoutes, operation) ? workerRoutes[operation] : undefined;
  if (workerRoute) {
    const args = workerRoute.takesJobId ? 2 : 1;
    if (!first || (args === 2 && !second) || (args === 1 && second !== undefined) || rest.length) throw new HttpError(404, `no route ${url.pathname}`);
    allowMethod(workerRoute.methods, method, operation);
    const endpoint = endpointFor(options, endpointId);
    const worker = authenticateWorker(endpoint, first, url.searchParams);
    return workerRoute.handle({ req, res, endpoint, query: url.searchParams, worker, jobId: second ?? "" });
  }

  const route = Object.hasOwn(clientRoutes, operation) ? clientRoutes[operation] : undefined;
  if (!route || second !== undefined || (route.takesId ? !first : first !== undefined)) {
    throw new HttpError(404, route?.takesId ? `no route ${url.pathname}; use /v2/${endpointId}/${operation}/{job_id}` : `no route ${url.pathname}`);
  }
  allowMethod(route.methods, method, operation);
  const problem = clientAuthProblem(req.headers.authorization, options.apiKey);
  if (problem) throw new HttpError(401, problem);
  const endpoint = endpointFor(options, endpointId);
  await route.handle({
    req, res, endpoint, query: url.searchParams, jobId: first ?? "", limits: options.limits,
    warn: (message) => endpoint.warn(message),
  });
}

function allowMethod(methods: readonly string[], method: string, operation: string): void {
  if (!methods.includes(method)) {
    throw new HttpError(405, `/${operation} accepts ${methods.join(" and ")}, not ${method}`, { Allow: methods.join(", ") });
  }
}

function endpointFor(options: ApiOptions, id: string): Endpoint {
  const endpoint = options.endpoints.get(id);
  if (!endpoint) throw new HttpError(404, `no endpoint "${id}"; this emulator serves ${[...options.endpoints.keys()].map((k) => `"${k}"`).join(", ")}`);
  return endpoint;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
