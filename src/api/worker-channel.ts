import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { HTTPException } from "hono/http-exception";
import type { Endpoint } from "../core/endpoint.js";
import { type Job, workerJob } from "../core/job.js";
import type { JobDoneBody } from "../core/job-result.js";
import type { WorkerPort } from "../core/worker-port.js";
import { debug } from "./debug-log.js";
import { type Frame, type FrameError, FrameReader, type Oversized, encodeFrame } from "./frames.js";
import { TooDeep } from "./json-body.js";
import { sameSecret } from "./middleware/auth.js";
import { unknownEndpoint } from "./middleware/endpoint-lookup.js";
import { endWithError } from "./raw-answer.js";
import { WORKER_BODY_LIMIT, bodyTooLarge, oversizedResult, resultBody } from "./worker-routes.js";

/** The `Upgrade` token of a worker channel. */
export const CHANNEL_PROTOCOL = "runpod-emulator-worker-channel";

/** A header holds a request's op and job ids, never a payload: the most results a take may carry fit well within this. */
const HEADER_LIMIT = 1_048_576;

/**
 * The most results one take may carry: far more than a worker finishes between two takes, and few
 * enough that a request naming jobs by the ten thousand (each one checked, and warned about when the
 * worker does not hold it) cannot keep the emulator from everyone else for long. Such a request is
 * refused without a look at its jobs, which are not failed: it does not come from the emulator's runtimes.
 */
const MAX_RESULTS = 10_000;

/**
 * How long a frame may take to arrive once begun, as the HTTP server bounds a whole request's arrival:
 * a worker that stalls or trickles mid-frame would otherwise hold what was read of it (up to the body
 * limit) for ever. Between frames a channel may stay quiet as long as its worker likes.
 */
const FRAME_MS = 120_000;

/**
 * The worker channel: the worker protocol's hot requests (job-take carrying results, job-done,
 * job-stream) as frames (see frames.ts) on a connection of their own, for the emulator's own runtimes.
 * The official SDK's HTTP requests are answered as ever; the channel is offered to workers in
 * RUNPOD_EMULATOR_CHANNEL and answers the same endpoint methods (through a `WorkerPort`), so queueing,
 * results and their limits behave alike. What it saves is a request's HTTP parsing, routing and
 * answer headers on both sides: about a third of the emulator's CPU for a warm job.
 *
 * Why frames and not a WebSocket: the workers' side would need a WebSocket client, which Node 20 and
 * Python's standard library do not have, and loading `ws` costs a Node worker about 10 ms of its cold
 * start. The channel only ever runs between the emulator and its runtimes, over loopback.
 *
 * A worker opens it with `GET /v2/{endpoint}/job-channel/{worker}?token=…` and `Upgrade:
 * runpod-emulator-worker-channel`, authenticated as its other requests are. Then, one request at a time
 * per connection, each answered by one frame:
 * - `{"op":"take","free":N,"busy":B,"ids":[…],"sizes":[…]}`, the payload the results' job-done texts one
 *   after the other (`sizes` their lengths in bytes): the results, then at most N jobs, held as a
 *   job-take is; answered `{"jobs":[…]}` (none once the hold passed). With `free` 0, results only.
 * - `{"op":"done","id":…}` and `{"op":"stream","id":…}`, the payload a job-done or job-stream body:
 *   answered `{}`.
 * A refused request is answered `{"error":…,"status":…}` as the HTTP route would answer it.
 */
