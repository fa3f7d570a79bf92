import { type IncomingMessage, type RequestListener, STATUS_CODES, type Server, type ServerResponse, createServer } from "node:http";
import type { Duplex } from "node:stream";
import { type HttpBindings, RequestError, createAdaptorServer, getRequestListener } from "@hono/node-server";
import type { Hono } from "hono";
import { WebSocketServer } from "ws";
import type { ApiEnv } from "./api-env.js";
import { debug } from "./debug-log.js";
import { endWithError } from "./raw-answer.js";
import { isFeedPath } from "./websocket.js";

/**
 * Bounds on every connection, none shorter than a legitimate long-poll: job-take and job-stop hold for
 * 30 s, runsync, status-sync and stream for up to 300 s, and they wait with the request fully received,
 * where only the idle time counts.
 */
export interface ConnectionLimits {
  /** Until a request's headers have arrived. */
  headersMs: number;
  /** Until a whole request has arrived, body included. */
  requestMs: number;
  /** An idle keep-alive connection. */
  keepAliveMs: number;
  /** A connection on which nothing moves at all. */
  idleMs: number;
  /** How often the header and request times are checked. */
  checkEveryMs: number;
  /** Connections beyond this are closed at once rather than letting a flood exhaust file descriptors. */
  connections: number;
}

export const connectionLimits: ConnectionLimits = {
  headersMs: 20_000,
  // A 20 MB body at 1.5 Mbit/s.
  requestMs: 120_000,
  // Longer than clients' own pools keep idle connections, so that they close first.
  keepAliveMs: 65_000,
  // Past the longest hold.
  idleMs: 330_000,
  checkEveryMs: 2_000,
  connections: 1_000,
};

const WS_MAX_MESSAGE_BYTES = 64 * 1024;

/** Response headers that describe the connection, not the answer. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"]);

export interface ApiServer {
  server: Server;
  /** Ends every WebSocket subscription. */
  closeSubscriptions(): void;
}

/**
 * The HTTP server of the API, through @hono/node-server, hardened: bounded header, body and idle times
 * and connection count; a JSON answer for malformed requests; WebSocket handshakes for the feed, and
 * every other `Upgrade` request (`h2c` from curl --http2, a WebSocket to another path) answered as the
 * plain request it also is; `100 Continue` only once a body is wanted. The user's global
 * Request/Response are left alone: this runs inside users' test processes.
 */
export function createApiServer(
  app: Hono<ApiEnv>,
  onError: (message: string) => void,
  limits = connectionLimits,
  /** Takes an upgrade request meant for a load-balancing endpoint's worker, or a worker channel; false when it is neither. */
  takeUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean,
): ApiServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_MESSAGE_BYTES });
  // WebSocket handshakes to paths other than the feed's, re-read as plain requests instead.
  const replayed = new WeakSet<IncomingMessage>();
  // A WebSocket handshake: @hono/node-server completes it if the feed's route accepted it.
  const handshake = async (request: Request, env: object): Promise<Response> => {
    const incoming = (env as Partial<HttpBindings>).incoming;
    if (!incoming || replayed.has(incoming)) return new Response(null, { status: 400 });
    const response = await app.fetch(request, env);
    if (response.status >= 300) await refuseHandshake(incoming.socket, response);
    return response;
  };
  const fetch = (request: Request, env: object) => ((env as Partial<HttpBindings>).outgoing ? app.fetch(request, env) : handshake(request, env));
  // The same listener @hono/node-server would make, with an answer for what never becomes a Request.
  const listener = getRequestListener(fetch, { overrideGlobalObjects: false, errorHandler: unreadableRequest }) as RequestListener;
  const server = createAdaptorServer({
    fetch,
    overrideGlobalObjects: false,
    websocket: { server: wss },
    serverOptions: { headersTimeout: limits.headersMs, requestTimeout: limits.requestMs, connectionsCheckingInterval: limits.checkEveryMs },
    createServer: ((options: object) => {
      const created = createServer(options, listener);
      // Without a listener Node sends `100 Continue` before the route could refuse the body.
      created.on("checkContinue", listener);
      return created;
    }) as typeof createServer,
  }) as Server;
  server.keepAliveTimeout = limits.keepAliveMs;
  server.timeout = limits.idleMs;
  server.maxConnections = limits.connections;
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => answerClientError(error, socket, limits));
  server.on("drop", () => debug("a connection was refused: %d are open already", limits.connections));
  // After listening, an error of the server itself (such as running out of file descriptors on accept).
  server.on("error", (error) => {
    if (server.listening) onError(`the HTTP server: ${error.message}`);
  });
  // Runs before @hono/node-server's own upgrade listener.
  server.prependListener("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands an upgrading socket over without an error listener: one reset would end the process.
    if (socket.listenerCount("error") === 0) socket.on("error", (error) => debug("upgrade socket: %s", error.message));
    let taken: boolean | undefined;
    try {
      taken = takeUpgrade?.(req, socket, head);
    } catch (error) {
      // A listener of the server's that throws would end the process: the request is answered instead.
      onError(`internal error, please report: ${(error as Error | undefined)?.stack ?? error}`);
      if (!socket.destroyed) endWithError(socket, 500, "internal error");
      taken = true;
    }
    if (taken) return void replayed.add(req);
    if (req.headers.upgrade?.toLowerCase() === "websocket" && isFeedPath((req.url ?? "").split("?")[0] ?? "")) return;
    if (socket.destroyed) return;
    replayed.add(req);
    replayAsPlainRequest(server, req, socket, head);
  });
  return {
    server,
    closeSubscriptions() {
      for (const client of wss.clients) client.terminate();
    },
  };
}

