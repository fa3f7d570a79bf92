import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { type HttpBindings, createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { debug } from "../debug-log.js";
import { ALREADY_SENT } from "../replies.js";
import { answerClientError, connectionLimits } from "../server.js";
import type { LoadBalancerProxy, ProxyTarget } from "./lb-proxy.js";

/**
 * A load-balancing endpoint's own port (SPEC §9): every request on it, any path, goes to the endpoint's
 * workers, so absolute paths in what the user's server sends (FastAPI's /docs loading /openapi.json)
 * keep working, and no client needs a name that resolves to this machine. The same bounds as the API's
 * server on headers, bodies, idle connections and their number. The proxy streams the Node request and
 * response both ways, so the one route hands them over as they are.
 */
export function createLoadBalancerServer(proxy: LoadBalancerProxy, target: ProxyTarget, onError: (message: string) => void): Server {
  const limits = connectionLimits;
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.all("*", async (c) => {
    const { incoming, outgoing } = c.env;
    await proxy.web(target, incoming, outgoing).catch((error: Error) => {
      onError(`internal error while proxying ${incoming.method} ${incoming.url}, please report: ${error.stack ?? error}`);
      outgoing.destroy();
    });
    return ALREADY_SENT;
  });
  const server = createAdaptorServer({
    fetch: app.fetch,
    overrideGlobalObjects: false,
    serverOptions: { headersTimeout: limits.headersMs, requestTimeout: limits.requestMs, connectionsCheckingInterval: limits.checkEveryMs },
  }) as Server;
  server.keepAliveTimeout = limits.keepAliveMs;
  // Past the processing timeout, which ends a request's own wait.
  server.timeout = Math.max(limits.idleMs, target.processingTimeoutMs + 10_000);
  server.maxConnections = limits.connections;
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => answerClientError(error, socket, limits));
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", (error) => debug("load-balancing upgrade socket: %s", error.message));
    void proxy.upgrade(target, req, socket, head);
  });
  server.on("error", (error) => {
    if (server.listening) onError(`the server of load-balancing endpoint ${target.endpoint.id}: ${error.message}`);
  });
  return server;
}
