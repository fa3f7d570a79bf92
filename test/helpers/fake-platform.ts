// A recording fake of the platform's side of the worker protocol, to drive a runtime without the
// emulator: it hands out queued jobs, holds long-polls, answers job-stop when told, and records every
// request with the answer it gave.
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** A job object as the platform hands it out. */
export type Job = { id: string; input: unknown } & Record<string, unknown>;

/** One request a worker made, as recorded. */
export interface RecordedRequest {
  seq: number;
  /** Arrival, in ms since the fake started. */
  t: number;
  method: string;
  /** The route name: job-take, job-take-batch, job-stop, job-done, job-done-batch, job-stream or ping. */
  route: string;
  path: string;
  query: Record<string, string>;
  /** The query as sent, with repeated names (`?id=a&id=b`). */
  search: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON; undefined when there is none or it is not JSON. */
  json: unknown;
  /** What the fake answered, and when; unset while the request is held. */
  answer?: { t: number; status: number; body: string };
}

export interface FakePlatform {
  /** The base of every worker URL: `http://127.0.0.1:PORT/v2/EP`. */
  readonly base: string;
  /** Every request so far, in arrival order. */
  readonly requests: RecordedRequest[];
  /** When each job was handed out (ms since the fake started). */
  readonly handedOut: Map<string, number>;
  /** Queues jobs; a held take gets them at once. */
  enqueue(...jobs: Job[]): void;
  /** Answers the held job-stop poll, or else the next one, with `{"jobsToStop": ids}`. */
  stopJobs(ids: string[]): void;
  /** Answers held polls with 204 now and later ones at once, with no more jobs: a worker being stopped. */
  release(): void;
  /** Resolves once `ready(requests)` holds; rejects after `timeoutMs`, listing what came. */
  until(what: string, ready: (requests: RecordedRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Resolves with the first request that matches; rejects after `timeoutMs`, listing what came. */
  waitFor(what: string, match: (request: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  /** Answers what is held with 204 and stops listening. */
  close(): Promise<void>;
}

interface Held {
  answer(): void;
}

/** Starts a fake platform on a free loopback port; long-polls are held `holdMs`, then answered 204. */
export async function startFakePlatform(options: { holdMs?: number; endpoint?: string } = {}): Promise<FakePlatform> {
  const holdMs = options.holdMs ?? 2000;
  const started = Date.now();
  const requests: RecordedRequest[] = [];
  const handedOut = new Map<string, number>();
  const queue: Job[] = [];
  const heldTakes = new Set<Held>();
  const heldStops = new Set<Held>();
  const watchers = new Set<() => void>();
  let pendingStops: string[] = [];
  let released = false;
  const now = () => Date.now() - started;

  const answer = (record: RecordedRequest, res: ServerResponse, status: number, body?: unknown) => {
    const text = body === undefined ? "" : JSON.stringify(body);
    record.answer = { t: now(), status, body: text };
    if (res.destroyed) return;
    if (status === 204) res.writeHead(204).end();
    else res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) }).end(text);
  };

  const hold = (set: Set<Held>, res: ServerResponse, onAnswer: () => void, onTimeout: () => void) => {
    const held: Held = {
      answer() {
        set.delete(held);
        clearTimeout(timer);
        onAnswer();
      },
    };
    const timer = setTimeout(() => {
      set.delete(held);
      onTimeout();
    }, holdMs);
    set.add(held);
    res.on("close", () => {
      set.delete(held);
      clearTimeout(timer);
    });
  };

  const take = (record: RecordedRequest, res: ServerResponse, max: number, batch: boolean) => {
    const handOut = () => {
      const jobs = queue.splice(0, max);
      for (const job of jobs) handedOut.set(job.id, now());
      if (jobs.length === 0) answer(record, res, 204);
      else answer(record, res, 200, batch ? jobs : jobs[0]);
    };
    // A worker being stopped is never given a job.
    if (released) return answer(record, res, 204);
    if (queue.length > 0) return handOut();
    hold(heldTakes, res, () => (released ? answer(record, res, 204) : handOut()), () => answer(record, res, 204));
  };

  const stopPoll = (record: RecordedRequest, res: ServerResponse) => {
    const deliver = () => {
      if (pendingStops.length === 0) return answer(record, res, 204);
      answer(record, res, 200, { jobsToStop: pendingStops });
      pendingStops = [];
    };
    if (pendingStops.length > 0 || released) return deliver();
    hold(heldStops, res, deliver, () => answer(record, res, 204));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let json: unknown;
      try {
        json = body ? JSON.parse(body) : undefined;
      } catch {
        json = undefined;
      }
      const record: RecordedRequest = {
        seq: requests.length + 1,
        t: now(),
        method: req.method ?? "",
        route: url.pathname.split("/")[3] ?? "",
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        search: url.search,
        headers: req.headers,
        body,
        json,
      };
      requests.push(record);
      for (const watch of [...watchers]) watch();
      if (record.route === "job-take") take(record, res, 1, false);
      else if (record.route === "job-take-batch") take(record, res, Number(record.query.batch_size) || 1, true);
      else if (record.route === "job-stop") stopPoll(record, res);
      // The emulator's own results route: with batch_size it takes too.
      else if (record.route === "job-done-batch" && record.query.batch_size) take(record, res, Number(record.query.batch_size), true);
      else if (["job-done", "job-done-batch", "job-stream", "ping"].includes(record.route)) answer(record, res, 200, {});
      else answer(record, res, 404, { error: "not found" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/${options.endpoint ?? "EP"}`;

  const answerHeld = () => {
    for (const held of [...heldTakes, ...heldStops]) held.answer();
  };

  const platform: FakePlatform = {
    base,
    requests,
    handedOut,
    enqueue(...jobs) {
      queue.push(...jobs);
      for (const held of [...heldTakes]) if (queue.length > 0) held.answer();
    },
    stopJobs(ids) {
      pendingStops.push(...ids);
      const [held] = heldStops;
      held?.answer();
    },
    release() {
      released = true;
      answerHeld();
    },
    until(what, ready, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!ready(requests)) return;
          clearTimeout(timer);
          watchers.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          const seen = requests.map((r) => `  ${r.t} ${r.method} ${r.path}?${new URLSearchParams(r.query)} ${r.body}`).join("\n");
          reject(new Error(`the worker's requests never showed "${what}" within ${timeoutMs} ms; it sent:\n${seen}`));
        }, timeoutMs);
        watchers.add(check);
        check();
      });
    },
    async waitFor(what, match, timeoutMs) {
      await platform.until(what, (all) => all.some(match), timeoutMs);
      return requests.find(match) as RecordedRequest;
    },
    async close() {
      released = true;
      answerHeld();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return platform;
}

