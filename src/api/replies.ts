import type { ServerResponse } from "node:http";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ApiEnv } from "./api-env.js";
import { awaitsContinue, discardRest } from "./request-body.js";

const JSON_TYPE = { "Content-Type": "application/json" };

/**
 * The runtime's own Response class, also when a server library in the same process replaced the global
 * one with a subclass (@hono/node-server does unless told not to): the sentinel below must not be one
 * of those, or @hono/node-server would write it out.
 */
function baseResponse(): typeof Response {
  let type = globalThis.Response;
  while (Object.getPrototypeOf(type) !== Function.prototype) type = Object.getPrototypeOf(type);
  return type;
}

/** Tells @hono/node-server that the answer was already written to the Node response (its RESPONSE_ALREADY_SENT). */
export const ALREADY_SENT = new (baseResponse())(null, { headers: { "x-hono-already-sent": "true" } });

/**
 * The Node response to write to directly, for the warm paths: a Web Response built only to be copied
 * out again costs about half the throughput. Browsers' requests (with an Origin) go through Hono so
 * that the CORS middleware adds its headers, and HEAD answers are made by Hono from GET's.
 */
function directOutgoing(c: Context<ApiEnv>): ServerResponse | undefined {
  const incoming = c.env?.incoming;
  if (!incoming || incoming.headers.origin !== undefined || incoming.method === "HEAD") return undefined;
  return c.env.outgoing;
}

/**
 * Answers `body` (as it is now) as JSON, once what was written so far is committed: an answer to a
 * client acknowledges it, and what a client was told must survive a `kill -9`.
 */
export function sendJson(c: Context<ApiEnv>, body: unknown, status: ContentfulStatusCode = 200): Response | Promise<Response> {
  const text = JSON.stringify(body);
  const committed = c.var.endpoint?.committed();
  return committed ? committed.then(() => writeJson(c, text, status)) : writeJson(c, text, status);
}

/** Answers `body` as JSON at once: for a worker, whose requests acknowledge nothing to a client. */
export function sendJsonNow(c: Context<ApiEnv>, body: unknown, status: ContentfulStatusCode = 200): Response {
  return writeJson(c, JSON.stringify(body), status);
}

function writeJson(c: Context<ApiEnv>, text: string, status: ContentfulStatusCode): Response {
  const outgoing = directOutgoing(c);
  if (!outgoing) return c.body(text, status, JSON_TYPE);
  if (!outgoing.headersSent && !outgoing.destroyed) {
    outgoing.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
    outgoing.end(text);
  }
  return ALREADY_SENT;
}

/** A long-poll with nothing to hand out. */
export function sendNoContent(c: Context<ApiEnv>): Response {
  const outgoing = directOutgoing(c);
  if (!outgoing) return c.body(null, 204);
  if (!outgoing.headersSent && !outgoing.destroyed) {
    outgoing.writeHead(204);
    outgoing.end();
  }
  return ALREADY_SENT;
}

/**
 * Every error answer is `{"error": message}`. When the client is still sending its body, the answer is
 * written at once but finished only after the rest was read and thrown away (bounded): a client that
 * sends its whole body before reading, as Python's urllib does, then reads the answer instead of a
 * reset connection. Either way, and for a client waiting for `100 Continue`, the connection is closed after.
 */
export function sendError(c: Context<ApiEnv>, status: ContentfulStatusCode, message: string, headers: Record<string, string> = {}): Response {
  const text = JSON.stringify({ error: message });
  const incoming = c.env?.incoming;
  const all = { ...headers, ...JSON_TYPE };
  if (!incoming || !c.env.outgoing || incoming.complete || incoming.destroyed) return c.body(text, status, all);
  if (awaitsContinue(incoming)) return c.body(text, status, { ...all, Connection: "close" });
  const bytes = Buffer.from(text);
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(bytes);
      void discardRest(incoming).then(() => {
        if (!cancelled) controller.close();
      });
    },
    cancel() {
      cancelled = true;
    },
  });
  // Closing after it: a client that stops sending once answered (Node's) then does not wait on a reused connection.
  return c.body(body, status, { ...all, "Content-Length": String(bytes.length), Connection: "close" });
}
