import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { Endpoint } from "../core/endpoint.js";
import type { EmulatorEvent, EventBus } from "../core/events.js";
import { isTerminal, statusObject } from "../core/job.js";
import { clientAuthProblem } from "./auth.js";

/** A subscriber that falls this far behind is dropped: a slow client never grows memory without bound. */
const MAX_BUFFERED_BYTES = 4_000_000;

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
 * Live events over WebSocket: `/v2/EP/ws` for the whole endpoint, `/v2/EP/ws?job=ID` for one job, which
 * first receives the job's current state and every chunk so far, and is closed after its terminal event.
 */
export function attachWebSocket(server: Server, endpoints: ReadonlyMap<string, Endpoint>, bus: EventBus, apiKey: string | undefined): () => void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const [prefix, endpointId, operation, extra] = url.pathname.split("/").slice(1);
    const endpoint = endpoints.get(endpointId ?? "");
    const refuse = (status: number, message: string) => {
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? "Unauthorized" : "Not Found"}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ error: message })}`);
    };
    if (prefix !== "v2" || operation !== "ws" || extra !== undefined) return refuse(404, `no WebSocket route ${url.pathname}; use /v2/{endpoint_id}/ws`);
    const key = url.searchParams.get("key");
    const problem = clientAuthProblem(req.headers.authorization ?? (key === null ? undefined : key), apiKey);
    if (problem) return refuse(401, problem);
    if (!endpoint) return refuse(404, `no endpoint "${endpointId}"`);
    const jobId = url.searchParams.get("job") ?? undefined;
    const job = jobId === undefined ? undefined : endpoint.visibleJob(jobId);
    if (jobId !== undefined && !job) return refuse(404, `no job "${jobId}" on endpoint "${endpoint.id}"`);
    wss.handleUpgrade(req, socket, head, (ws) => subscribe(ws, endpoint, bus, jobId));
  };
  server.on("upgrade", onUpgrade);
  return () => {
    server.off("upgrade", onUpgrade);
    for (const client of wss.clients) client.terminate();
    wss.close();
  };
}

function subscribe(ws: WebSocket, endpoint: Endpoint, bus: EventBus, jobId: string | undefined): void {
  const send = (payload: Record<string, unknown>): boolean => {
    if (ws.readyState !== ws.OPEN) return false;
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      ws.terminate();
      return false;
    }
    ws.send(JSON.stringify(payload));
    return true;
  };
  if (jobId !== undefined) {
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
    if (!send(wireEvent(event))) return;
    if (jobId !== undefined && event.type === "status" && isTerminal(event.job.status)) ws.close(1000, "job finished");
  });
  ws.on("close", off);
  ws.on("error", off);
}

function jobOf(event: EmulatorEvent): string | undefined {
  return event.type === "status" ? event.job.id : "jobId" in event ? event.jobId : undefined;
}