/** The environment the platform gives a worker (SPEC §2.1), with URLs on this fake and the trace's values. */
export function workerEnvironment(platform: FakePlatform, options: { workerId?: string; apiKey?: string; pingIntervalMs?: number } = {}): Record<string, string> {
  const worker = options.workerId ?? "WORKER";
  return {
    RUNPOD_WEBHOOK_GET_JOB: `${platform.base}/job-take/$ID?gpu=LOCAL`,
    RUNPOD_WEBHOOK_POST_OUTPUT: `${platform.base}/job-done/$RUNPOD_POD_ID/$ID?gpu=LOCAL`,
    RUNPOD_WEBHOOK_POST_STREAM: `${platform.base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=LOCAL`,
    RUNPOD_WEBHOOK_PING: `${platform.base}/ping/$RUNPOD_POD_ID`,
    RUNPOD_PING_INTERVAL: String(options.pingIntervalMs ?? 1000),
    RUNPOD_AI_API_KEY: options.apiKey ?? "API_KEY",
    RUNPOD_POD_ID: worker,
    RUNPOD_POD_HOSTNAME: worker,
    RUNPOD_ENDPOINT_ID: platform.base.split("/").pop() as string,
    RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "true",
    RUNPOD_SKIP_GPU_CHECK: "true",
    PYTHONUNBUFFERED: "1",
  };
}