export function workerChannels(
  endpoints: ReadonlyMap<string, Endpoint>,
  onInternalError: (error: unknown) => void,
  { bodyLimit = WORKER_BODY_LIMIT, frameMs = FRAME_MS }: { bodyLimit?: number; frameMs?: number } = {},
) {
  // An upgraded connection is the HTTP server's no more: these are closed with the emulator.
  const open = new Set<Duplex>();
  return {
    /** Takes an upgrade request for a worker channel; false when it is not one. */
    accept(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
      if (req.headers.upgrade?.toLowerCase() !== CHANNEL_PROTOCOL) return false;
      const target = channelTarget(req.url ?? "/");
      if (typeof target === "string") {
        endWithError(socket, 400, target);
        return true;
      }
      const [, v2, endpointId, route, workerId, ...rest] = target.segments;
      if (req.method !== "GET" || v2 !== "v2" || route !== "job-channel" || !workerId || rest.length > 0) {
        endWithError(socket, 404, `no worker channel at ${target.url.pathname}: open /v2/{endpoint}/job-channel/{worker}`);
        return true;
      }
      const endpoint = endpoints.get(endpointId ?? "");
      if (!endpoint) {
        endWithError(socket, 404, unknownEndpoint(endpointId ?? "", endpoints.keys()));
        return true;
      }
      const worker = endpoint.worker(workerId);
      if (!worker || !sameSecret(target.url.searchParams.get("token") ?? "", worker.secret)) {
        endWithError(socket, 401, `unknown worker "${workerId}" or wrong token`);
        return true;
      }
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${CHANNEL_PROTOCOL}\r\n\r\n`);
      open.add(socket);
      socket.once("close", () => open.delete(socket));
      serve(socket, endpoint.port(worker), { bodyLimit, frameMs, onInternalError }, head);
      return true;
    },
    close(): void {
      for (const socket of open) socket.destroy();
    },
  };
}

/** The request target's URL and its decoded path segments, or why it has none. */
function channelTarget(raw: string): { url: URL; segments: string[] } | string {
  try {
    const url = new URL(raw, "http://channel");
    return { url, segments: url.pathname.split("/").map(decodeURIComponent) };
  } catch {
    return `the request target ${JSON.stringify(raw.slice(0, 200))} is not a path, or its percent-encoding is malformed`;
  }
}

type Request = { op?: unknown; id?: unknown; free?: unknown; busy?: unknown; ids?: unknown; sizes?: unknown };

/** Answers one connection's requests, one at a time, until it closes. */
function serve(socket: Duplex, port: WorkerPort, options: { bodyLimit: number; frameMs: number; onInternalError: (error: unknown) => void }, head: Buffer): void {
  const reader = new FrameReader(HEADER_LIMIT, options.bodyLimit);
  /** Aborted when the connection closes: a held take is withdrawn. */
  const closed = new AbortController();
  let busy = false;
  const fail = (message: string) => {
    debug("worker channel: %s", message);
    socket.destroy();
  };
  /** Runs from a frame's first bytes until its last. */
  let deadline: NodeJS.Timeout | undefined;
  const onData = (chunk: Buffer) => {
    let frames: (Frame | Oversized)[];
    try {
      frames = reader.push(chunk);
    } catch (error) {
      return fail((error as FrameError).message);
    }
    if (!reader.midFrame) {
      clearTimeout(deadline);
      deadline = undefined;
    } else deadline ??= setTimeout(() => fail(`a frame did not arrive in full within ${options.frameMs / 1000} s`), options.frameMs);
    for (const frame of frames) {
      // The worker waits for each answer before it asks again; one that does not is not this runtime.
      if (busy) return fail("a request came before the answer to the one before it");
      busy = true;
      answer(port, frame, options.bodyLimit, closed.signal).then(
        ({ header, jobs = [], last }) => {
          busy = false;
          if (socket.destroyed) return jobs.length > 0 && port.giveBack(jobs);
          // The jobs count as taken only once their answer was written out in full.
          socket.write(encodeFrame(header), (error) => error && jobs.length > 0 && port.giveBack(jobs));
          if (last) socket.end();
        },
        (error: unknown) => {
          options.onInternalError(error);
          socket.destroy();
        },
      );
    }
  };
  socket.on("data", onData);
  // The HTTP server's connections stay open for writing after the other end's EOF: this one has nothing left to say.
  socket.on("end", () => socket.destroy());
  socket.on("error", (error) => debug("worker channel: %s", error.message));
  socket.on("close", () => {
    clearTimeout(deadline);
    closed.abort();
  });
  if (head.length > 0) onData(head);
}

/** One request's answer header, the jobs it hands out, and whether the connection ends after it. */
async function answer(port: WorkerPort, frame: Frame | Oversized, bodyLimit: number, closed: AbortSignal): Promise<{ header: object; jobs?: Job[]; last?: boolean }> {
  // A worker the emulator no longer knows (stopped, or taken for dead) is told so once, and let go.
  if (!port.registered()) return { header: { error: `unknown worker "${port.workerId}": the emulator removed it`, status: 401 }, last: true };
  const request = (typeof frame.header === "object" && frame.header !== null ? frame.header : {}) as Request;
  const id = typeof request.id === "string" ? request.id : "";
  try {
    switch (request.op) {
      case "take": {
        const ids = stringList(request.ids, "ids");
        if (ids.length > MAX_RESULTS) throw new HTTPException(400, { message: `a take carries at most ${MAX_RESULTS} results, not ${ids.length}` });
        if ("oversized" in frame) throw oversized(port, ids, frame.oversized, bodyLimit);
        let sizes: number[];
        try {
          sizes = sizeList(request.sizes, ids.length, frame.payload.length);
        } catch (error) {
          // Results that cannot be told apart fail their jobs, with why: refused, they would run until their timeout.
          if (error instanceof HTTPException) for (const id of ids) port.done(id, { error: error.message }, 0);
          throw error;
        }
        // A result that cannot be read fails its job; the others and the take go on.
        deliver(port, ids, sizes, frame.payload);
        const free = request.free === undefined ? 0 : count(request.free, "free");
        if (free === 0) return { header: {} };
        const jobs = await port.take(Math.min(free, 1000), request.busy === true, closed);
        await port.committed();
        return { header: { jobs: jobs.map(workerJob) }, jobs };
      }
      case "done": {
        if ("oversized" in frame) throw oversized(port, [id], frame.oversized, bodyLimit);
        // As the HTTP route: a result that cannot be read fails its job with why, and the post is refused.
        const refusal = deliver(port, [id], [frame.payload.length], frame.payload);
        if (refusal && !(refusal instanceof TooDeep)) throw refusal;
        return { header: {} };
      }
      case "stream": {
        if ("oversized" in frame) throw new HTTPException(413, { message: bodyTooLarge(bodyLimit) });
        port.stream(id, resultBody(frame.payload, "the stream chunk").output, frame.payload.length);
        return { header: {} };
      }
      default:
        throw new HTTPException(400, { message: `unknown op ${describe(request.op)}: take, done or stream` });
    }
  } catch (error) {
    if (!(error instanceof HTTPException)) throw error;
    return { header: { error: error.message, status: error.status } };
  }
}

/** Results over the limit, never gathered: each fails its job with why, and the request is refused. */
function oversized(port: WorkerPort, ids: string[], bytes: number, bodyLimit: number): HTTPException {
  for (const id of ids) port.done(id, { error: oversizedResult(String(bytes), bodyLimit) }, 0);
  return new HTTPException(413, { message: bodyTooLarge(bodyLimit) });
}

/**
 * Each result finishes its job; one that cannot be read fails its job with why, as the HTTP route does.
 * Returns the first such refusal.
 */
function deliver(port: WorkerPort, ids: string[], sizes: number[], payload: Buffer): HTTPException | undefined {
  let at = 0;
  let refusal: HTTPException | undefined;
  ids.forEach((id, i) => {
    const bytes = sizes[i] as number;
    const text = payload.subarray(at, (at += bytes));
    let body: JobDoneBody;
    try {
      body = resultBody(text, "the handler's result");
    } catch (error) {
      if (!(error instanceof HTTPException)) throw error;
      refusal ??= error;
      body = { error: error.message };
    }
    port.done(id, body, bytes);
  });
  return refusal;
}

/** A value in a message: a string (shortened), or only its kind, since it may be as large or as deep as a header can be. */
function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : value === null ? "null" : typeof value;
}

function stringList(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw new HTTPException(400, { message: `${name} must be a list of job ids` });
  return value;
}

/** The results' sizes, which must add up to the payload. */
function sizeList(value: unknown, length: number, payloadBytes: number): number[] {
  const sizes = value === undefined ? [] : value;
  if (!Array.isArray(sizes) || sizes.length !== length || !sizes.every((size) => Number.isInteger(size) && size >= 0)) {
    throw new HTTPException(400, { message: "sizes must give the byte length of each result, one per id" });
  }
  if (sizes.reduce((sum: number, size: number) => sum + size, 0) !== payloadBytes) throw new HTTPException(400, { message: "the results' sizes do not add up to the payload" });
  return sizes;
}

function count(value: unknown, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 0) throw new HTTPException(400, { message: `${name} must be a whole number of jobs` });
  return value as number;
}
