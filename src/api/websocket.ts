import { upgradeWebSocket } from "@hono/node-server";
import type { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { WebSocket } from "ws";
import type { Endpoint } from "../core/endpoint.js";
import type { EmulatorEvent, EventBus } from "../core/events.js";
import { isTerminal, statusObject } from "../core/job.js";
import type { LoadBalancingEndpoint } from "../core/load-balancer.js";
import type { ApiEnv } from "./api-env.js";
import { clientAuth } from "./middleware/auth.js";
import { unknownEndpoint } from "./middleware/endpoint-lookup.js";
import { sendError } from "./replies.js";

/** A subscriber that falls this far behind is dropped: a slow client never grows memory without bound. */
const MAX_BUFFERED_BYTES = 4_000_000;

const FEED_PATH = /^\/v2\/[^/]+\/ws$/;

/** Whether a request path is the feed's, the only one a WebSocket handshake is meant for. */
export function isFeedPath(pathname: string): boolean {
  return FEED_PATH.test(pathname);
}

/** The JSON sent for one event (SPEC §6). */
export function wireEvent(event: EmulatorEvent): Record<string, unknown> {
  if (event.type === "status") {
    const { job } = event;
    return { type: "status", jobId: job.id, workerId: job.workerId, time: event.time, status: job.status, job: statusObject(job) };
  }
  const { endpointId: _endpoint, ...rest } = event;
  return rest;
}

/**
 * Live events over WebSocket (SPEC §6): `/v2/EP/ws` for the whole endpoint, `/v2/EP/ws?job=ID` for one
 * job, which first receives the job's current state and every chunk so far, and is closed after its
 * terminal event. The API key may come as `?key=`, since browsers cannot set headers on a WebSocket.
 */
export function feedRoute(
  app: Hono<ApiEnv>,
  options: { endpoints: ReadonlyMap<string, Endpoint>; loadBalancers: ReadonlyMap<string, { endpoint: LoadBalancingEndpoint }>; bus: EventBus; apiKey: string | undefined },
): void {
  app.get("/v2/:endpointId/ws", clientAuth(options.apiKey, { fromQuery: true }), (c) => {
    const id = c.req.param("endpointId") ?? "";
    // A load-balancing endpoint has workers and requests but no jobs: its feed is the endpoint's alone.
    const endpoint = options.endpoints.get(id) ?? options.loadBalancers.get(id)?.endpoint;
    if (!endpoint) throw new HTTPException(404, { message: unknownEndpoint(id, [...options.endpoints.keys(), ...options.loadBalancers.keys()]) });
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return sendError(c, 426, `/v2/${endpoint.id}/ws is a WebSocket feed; connect to ws://HOST:PORT/v2/${endpoint.id}/ws`, { Upgrade: "websocket" });
    }
    const jobId = c.req.query("job");
    if (jobId !== undefined && !("visibleJob" in endpoint && endpoint.visibleJob(jobId))) throw new HTTPException(404, { message: `no job "${jobId}" on endpoint "${endpoint.id}"` });
    return upgradeWebSocket(c, { onOpen: (_event, ws) => subscribe(ws.raw as WebSocket, endpoint, options.bus, jobId) });
  });
}

/** Each event's frame text, encoded once however many subscribers it goes to. */
const encoded = new WeakMap<EmulatorEvent, Buffer>();

function wireBytes(event: EmulatorEvent): Buffer {
  let bytes = encoded.get(event);
  if (bytes === undefined) {
    bytes = Buffer.from(JSON.stringify(wireEvent(event)));
    encoded.set(event, bytes);
  }
  return bytes;
}

function subscribe(ws: WebSocket, endpoint: Endpoint | LoadBalancingEndpoint, bus: EventBus, jobId: string | undefined): void {
  const send = (payload: Record<string, unknown> | Buffer): boolean => {
    if (ws.readyState !== ws.OPEN) return false;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      ws.terminate();
      return false;
    }
    ws.send(Buffer.isBuffer(payload) ? payload : JSON.stringify(payload), { binary: false });
    return true;
  };
  if (jobId !== undefined && "visibleJob" in endpoint) {
    // The replay and the subscription happen in one synchronous step, so no event falls between them.
    const job = endpoint.visibleJob(jobId);
    if (!job) return ws.close(1008, "job not found");
    send(wireEvent({ type: "status", endpointId: endpoint.id, time: endpoint.clock.now(), job }));
    endpoint.chunks(job).forEach((output, seq) => send({ type: "stream", jobId, workerId: job.workerId, seq, output, time: endpoint.clock.now() }));
    if (isTerminal(job.status)) return ws.close(1000, "job finished");
  }
  const off = bus.on((event) => {
    if (event.endpointId !== endpoint.id) return;
    if (jobId !== undefined && jobOf(event) !== jobId) return;
    if (!send(wireBytes(event))) return;
    if (jobId !== undefined && event.type === "status" && isTerminal(event.job.status)) ws.close(1000, "job finished");
  });
  ws.on("close", off);
  ws.on("error", off);
}

function jobOf(event: EmulatorEvent): string | undefined {
  return event.type === "status" ? event.job.id : "jobId" in event ? event.jobId : undefined;
}
