// The worker side of the protocol (SPEC §2) for JavaScript handlers: the same requests, in the same
// shapes, as the official Python SDK's worker loop. Used by the Node bootstrap in a child process, and
// in-process for a function handler given to createEmulator().
import { AsyncLocalStorage } from "node:async_hooks";
import http from "node:http";
import { format } from "node:util";
import { RUNTIME_VERSION, startPinger } from "./pinger.mjs";

export { RUNTIME_VERSION };

/** The id of the job whose handler is running, so that concurrent jobs' log lines are told apart. */
const currentJob = new AsyncLocalStorage();

/** Marks a job stopped (cancelled or timed out) while its handler was still busy. */
const STOPPED = Symbol("stopped");

/**
 * @typedef {{ id: string, input: unknown, webhook?: string, s3Config?: object }} Job
 * @typedef {{ progress(value: unknown): Promise<void>, signal: AbortSignal }} Context
 * @typedef {{ concurrency?: number | ((current: number) => number), returnAggregateStream?: boolean, refreshWorker?: boolean }} WorkerConfig
 */

/**
 * Runs the worker loop against the endpoint named by `env` (SPEC §2.1) until stopped.
 * @param {(job: Job, context: Context) => unknown} handler
 * @param {WorkerConfig} [config]
 * @param {Record<string, string | undefined>} [env]
 * @param {{ pingThread?: boolean }} [options] `pingThread`: ping from a thread of its own (in a worker process)
 * @returns {{ stop(): Promise<void>, kill(): void, finished: Promise<void> }}
 */