/**
 * Gives a request that asked for a protocol upgrade back to the HTTP server as the plain request it also
 * is (RFC 9110 lets a server ignore Upgrade), by putting its head back without the upgrade headers in
 * front of what followed it, on the same connection. Node has no switch to do this (it comes with
 * `shouldUpgradeCallback` in later versions): once an upgrade listener exists, every Upgrade request is
 * an upgrade.
 */
function replayAsPlainRequest(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    let value = req.rawHeaders[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === "upgrade" || lower === "http2-settings") continue;
    if (lower === "connection") {
      value = value
        .split(",")
        .map((token) => token.trim())
        .filter((token) => !/^(upgrade|http2-settings)$/i.test(token))
        .join(", ");
      if (value === "") continue;
    }
    lines.push(`${name}: ${value}`);
  }
  // Header bytes came in as latin1 and go back the same way.
  socket.unshift(Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), head]));
  server.emit("connection", socket);
}

/** Writes the app's refusal of a WebSocket handshake (401, 403, 404 …) with its JSON body, then closes. */
async function refuseHandshake(socket: Duplex, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  if (socket.destroyed || !socket.writable) return;
  const lines = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ""}`];
  response.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) lines.push(`${name}: ${value}`);
  });
  lines.push(`Content-Length: ${body.length}`, "Connection: close");
  // Closed once written: an upgrading socket has no timeout that would end it otherwise.
  socket.end(Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), body]), () => socket.destroy());
}

/** A request with a target or Host that makes no URL (a backslash in the path, an absolute URL that does not parse). */
function unreadableRequest(error: unknown): Response {
  const message = error instanceof RequestError ? `malformed request: ${error.message}` : `internal error: ${(error as Error).message ?? error}`;
  return new Response(JSON.stringify({ error: message }), { status: error instanceof RequestError ? 400 : 500, headers: { "Content-Type": "application/json" } });
}

/**
 * A request Node could not parse, or that ran out of time, or a connection reset: answered with one JSON
 * error where an answer can still be written, and the connection closed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex, limits: ConnectionLimits): void {
  debug("client error: %s", error.message);
  // Node's own handler checks the same: never write into an answer already on its way.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (error.code === "ECONNRESET" || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, message] = clientErrorAnswer(error, limits);
  endWithError(socket, status, message);
}

function clientErrorAnswer(error: NodeJS.ErrnoException, limits: ConnectionLimits): [number, string] {
  switch (error.code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [408, `the request did not arrive in time: headers within ${limits.headersMs / 1000} s, the whole request within ${limits.requestMs / 1000} s`];
    case "HPE_HEADER_OVERFLOW":
      return [431, "the request's headers are too large"];
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return [413, "the request's chunk extensions are too large"];
    default:
      return [400, `malformed HTTP request: ${error.message}`];
  }
}
