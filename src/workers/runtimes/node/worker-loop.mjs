// The worker side of the protocol (SPEC §2) for JavaScript handlers: the same requests, in the same
// shapes, as the official Python SDK's worker loop. Used by the Node bootstrap in a child process, and
// in-process for a function handler given to createEmulator().
import { AsyncLocalStorage } from "node:async_hooks";
import http from "node:http";
import { format } from "node:util";

export const RUNTIME_VERSION = "node-emulator";

/** The job a log line is written for, so concurrent jobs' lines are told apart. */
const currentJob = new AsyncLocalStorage();

/**
 * Runs the worker loop until stopped.
 * @param {(job: object, context: {progress: (value: unknown) => Promise<void>, signal: AbortSignal}) => unknown} handler
 * @param {{concurrency?: number | ((current: number) => number), returnAggregateStream?: boolean, refreshWorker?: boolean}} config
 * @param {Record<string, string | undefined>} env the worker's environment (SPEC §2.1)
 * @returns {{ stop(): Promise<void>, kill(): void, finished: Promise<void> }}
 */
export function startWorker(handler, config = {}, env = process.env) {
  const pod = env.RUNPOD_POD_ID ?? "local";
  const takeUrl = env.RUNPOD_WEBHOOK_GET_JOB.replaceAll("$ID", pod);
  const urls = {
    take: takeUrl,
    takeBatch: takeUrl.replace("/job-take/", "/job-take-batch/"),
    stop: takeUrl.replace(/\/job-take\/[^/?]*/, `/job-stop/${pod}`),
    done: (id) => env.RUNPOD_WEBHOOK_POST_OUTPUT.replaceAll("$RUNPOD_POD_ID", pod).replaceAll("$ID", encodeURIComponent(id)),
    stream: (id) => env.RUNPOD_WEBHOOK_POST_STREAM.replaceAll("$RUNPOD_POD_ID", pod).replaceAll("$ID", encodeURIComponent(id)),
    ping: env.RUNPOD_WEBHOOK_PING?.replaceAll("$RUNPOD_POD_ID", pod),
  };
  const agent = new http.Agent({ keepAlive: true });
  const headers = { Authorization: env.RUNPOD_AI_API_KEY ?? "" };
  /** @type {Map<string, AbortController>} */
  const running = new Map();
  /** @type {Set<Promise<void>>} */
  const jobs = new Set();
  const polls = new Set();
  let stopping = false;
  let killed = false;
  let wakeTaker = () => {};

  const concurrency = () => {
    const value = typeof config.concurrency === "function" ? config.concurrency(running.size) : config.concurrency ?? 1;
    return Math.max(1, Math.floor(Number(value) || 1));
  };

  /** One request; resolves with { status, body } or rejects on a network error. */
  const send = (url, method, body) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(url, {
        method, agent,
        headers: payload === undefined ? headers : { ...headers, "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(payload) },
      }, (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => {
          polls.delete(req);
          resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", reject);
      });
      polls.add(req);
      req.on("error", (error) => {
        polls.delete(req);
        reject(error);
      });
      req.end(payload);
    });

  /** A result or a chunk must arrive: retried a few times on a network error. */
  const post = async (url, body) => {
    for (let attempt = 1; !killed; attempt++) {
      try {
        return await send(url, "POST", body);
      } catch (error) {
        if (attempt >= 3) throw error;
        await sleep(200 * attempt);
      }
    }
  };

  const takeJobs = async () => {
    const free = concurrency() - running.size;
    if (free <= 0) return [];
    const inProgress = running.size > 0 ? 1 : 0;
    const url = free === 1 ? `${urls.take}&job_in_progress=${inProgress}` : `${urls.takeBatch}&batch_size=${free}&job_in_progress=${inProgress}`;
    const { status, body } = await send(url, "GET");
    if (status !== 200 || !body) return [];
    const parsed = JSON.parse(body);
    return (Array.isArray(parsed) ? parsed : [parsed]).filter((job) => job && typeof job.id === "string" && "input" in job);
  };

  const runJob = async (job) => {
    const controller = new AbortController();
    running.set(job.id, controller);
    const context = {
      signal: controller.signal,
      progress: (value) => (controller.signal.aborted ? Promise.resolve() : post(`${urls.done(job.id)}&isStream=false`, { status: "IN_PROGRESS", output: value }).then(() => {})),
    };
    let body;
    let isStream = false;
    try {
      const result = await currentJob.run(job.id, () => handler(job, context));
      if (isIterator(result)) {
        isStream = true;
        const chunks = [];
        const iterator = result[Symbol.asyncIterator]?.() ?? result[Symbol.iterator]();
        for (;;) {
          const step = await currentJob.run(job.id, () => iterator.next());
          if (step.done || controller.signal.aborted) break;
          chunks.push(step.value);
          await post(`${urls.stream(job.id)}&isStream=false`, { output: step.value });
        }
        body = { output: config.returnAggregateStream ? chunks : [] };
      } else {
        body = outcome(result);
      }
    } catch (error) {
      body = { error: JSON.stringify(describeError(error, pod)) };
    }
    if (config.refreshWorker || body.stopPod) {
      body.stopPod = true;
      stopping = true;
    }
    // The slot is free once the handler is done: the next take goes out beside the result.
    running.delete(job.id);
    wakeTaker();
    // A stopped job (cancel, timeout) sends nothing: its late value is dropped.
    if (!controller.signal.aborted && !killed) {
      await post(`${urls.done(job.id)}&isStream=${isStream}`, body).catch((error) => console.error(`could not post the result of ${job.id}: ${error.message}`));
    }
  };

  const takeLoop = async () => {
    while (!stopping) {
      if (concurrency() - running.size <= 0) {
        await new Promise((resolve) => (wakeTaker = resolve));
        continue;
      }
      try {
        for (const job of await takeJobs()) {
          const run = runJob(job);
          jobs.add(run);
          void run.finally(() => jobs.delete(run));
        }
      } catch {
        if (!stopping) await sleep(500);
      }
    }
  };

  const stopLoop = async () => {
    while (!stopping || running.size > 0) {
      try {
        const { status, body } = await send(urls.stop, "GET");
        if (status === 200 && body) {
          for (const id of JSON.parse(body).jobsToStop ?? []) running.get(id)?.abort(new Error(`job ${id} was stopped (cancelled or timed out)`));
        } else if (status !== 204) await sleep(1000);
      } catch {
        if (killed) return;
        if (!stopping) await sleep(1000);
      }
    }
  };

  const ping = () => {
    if (!urls.ping || killed) return;
    const ids = [...running.keys()];
    const query = `${ids.length ? `job_id=${ids.map(encodeURIComponent).join(",")}&` : ""}runpod_version=${RUNTIME_VERSION}`;
    send(`${urls.ping}${urls.ping.includes("?") ? "&" : "?"}${query}`, "GET").catch(() => {});
  };
  const pinger = setInterval(ping, Math.max(1000, Number(env.RUNPOD_PING_INTERVAL) || 10_000));
  pinger.unref();
  ping();

  const finished = Promise.all([takeLoop(), stopLoop()]).then(() => {
    clearInterval(pinger);
    agent.destroy();
  });
  const abortPolls = () => {
    for (const req of polls) if (req.method === "GET") req.destroy();
  };

  return {
    finished,
    /** Takes no more jobs, lets the running ones post their results, then resolves. */
    async stop() {
      stopping = true;
      wakeTaker();
      abortPolls();
      await Promise.all(jobs);
      abortPolls();
      await finished;
    },
    /** Stops at once: running jobs are abandoned and post nothing. */
    kill() {
      killed = stopping = true;
      for (const controller of running.values()) controller.abort(new Error("the worker was killed"));
      wakeTaker();
      for (const req of polls) req.destroy();
      clearInterval(pinger);
    },
  };
}