export function startWorker(handler, config = {}, env = process.env, { pingThread = false } = {}) {
  const pod = env.RUNPOD_POD_ID ?? "local";
  const urls = protocolUrls(env, pod);
  const agent = new http.Agent({ keepAlive: true });
  const authorization = env.RUNPOD_AI_API_KEY ?? "";
  /** @type {Map<string, AbortController>} the jobs held, by id */
  const running = new Map();
  /** @type {Set<Promise<void>>} each held job until its result is posted */
  const jobs = new Set();
  const takes = new AbortController(); // aborted to stop taking
  const polls = new AbortController(); // aborted once nothing is left to stop
  let stopping = false;
  let killed = false;
  let slotFreed = () => {};
  /** @type {Map<string, string>} the last complaint of each loop */
  const complaints = new Map();

  const send = (url, method = "GET", body = undefined, signal = undefined) => request(agent, url, { method, body, signal, authorization });

  /** Results and chunks are retried on network errors; a failure is reported, never thrown at the handler. */
  const post = async (url, text) => {
    for (let attempt = 1; !killed; attempt++) {
      try {
        const { status } = await send(url, "POST", text);
        if (status >= 300) console.error(`the emulator refused a post to ${redact(url)} with status ${status}`);
        return;
      } catch (error) {
        if (killed) return;
        if (attempt === 3) return console.error(`could not post to ${redact(url)}: ${error.message}`);
        await sleep(200 * attempt);
      }
    }
  };

  /** Logs a failing take or stop poll once per distinct reason, so a retry loop cannot flood the log. */
  const complain = (loop, message) => {
    if (complaints.get(loop) !== message) console.error(`${loop} ${message}`);
    complaints.set(loop, message);
  };

  const capacity = () => {
    let wanted = config.concurrency ?? 1;
    if (typeof wanted === "function") {
      try {
        wanted = wanted(running.size);
      } catch (error) {
        complain("config.concurrency", `threw, so one job is taken at a time: ${error.stack ?? error}`);
      }
    }
    return Math.max(1, Math.floor(Number(wanted) || 1));
  };

  /** One take: jobs (maybe none, at once again) or null (back off). */
  const take = async (free) => {
    const inProgress = running.size > 0 ? 1 : 0;
    const url = free === 1 ? withQuery(urls.take, `job_in_progress=${inProgress}`) : withQuery(urls.takeBatch, `batch_size=${free}&job_in_progress=${inProgress}`);
    try {
      const { status, body } = await send(url, "GET", undefined, takes.signal);
      if (status === 204) return [];
      if (status === 200) {
        const parsed = JSON.parse(body);
        const taken = (Array.isArray(parsed) ? parsed : [parsed]).filter((job) => job && typeof job.id === "string" && "input" in job);
        if (taken.length > 0) return taken;
      }
      complain("job-take", `answered ${status}: ${body.slice(0, 200)}`);
    } catch (error) {
      if (!stopping) complain("job-take", `failed: ${error.message}`);
    }
    return null;
  };

  const takeLoop = async () => {
    while (!stopping) {
      const free = capacity() - running.size;
      if (free <= 0) {
        // A concurrency function may change its mind with time, so it is asked again every second too.
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 1000);
          slotFreed = () => resolve(clearTimeout(timer));
        });
        continue;
      }
      const taken = await take(free);
      if (taken === null) await sleep(500, takes.signal);
      // A take answered after stopping began is dropped, as the SDK drops it: the emulator requeues it.
      else if (!stopping) for (const job of taken) track(runJob(job));
    }
  };

  const stopLoop = async () => {
    while (!polls.signal.aborted) {
      try {
        const { status, body } = await send(urls.stop, "GET", undefined, polls.signal);
        if (status === 200) {
          for (const id of JSON.parse(body).jobsToStop ?? []) running.get(id)?.abort(new Error("job cancelled"));
          continue;
        }
        if (status === 204) continue;
        complain("job-stop", `answered ${status}: ${body.slice(0, 200)}`);
      } catch (error) {
        if (!polls.signal.aborted) complain("job-stop", `failed: ${error.message}`);
      }
      await sleep(1000, polls.signal);
    }
  };

  const track = (promise) => {
    jobs.add(promise);
    void promise.finally(() => jobs.delete(promise));
  };

  /** Runs one job and posts its outcome (SPEC §2.4); a stopped job posts nothing. */
  const runJob = async (job) => {
    const controller = new AbortController();
    const { signal } = controller;
    running.set(job.id, controller);
    pinger?.update([...running.keys()]);
    const stopped = new Promise((resolve) => signal.addEventListener("abort", () => resolve(STOPPED), { once: true }));
    // The slot is freed as soon as the job is stopped, even if the handler ignores its signal.
    const unlessStopped = (value) => Promise.race([value, stopped]);
    const inJob = (fn) => currentJob.run(job.id, fn);
    const context = {
      signal,
      progress: (value) => (signal.aborted ? Promise.resolve() : post(withQuery(urls.done(job.id), "isStream=false"), JSON.stringify({ status: "IN_PROGRESS", output: value }))),
    };

    /** @type {Record<string, unknown>} */
    let body = {};
    let isStream = false;
    try {
      const result = await unlessStopped(inJob(() => handler(job, context)));
      if (isIterator(result)) {
        isStream = true;
        const chunks = [];
        while (!signal.aborted) {
          const step = await unlessStopped(inJob(() => result.next()));
          if (step === STOPPED || step.done) break;
          chunks.push(step.value);
          await post(withQuery(urls.stream(job.id), "isStream=false"), JSON.stringify({ output: step.value ?? null }));
        }
        // Lets the generator run its `finally` blocks; whatever it does then is not waited for.
        if (signal.aborted) Promise.resolve().then(() => result.return?.()).catch(() => {});
        body = { output: config.returnAggregateStream ? chunks : [] };
      } else if (result !== STOPPED) {
        body = outcome(result);
      }
    } catch (error) {
      body = { error: JSON.stringify(describeError(error, pod)) };
    }

    running.delete(job.id);
    pinger?.update([...running.keys()]);
    if (signal.aborted) return slotFreed();
    if (config.refreshWorker) body.stopPod = true;
    // A worker to be refreshed takes nothing more, not even beside its last result.
    if (body.stopPod) beginStopping();
    slotFreed();
    await post(withQuery(urls.done(job.id), `isStream=${isStream}`), resultText(body, pod));
    if (body.stopPod) void shutdown();
  };

  /** @type {(value?: unknown) => void} */
  let markFinished = () => {};
  const finished = new Promise((resolve) => (markFinished = resolve));

  const beginStopping = () => {
    stopping = true;
    takes.abort();
    slotFreed();
  };

  /** @type {Promise<void> | undefined} */
  let shutting;
  const shutdown = () =>
    (shutting ??= (async () => {
      beginStopping();
      // Stops may still arrive for the jobs being finished, so the stop poll ends only after them.
      while (jobs.size > 0) await Promise.all(jobs);
      polls.abort();
      await loops;
      pinger?.stop();
      agent.destroy();
      markFinished();
    })());

  // Liveness, and the jobs held: a stopped job is seen released when it leaves this list.
  const pinger = urls.ping
    ? startPinger(urls.ping, Math.max(1000, Number(env.RUNPOD_PING_INTERVAL) || 10_000), { thread: pingThread, authorization, send: (url) => void send(url).catch(() => {}) })
    : undefined;

  const loops = Promise.all([takeLoop(), stopLoop()]);

  return {
    finished,
    /** Takes no more jobs, lets the running ones post their results, then resolves. */
    stop: shutdown,
    /** Ends at once: running jobs are abandoned and post nothing. */
    kill() {
      killed = true;
      for (const controller of running.values()) controller.abort(new Error("the worker was killed"));
      polls.abort();
      agent.destroy();
      void shutdown();
    },
  };
}

