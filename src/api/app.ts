import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import type { Endpoint } from "../core/endpoint.js";
import type { EventBus } from "../core/events.js";
import { EmulatorError } from "../errors.js";
import type { ApiEnv } from "./api-env.js";
import { type BodyLimits, JOB_ROUTES, clientRoutes } from "./client-routes.js";
import { consoleApi, type ConsoleSource } from "./console/console-api.js";
import { consoleAssets } from "./console/console-assets.js";
import { debug } from "./debug-log.js";
import { type CorsSetting, browserOrigin } from "./middleware/browser-origin.js";
import { hostCheck, isLoopback } from "./middleware/host-check.js";
import { openAiRoutes } from "./openai-routes.js";
import { ALREADY_SENT, sendError } from "./replies.js";
import { ClientGone } from "./request-body.js";
import { webhookHostSet } from "./webhook-hosts.js";
import type { LoadBalancerProxy, ProxyTarget } from "./lb/lb-proxy.js";
import { loadBalancerHosts, loadBalancerQueueRoutes } from "./lb/lb-routes.js";
import { feedRoute } from "./websocket.js";
import { type WorkerEnvironmentAccess, workerEnvironmentRoute } from "./worker-environment-route.js";
import { workerRoutes } from "./worker-routes.js";

export interface ApiOptions {
  endpoints: ReadonlyMap<string, Endpoint>;
  /** The load-balancing endpoints, served through `proxy`. */
  loadBalancers?: ReadonlyMap<string, ProxyTarget>;
  proxy?: LoadBalancerProxy;
  /** A load-balancing endpoint's own URL, for messages. */
  loadBalancerUrl?: (id: string) => string;
  bus: EventBus;
  apiKey: string | undefined;
  limits: BodyLimits;
  /** Which web pages may call the API; default: pages served from this machine. */
  cors: CorsSetting;
  /** The address or name the server is bound to. */
  boundHost: string;
  /** Host names answered besides the emulator's own. */
  allowedHosts: readonly string[];
  /** Webhook hosts allowed although link-local or metadata addresses. */
  allowWebhookHosts: readonly string[];
  /** How `emulator shell` reads a running worker's environment; no route without it. */
  workerEnvironment?: WorkerEnvironmentAccess;
  /** The job history the web console reads; without it, no console is served. */
  console?: ConsoleSource;
  /** Called for an internal error while answering a request (the request gets a generic answer). */
  onInternalError: (error: unknown) => void;
  /** The largest body a worker may post; default 256 MB (lowered by tests). */
  workerBodyLimit?: number;
}

/**
 * The HTTP API as one Hono app: the client API, the worker protocol and the live feed under
 * `/v2/{endpoint}/…`, and the web console at `/`, behind the Host and Origin checks. Every error answer
 * is `{"error": "…"}`.
 */
export function createApiApp(options: ApiOptions): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();
  // Bound beyond loopback with a key, any name may reach the emulator: a rebound page lacks the key.
  const anyHost = options.apiKey !== undefined && !isLoopback(options.boundHost);
  const loadBalancers = options.loadBalancers ?? new Map<string, ProxyTarget>();
  const lbRoutes = { endpoints: options.endpoints, loadBalancers, apiKey: options.apiKey, urlOf: options.loadBalancerUrl ?? ((id: string) => id) };
  if (options.proxy) app.use(loadBalancerHosts({ ...lbRoutes, proxy: options.proxy }));
  app.use(
    hostCheck({ boundHost: options.boundHost, allowedHosts: options.allowedHosts, anyHost }),
    browserOrigin(options.cors),
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) => {
        const operation = c.req.path.startsWith("/v2/") ? `/${c.req.path.split("/")[3]}` : c.req.path;
        const named = methods.filter((method) => method !== "HEAD");
        return sendError(c, 405, `${operation} accepts ${named.join(" and ")}, not ${c.req.method}`, { Allow: methods.join(", ") });
      },
    }),
  );
  const allowedWebhookHosts = webhookHostSet(options.allowWebhookHosts);
  loadBalancerQueueRoutes(app, lbRoutes);
  clientRoutes(app, { endpoints: options.endpoints, apiKey: options.apiKey, limits: options.limits, allowedWebhookHosts });
  openAiRoutes(app, { endpoints: options.endpoints, bus: options.bus, apiKey: options.apiKey, limit: options.limits.runsync });
  workerRoutes(app, options.endpoints, options.workerBodyLimit);
  feedRoute(app, { ...options, loadBalancers });
  if (options.workerEnvironment) workerEnvironmentRoute(app, options.workerEnvironment);
  if (options.console) {
    consoleApi(app, { ...options, loadBalancers, source: options.console });
    consoleAssets(app);
  }
  app.notFound((c) => sendError(c, 404, notFoundMessage(c.req.path)));
  app.onError((error, c) => {
    if (error instanceof HTTPException) return sendError(c, error.status, error.message);
    // A full disk refuses new jobs; what was accepted is kept (store/jobs.ts).
    if (error instanceof EmulatorError && error.code === "ERR_DISK_FULL") return sendError(c, 503, error.message);
    if (error instanceof ClientGone) {
      debug("%s %s: %s", c.req.method, c.req.path, error.message);
      return ALREADY_SENT;
    }
    options.onInternalError(error);
    return sendError(c, 500, `internal error: ${(error as Error).message ?? error}`);
  });
  return app;
}

function notFoundMessage(path: string): string {
  const [prefix, endpointId, operation] = path.split("/").slice(1);
  if (prefix === "console") return `no route ${path}; the console is at /`;
  if (prefix !== "v2" || !endpointId || !operation) return `no route ${path}; the API lives under /v2/{endpoint_id}/`;
  if (JOB_ROUTES.has(operation)) return `no route ${path}; use /v2/${endpointId}/${operation}/{job_id}`;
  return `no route ${path}`;
}
