import { type ClientRequest, type IncomingMessage, STATUS_CODES, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { Transform } from "node:stream";
import { createProxyServer } from "httpxy";
import { formatMB } from "../../core/job-result.js";
import type { Affinity, Lease, LoadBalancingEndpoint, NoWorker } from "../../core/load-balancer.js";
import { debug } from "../debug-log.js";
import { discardRest } from "../request-body.js";

/** The hosted limit on a load-balancing request's body and on its answer's (SPEC §9), in bytes. */
export const LB_BODY_LIMIT = 30_000_000;

/** One load-balancing endpoint as the proxy serves it. */
export interface ProxyTarget {
  endpoint: LoadBalancingEndpoint;
  /** How long a request may take, its answer included, before it is cut off (the platform answers 524). */
  processingTimeoutMs: number;
}

/** What the proxy knows of one request in flight. */
interface Exchange {
  lease: Lease;
  upstream?: ClientRequest;
}

const REFUSALS: Record<NoWorker, [number, string]> = {
  "no workers available": [400, "no workers available"],
  affinity_worker_gone: [404, "affinity_worker_gone: the worker named by X-Runpod-Worker-Id is gone"],
  worker_timeout: [400, "worker_timeout: the worker named by X-Runpod-Worker-Id was not ready in time"],
};

/**
 * Moves load-balancing requests to a ready worker's own server and back (SPEC §9): any method and path,
 * bodies streamed both ways as they arrive (chunked answers, server-sent events), WebSocket upgrades
 * piped, no retries; each answer carries X-Runpod-Worker-Id. httpxy (unjs's maintained fork of
 * node-http-proxy) does the forwarding — header hygiene, X-Forwarded-*, upgrade handshakes; the
 * platform's rules around it (access, the 30 MB limits, the timeouts, worker choice) are here.
 */
export class LoadBalancerProxy {
  private readonly proxy = createProxyServer({ xfwd: true });
  private readonly exchanges = new WeakMap<IncomingMessage, Exchange>();

  constructor(private readonly refusal: (req: IncomingMessage) => [number, string] | undefined) {
    this.proxy.on("proxyReq", (upstream, req) => {
      const exchange = this.exchanges.get(req);
      if (exchange) exchange.upstream = upstream;
    });
    this.proxy.on("proxyRes", (answer, req, res) => this.limitAnswer(answer, req, res));
    this.proxy.on("proxyReqWs", (upstream, req) => {
      const workerId = this.exchanges.get(req)?.lease.workerId;
      // Runs before httpxy writes the 101 from these headers.
      if (workerId) upstream.once("upgrade", (answer: IncomingMessage) => void (answer.headers["x-runpod-worker-id"] = workerId));
    });
    // Errors are handled where each call is awaited; this keeps httpxy from throwing any it emits itself.
    this.proxy.on("error", (error) => debug("load-balancing proxy: %s", error.message));
  }

  /** Serves one plain request (any method and path) from a worker of `target`. */
  async web(target: ProxyTarget, req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on("error", (error) => debug("load-balancing answer: %s", error.message));
    const refused = this.refusal(req);
    if (refused) return replyError(req, res, ...refused);
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > LB_BODY_LIMIT) return replyError(req, res, 413, `request body of ${formatMB(declared)} MB exceeds the ${formatMB(LB_BODY_LIMIT)} MB limit of load-balancing endpoints`);
    const gone = new AbortController();
    res.once("close", () => gone.abort());
    const routed = await target.endpoint.route(affinity(req), gone.signal);
    if (gone.signal.aborted) {
      if ("lease" in routed) routed.lease.release({ status: 499, failed: true, method: req.method ?? "GET", path: req.url ?? "/" });
      return;
    }
    if ("refused" in routed) {
      this.warnRefused(target, req, routed.refused);
      return replyError(req, res, ...REFUSALS[routed.refused]);
    }
    const { lease } = routed;
    const exchange: Exchange = { lease };
    this.exchanges.set(req, exchange);
    let failed = false;
    const timer = setTimeout(() => {
      failed = true;
      target.endpoint.warn(`${req.method} ${req.url} on worker ${lease.workerId} ran past the processing timeout of ${target.processingTimeoutMs} ms; cut off`);
      exchange.upstream?.destroy();
      replyError(req, res, 524, `the request ran past the processing timeout of ${target.processingTimeoutMs} ms`);
    }, target.processingTimeoutMs);
    res.once("close", () => clearTimeout(timer));
    res.setHeader("X-Runpod-Worker-Id", lease.workerId);
    // The client waits for `100 Continue` only once, here; the worker's server gets a plain request.
    if (req.headers.expect?.toLowerCase() === "100-continue" && !res.headersSent) res.writeContinue();
    delete req.headers.expect;
    const body = declared > 0 ? undefined : this.countedBody(req, res, exchange);
    try {
      await this.proxy.web(req, res, { target: `http://127.0.0.1:${lease.port}`, ...(body ? { buffer: body } : {}) });
    } catch (error) {
      failed = true;
      replyError(req, res, 502, `worker ${lease.workerId}'s server did not answer: ${(error as Error).message}`);
    }
    if (!res.closed) await new Promise((resolve) => res.once("close", resolve));
    lease.release({ status: res.statusCode, failed: failed || !res.writableFinished || res.statusCode >= 500, method: req.method ?? "GET", path: req.url ?? "/" });
  }

  /** Serves a WebSocket handshake (or another upgrade) by piping it to a worker of `target`. */
  async upgrade(target: ProxyTarget, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refused = this.refusal(req);
    if (refused) return socketError(socket, ...refused);
    const gone = new AbortController();
    socket.once("close", () => gone.abort());
    const routed = await target.endpoint.route(affinity(req), gone.signal);
    if ("refused" in routed) {
      this.warnRefused(target, req, routed.refused);
      return socketError(socket, ...REFUSALS[routed.refused]);
    }
    const { lease } = routed;
    const outcome = { status: 101, failed: false, method: req.method ?? "GET", path: req.url ?? "/" };
    if (gone.signal.aborted) return lease.release({ ...outcome, failed: true });
    this.exchanges.set(req, { lease });
    socket.once("close", () => lease.release(outcome));
    try {
      await this.proxy.ws(req, socket as never, { target: `http://127.0.0.1:${lease.port}` }, head);
    } catch (error) {
      outcome.failed = true;
      socketError(socket, 502, `worker ${lease.workerId}'s server did not answer: ${(error as Error).message}`);
    }
  }

  /** A chunked body, counted as it passes: past the limit the request is refused and the upstream one dropped. */
  private countedBody(req: IncomingMessage, res: ServerResponse, exchange: Exchange): Transform {
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        if (bytes <= LB_BODY_LIMIT) return done(null, chunk);
        req.unpipe(counter);
        exchange.upstream?.destroy();
        replyError(req, res, 413, `request body exceeds the ${formatMB(LB_BODY_LIMIT)} MB limit of load-balancing endpoints`);
        done();
      },
    });
    req.pipe(counter);
    return counter;
  }

  /** An answer over the limit is refused before its headers when it says its length, else cut off at the limit. */
  private limitAnswer(answer: IncomingMessage, req: IncomingMessage, res: ServerResponse): void {
    const tooLarge = (bytes?: number) => `the worker's answer${bytes === undefined ? "" : ` of ${formatMB(bytes)} MB`} exceeds the ${formatMB(LB_BODY_LIMIT)} MB limit of load-balancing endpoints`;
    const declared = Number(answer.headers["content-length"] ?? 0);
    if (declared > LB_BODY_LIMIT) {
      answer.destroy();
      return replyError(req, res, 502, tooLarge(declared));
    }
    let bytes = 0;
    answer.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= LB_BODY_LIMIT) return;
      debug("%s %s: %s", req.method, req.url, tooLarge());
      answer.destroy();
      res.destroy();
    });
  }

  private warnRefused(target: ProxyTarget, req: IncomingMessage, reason: NoWorker): void {
    const states = target.endpoint.workers().map((worker) => `${worker.id} ${worker.state}`).join(", ") || "none started";
    target.endpoint.warn(`${req.method} ${req.url}: ${reason} (workers: ${states})`);
  }
}

/** `X-Runpod-Worker-Id: <id>` asks for a worker, `strict <id>` insists (SPEC §9). */
function affinity(req: IncomingMessage): Affinity | undefined {
  const header = req.headers["x-runpod-worker-id"];
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  const strict = /^strict\s+/i.exec(value);
  return { workerId: strict ? value.slice(strict[0].length).trim() : value, strict: strict !== null };
}

/**
 * `{"error": message}` on a plain request; once an answer has begun, the connection is cut instead. A body
 * still arriving is read and thrown away first (bounded), so clients that send everything before reading
 * see the answer.
 */
export function replyError(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: message });
  const pending = !req.complete && !req.destroyed;
  res.removeHeader("X-Runpod-Worker-Id");
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), ...(pending ? { Connection: "close" } : {}) });
  if (!pending || req.headers.expect !== undefined) {
    res.end(body);
    return;
  }
  res.write(body);
  void discardRest(req).then(() => res.end());
}

/** The same answer on a socket that asked for an upgrade, then closed. */
export function socketError(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed || !socket.writable) return void socket.destroy();
  const body = JSON.stringify({ error: message });
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  socket.end(head + body, () => socket.destroy());
}
