import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type Endpoint, formatMB } from "../core/endpoint.js";
import type { EventBus } from "../core/events.js";
import { type Job, isTerminal } from "../core/job.js";
import type { ApiEnv } from "./api-env.js";
import { parseJson } from "./json-body.js";
import { clientAuth } from "./middleware/auth.js";
import { endpointLookup } from "./middleware/endpoint-lookup.js";
import { sendError, sendJson } from "./replies.js";
import { readBody } from "./request-body.js";

export interface OpenAiRouteOptions {
  endpoints: ReadonlyMap<string, Endpoint>;
  bus: EventBus;
  apiKey: string | undefined;
  /** The largest request body, in bytes: that of /runsync, whose kind of job these are. */
  limit: number;
}

/** The longest a Node timer waits: an OpenAI request waits for its job's end, which its own timeouts bound. */
const UNTIL_THE_END = 2 ** 31 - 1;

const encoder = new TextEncoder();

/**
 * The OpenAI-compatible route of queue endpoints (SPEC §10): each request becomes a job whose input is
 * `{"openai_route": "/v1/…", "openai_input": <the request body>}`, as the platform makes them for
 * vLLM workers, and the job's output (or its stream) becomes the answer. The API key is the OpenAI
 * client's `apiKey`.
 */
export function openAiRoutes(app: Hono<ApiEnv>, options: OpenAiRouteOptions): void {
  const auth = clientAuth(options.apiKey);
  const endpoint = endpointLookup(options.endpoints);
  const base = "/v2/:endpointId/openai/v1";
  app.post(`${base}/chat/completions`, auth, endpoint, (c) => openAi(c, "/v1/chat/completions", options));
  app.post(`${base}/completions`, auth, endpoint, (c) => openAi(c, "/v1/completions", options));
  app.get(`${base}/models`, auth, endpoint, (c) => openAi(c, "/v1/models", options));
}

async function openAi(c: Context<ApiEnv>, route: string, options: OpenAiRouteOptions): Promise<Response> {
  const request = route === "/v1/models" ? null : await readRequest(c, route, options.limit);
  const endpoint = c.get("endpoint");
  const job = endpoint.submit({ input: { openai_route: route, openai_input: request }, policy: {} }, "runsync");
  const signal = c.req.raw.signal;
  // A client that leaves no longer wants its tokens: the job is cancelled, as a closed connection stops vLLM.
  const leave = () => endpoint.cancel(job);
  if (request?.stream === true) return streamAnswer(c, endpoint, options.bus, job);
  signal.addEventListener("abort", leave, { once: true });
  const settled = await endpoint.waitFor(job, UNTIL_THE_END, (j) => isTerminal(j.status));
  signal.removeEventListener("abort", leave);
  if (settled.status !== "COMPLETED") return sendError(c, 500, `the job ${settled.id} ended ${settled.status}${settled.error ? `: ${settled.error}` : ""}`);
  const answer = unwrap(settled.output, endpoint.chunks(settled));
  const failure = workerError(answer);
  if (failure !== undefined) return sendError(c, 500, `the worker answered with an error: ${failure}`);
  return sendJson(c, answer ?? null);
}

/** The request body: a JSON object, at most `limit` bytes. */
async function readRequest(c: Context<ApiEnv>, route: string, limit: number): Promise<Record<string, unknown>> {
  const raw = await readBody(c, limit, (bytes) => `request body${bytes === undefined ? "" : ` of ${formatMB(bytes)} MB`} exceeds the ${formatMB(limit)} MB limit of /openai${route}`);
  const body = raw.length === 0 ? undefined : parseJson(raw, `the body of /openai${route}`);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HTTPException(400, { message: `the body of /openai${route} must be a JSON object (an OpenAI request)` });
  }
  return body as Record<string, unknown>;
}

/**
 * What a job's output means as one answer: a generator's single yielded object unwrapped from its list
 * (the vLLM worker yields one object when not streaming), or its stream chunks when its result was empty.
 */
function unwrap(output: unknown, chunks: unknown[]): unknown {
  const items = Array.isArray(output) ? output : output === undefined ? chunks : undefined;
  if (items === undefined) return output;
  const all = items.length === 0 ? chunks : items;
  return all.length === 1 ? all[0] : all;
}

/** The text of `{"error": "…"}`, which is how the vLLM worker reports a failed request. */
function workerError(answer: unknown): string | undefined {
  if (typeof answer !== "object" || answer === null || Array.isArray(answer)) return undefined;
  const fields = answer as Record<string, unknown>;
  return Object.keys(fields).length === 1 && fields.error !== undefined ? String(fields.error) : undefined;
}

/**
 * `"stream": true`: server-sent events written the moment the handler yields. Text that is already
 * server-sent events (the vLLM worker's `data: {…}\n\n` … `data: [DONE]\n\n`) passes through verbatim;
 * yielded objects are framed as `data: <json>\n\n`; the stream is closed by `data: [DONE]\n\n` unless
 * the handler sent it.
 */
function streamAnswer(c: Context<ApiEnv>, endpoint: Endpoint, bus: EventBus, job: Job): Response {
  let off = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let streamed = 0;
      let done = false;
      const send = (text: string) => controller.enqueue(encoder.encode(text));
      const chunk = (output: unknown) => {
        streamed++;
        if (typeof output === "string") {
          done ||= /^data: \[DONE\]\s*$/m.test(output);
          send(output);
        } else send(`data: ${JSON.stringify(output)}\n\n`);
      };
      const finish = (final: Job) => {
        off();
        // A handler that returned rather than yielded: its output is the stream.
        if (streamed === 0 && final.output !== undefined) for (const item of Array.isArray(final.output) ? final.output : [final.output]) chunk(item);
        if (final.status !== "COMPLETED") send(`data: ${JSON.stringify({ error: `the job ${final.id} ended ${final.status}${final.error ? `: ${final.error}` : ""}` })}\n\n`);
        if (!done) send("data: [DONE]\n\n");
        controller.close();
      };
      off = bus.on((event) => {
        if (event.type === "stream" && event.jobId === job.id) chunk(event.output);
        else if (event.type === "status" && event.job.id === job.id && isTerminal(event.job.status)) finish(event.job);
      });
      for (const output of endpoint.chunks(job)) chunk(output);
      if (isTerminal(job.status)) finish(job);
    },
    cancel() {
      off();
      endpoint.cancel(job);
    },
  });
  return c.body(stream, 200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
}