/** Console output written while a job runs becomes the SDK's JSON log line, naming the job. */
export function attributeConsoleToJobs() {
  const levels = { log: ["INFO", process.stdout], info: ["INFO", process.stdout], debug: ["DEBUG", process.stdout], warn: ["WARN", process.stderr], error: ["ERROR", process.stderr] };
  for (const [method, [level, stream]] of Object.entries(levels)) {
    const original = console[method].bind(console);
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
  if (Object.keys(result).length === 0) return {};
  const { refresh_worker: refreshSnake, refreshWorker: refreshCamel, ...rest } = result;
  const refresh = refreshSnake === true || refreshCamel === true;
  const output = refresh ? rest : result;
  let body;
  if ("error" in output) {
    const { error, ...others } = output;
    body = Object.keys(others).length ? { output: others, error } : { error };
  } else {
    body = { output };
  }
  if (refresh) body.stopPod = true;
  return body;
}

/** The SDK's error payload for a thrown value. */
export function describeError(error, pod) {
  const isError = error instanceof Error;
  return {
    error_type: isError ? error.constructor?.name ?? error.name : typeof error,
    error_message: isError ? error.message : String(error),
    error_traceback: isError ? String(error.stack ?? error) : String(error),
    hostname: pod,
    worker_id: pod,
    runpod_version: RUNTIME_VERSION,
  };
}

function isIterator(value) {
  if (value === null || typeof value !== "object" || typeof value.next !== "function") return false;
  return typeof value[Symbol.asyncIterator] === "function" || typeof value[Symbol.iterator] === "function";
}

function isPlainObject(value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
