import type { IncomingMessage } from "node:http";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "./api-env.js";

/** What is read and thrown away of a refused body before the connection is cut, in bytes and time. */
const DISCARD_MAX_BYTES = 64_000_000;
const DISCARD_MAX_MS = 15_000;

/** Requests to which `100 Continue` was sent: their clients are sending the body. */
const continued = new WeakSet<IncomingMessage>();

/** The client closed its connection before its whole body arrived: its own doing, nothing to answer. */
export class ClientGone extends Error {
  constructor() {
    super("the client closed the connection while sending its body");
  }
}

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over the limit is refused
 * before anything is read; a chunked body is counted as it arrives and refused at the limit. Nothing
 * beyond the limit is held in memory. `100 Continue` is sent only here, once the declared length passed.
 *
 * Not hono/body-limit: it reads `c.req.raw.body`, which turns @hono/node-server's direct read of the
 * Node stream into a Web stream for every request, and it gathers chunked bodies in a growing copy.
 */
export async function readBody(c: Context<ApiEnv>, limit: number, tooLarge: (declaredBytes?: number) => string): Promise<Buffer> {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > limit) throw new HTTPException(413, { message: tooLarge(Number(declared)) });
  const incoming = c.env?.incoming;
  if (!incoming) {
    // Answering `app.request()`: the body is already in memory.
    const body = Buffer.from(await c.req.arrayBuffer());
    if (body.length > limit) throw new HTTPException(413, { message: tooLarge() });
    return body;
  }
  if (incoming.destroyed) throw new ClientGone();
  if (expectsContinue(incoming) && !continued.has(incoming)) {
    continued.add(incoming);
    c.env.outgoing?.writeContinue();
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onGone);
      incoming.off("close", onGone);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        chunks.length = 0;
        reject(new HTTPException(413, { message: tooLarge() }));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onGone = () => {
      stop();
      reject(new ClientGone());
    };
    incoming.on("data", onData);
    incoming.once("end", onEnd);
    incoming.once("error", onGone);
    incoming.once("close", onGone);
  });
}

/** Whether the client still holds back its body, waiting for `100 Continue`. */
export function awaitsContinue(incoming: IncomingMessage): boolean {
  return expectsContinue(incoming) && !continued.has(incoming);
}

function expectsContinue(incoming: IncomingMessage): boolean {
  return incoming.headers.expect?.toLowerCase() === "100-continue";
}

/**
 * Reads and throws away the rest of a body the emulator answered early, so that the client can finish
 * sending and read the answer; past the bounds the connection is cut. Never rejects.
 */
export function discardRest(incoming: IncomingMessage): Promise<void> {
  if (incoming.readableEnded || incoming.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let bytes = 0;
    const finish = () => {
      clearTimeout(timer);
      incoming.off("data", onData);
      incoming.off("end", finish);
      incoming.off("close", finish);
      incoming.off("error", finish);
      resolve();
    };
    const giveUp = () => {
      finish();
      incoming.socket?.destroy();
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > DISCARD_MAX_BYTES) giveUp();
    };
    const timer = setTimeout(giveUp, DISCARD_MAX_MS);
    timer.unref();
    incoming.on("data", onData);
    incoming.once("end", finish);
    incoming.once("close", finish);
    incoming.once("error", finish);
    incoming.resume();
  });
}