/** Console output written while a job runs becomes a JSON log line naming the job, as the SDK writes it. */
export function attributeConsoleToJobs() {
  const levels = { log: "INFO", info: "INFO", debug: "DEBUG", warn: "WARN", error: "ERROR" };
  for (const [method, level] of Object.entries(levels)) {
    const original = console[method].bind(console);
    const stream = level === "WARN" || level === "ERROR" ? process.stderr : process.stdout;
    console[method] = (...args) => {
      const requestId = currentJob.getStore();
      if (requestId === undefined) return original(...args);
      stream.write(`${JSON.stringify({ requestId, message: format(...args), level })}\n`);
    };
  }
}

/** The job-done body for a handler's return value (SPEC §2.4). */
export function outcome(result) {
  if (result === undefined) return { output: null };
  if (!isPlainObject(result)) return { output: result };
  const { error, refresh_worker: refreshSnake, refreshWorker: refreshCamel, ...output } = result;
  const body = Object.keys(output).length > 0 ? { output } : {};
  // Like the SDK, a falsy error (null, "", false) is no error.
  if (error) body.error = error;
  if (refreshSnake === true || refreshCamel === true) body.stopPod = true;
  return body;
}

/** The SDK's error payload for a thrown value, before it is sent as a JSON string. */
export function describeError(error, pod) {
  const isError = error instanceof Error;
  return {
    error_type: error?.name || error?.constructor?.name || typeof error,
    error_message: isError ? error.message : String(error),
    error_traceback: isError ? String(error.stack ?? error) : String(error),
    hostname: pod,
    worker_id: pod,
    runpod_version: RUNTIME_VERSION,
  };
}

/** The job-done body as JSON text; a result that cannot be written as JSON (a BigInt, a cycle) fails the job. */
function resultText(body, pod) {
  try {
    return JSON.stringify(body);
  } catch (error) {
    const failed = { error: JSON.stringify(describeError(error, pod)) };
    return JSON.stringify(body.stopPod ? { ...failed, stopPod: true } : failed);
  }
}

/** The worker's URLs from the SDK's environment, with its placeholders filled in. */
function protocolUrls(env, pod) {
  const take = env.RUNPOD_WEBHOOK_GET_JOB.replaceAll("$ID", pod);
  const perJob = (template) => (id) => template.replaceAll("$RUNPOD_POD_ID", pod).replaceAll("$ID", encodeURIComponent(id));
  return {
    take,
    takeBatch: take.replace("/job-take/", "/job-take-batch/"),
    // The SDK derives job-stop from job-take, keeping its query.
    stop: take.replace(/\/job-take\/[^/?]*/, `/job-stop/${pod}`),
    done: perJob(env.RUNPOD_WEBHOOK_POST_OUTPUT),
    stream: perJob(env.RUNPOD_WEBHOOK_POST_STREAM),
    ping: env.RUNPOD_WEBHOOK_PING?.replaceAll("$RUNPOD_POD_ID", pod),
  };
}

/**
 * One HTTP request; resolves with the status and body text, rejects on a network error. A keep-alive
 * socket the server closed just as it was reused is retried once, as nothing reached the server.
 */
function request(agent, url, { method, body, signal, authorization }, retried = false) {
  return new Promise((resolve, reject) => {
    const headers = { Authorization: authorization };
    if (body !== undefined) {
      // The SDK sends JSON text under this content type; the emulator parses the raw body as JSON.
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      headers["Content-Length"] = Buffer.byteLength(body);
    }
    const req = http.request(url, { method, agent, headers, signal }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", (/** @type {NodeJS.ErrnoException} */ error) => {
      if (req.reusedSocket && error.code === "ECONNRESET" && !retried && !signal?.aborted) {
        request(agent, url, { method, body, signal, authorization }, true).then(resolve, reject);
      } else reject(error);
    });
    req.end(body);
  });
}

function withQuery(url, query) {
  return `${url}${url.includes("?") ? "&" : "?"}${query}`;
}

/** The URL without its token, for messages. */
function redact(url) {
  return url.replace(/([?&]token=)[^&]*/, "$1…");
}

function isIterator(value) {
  if (value === null || typeof value !== "object" || typeof value.next !== "function") return false;
  return typeof value[Symbol.asyncIterator] === "function" || typeof value[Symbol.iterator] === "function";
}

function isPlainObject(value) {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms, signal) {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}
