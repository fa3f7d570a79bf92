import type { Hono, MiddlewareHandler } from "hono";
import type { Endpoint } from "../../core/endpoint.js";
import type { ApiEnv } from "../api-env.js";
import { clientAuth } from "../middleware/auth.js";
import { ALREADY_SENT, sendError, sendJson } from "../replies.js";
import { endpointFromHost } from "./host-routing.js";
import type { LoadBalancerProxy, ProxyTarget } from "./lb-proxy.js";

export interface LoadBalancerRouteOptions {
  endpoints: ReadonlyMap<string, Endpoint>;
  loadBalancers: ReadonlyMap<string, ProxyTarget>;
  apiKey: string | undefined;
  /** Where each load-balancing endpoint also listens: its own URL, for messages. */
  urlOf: (id: string) => string;
}

/**
 * Requests whose Host is `ENDPOINT_ID.localhost` go to that load-balancing endpoint's workers, whatever
 * their path; on a queue endpoint's name, only the queue API under /v2/ is served. Runs before the other
 * checks of the API, since CORS and preflights are the user's server's to answer (the proxy applies the
 * Host, Origin and key rules itself).
 */
export function loadBalancerHosts(options: LoadBalancerRouteOptions & { proxy: LoadBalancerProxy }): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const host = c.env?.incoming?.headers.host ?? c.req.header("host");
    const balanced = endpointFromHost(host, options.loadBalancers);
    if (balanced) {
      const { incoming, outgoing } = c.env ?? {};
      if (!incoming || !outgoing) return sendError(c, 501, "load-balancing requests are served on a real connection only");
      await options.proxy.web(balanced.endpoint, incoming, outgoing);
      return ALREADY_SENT;
    }
    const queue = endpointFromHost(host, options.endpoints);
    if (queue && !c.req.path.startsWith("/v2/")) {
      return sendError(c, 400, `"${queue.id}" is a queue endpoint, not a load-balancing one: send its jobs to /v2/${queue.id}/run or /v2/${queue.id}/runsync`);
    }
    return next();
  };
}

/**
 * `/v2/{id}/…` on a load-balancing endpoint: `/health` answers its request and worker counts, `/ws` is
 * its live feed (see the feed's route), and the queue operations are refused as the platform refuses them.
 */
export function loadBalancerQueueRoutes(app: Hono<ApiEnv>, options: LoadBalancerRouteOptions): void {
  const auth = clientAuth(options.apiKey);
  app.use("/v2/:endpointId/*", async (c, next) => {
    const target = options.loadBalancers.get(c.req.param("endpointId") ?? "");
    if (!target) return next();
    const operation = c.req.path.split("/")[3];
    if (operation === "ws") return next();
    let answer: Response | Promise<Response> | undefined;
    await auth(c, async () => {
      const refusal = `not allowed for QB API: "${target.endpoint.id}" is a load-balancing endpoint; send your server's own paths to ${options.urlOf(target.endpoint.id)}/…`;
      answer = operation === "health" && c.req.method === "GET" ? sendJson(c, target.endpoint.health()) : sendError(c, 400, refusal);
    });
    return answer;
  });
}
