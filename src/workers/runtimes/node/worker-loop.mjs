// The worker side of the protocol (SPEC §2) for JavaScript handlers: the same requests, in the same
// shapes, as the official Python SDK's worker loop, except that results go to the emulator's own
// job-done-batch, with the next take, where it offers one (see http-channel.mjs), and that the hot
// requests go over the emulator's worker channel where it offers that (see frame-channel.mjs). Used by
// the Node bootstrap in a child process, and in-process for a function handler given to
// createEmulator(), whose channel calls the emulator directly.
import { builtin } from "./builtins.mjs";
import { frameChannel } from "./frame-channel.mjs";
import { httpChannel } from "./http-channel.mjs";
import { JobStop, STOPPED } from "./job-stop.mjs";
import { RUNTIME_VERSION } from "./pinger.mjs";

export { RUNTIME_VERSION };

/** The id of the job whose handler is running, so that concurrent jobs' log lines are told apart. */
let currentJob;
// Made on first use: this module is imported before the built-ins are at hand (see builtins.mjs).
const jobContext = () => (currentJob ??= new (builtin("node:async_hooks").AsyncLocalStorage)());
/**
 * Where console output is attributed (a worker process): the job of a line, when no async context
 * names it. A worker that runs one job at a time needs no context (the job running is the one), and
 * saves what AsyncLocalStorage costs every promise of the process.
 */
let soleJob = () => undefined;
let attributing = false;

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
 * @param {{ pingThread?: boolean, outputFirst?: boolean, channel?: import("./http-channel.mjs").Channel }} [options]
 *   `pingThread`: ping from a thread of its own, and `outputFirst`: hand over a job's result only once what
 *   it printed has left this process (both in a worker process); `channel`: how to reach the platform,
 *   HTTP from `env` by default
 * @returns {{ stop(): Promise<void>, kill(): void, finished: Promise<void> }}
 */
export function startWorker(handler, config = {}, env = process.env, { pingThread = false, outputFirst = false, channel = undefined } = {}) {
  const pod = env.RUNPOD_POD_ID ?? "local";
  const platform = channel ?? (env.RUNPOD_EMULATOR_CHANNEL ? frameChannel(env, pod) : httpChannel(env, pod));
  /** @type {Map<string, JobStop>} the jobs held, by id */
  const running = new Map();
  const contexts = attributing && (config.concurrency ?? 1) !== 1;
  if (attributing) soleJob = () => (running.size === 1 ? running.keys().next().value : undefined);
  /** @type {Set<Promise<void>>} each held job until its result is posted, and each post of results */
  const jobs = new Set();
  /** @type {import("./http-channel.mjs").Result[]} results not yet posted: the next take carries them, or they go by themselves */
  const outbox = [];
  /** @type {Promise<void> | undefined} the post of the outbox at the end of this turn */
  let flushing;
  const takes = new AbortController(); // aborted to stop taking
  const polls = new AbortController(); // aborted once nothing is left to stop
  let stopping = false;
  let killed = false;
  // While the take loop waits for a free slot, the next take is its to make: it carries the results.
  let waitingForSlot = false;
  let slotFreed = () => {};
  /** @type {Map<string, string>} the last complaint of each loop */
  const complaints = new Map();

  /** Retries a post on network errors; a failure is reported, never thrown at the handler. */
  const retried = async (what, post) => {
    for (let attempt = 1; !killed; attempt++) {
      try {
        const status = await post();
        if (status >= 300) console.error(`the emulator refused a post to ${what()} with status ${status}`);
        return;
      } catch (error) {
        if (killed) return;
        if (attempt === 3) return console.error(`could not post to ${what()}: ${error.message}`);
        await sleep(200 * attempt);
      }
    }
  };
  const post = (route, jobId, text, isStream = false) => retried(() => platform.describe(route, jobId), () => platform.post(route, jobId, text, isStream));

  /** Posts the outbox once this turn's other results joined it, unless a take carries it first. */
  const flushSoon = () => {
    if (flushing) return;
    flushing = new Promise(setImmediate).then(() => {
      flushing = undefined;
      const results = outbox.splice(0);
      if (results.length > 0) return retried(() => platform.describe("done", results[0].id), () => platform.postResults(results));
    });
    track(flushing);
  };

  /** A job's result: carried by the take loop's next take when it is the loop's turn to take, else posted. */
  const deliver = (result) => {
    outbox.push(result);
    if (waitingForSlot && !stopping) slotFreed();
    else flushSoon();
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

  /** One take, carrying the results waiting: jobs (maybe none, at once again) or null (back off). */
  const take = async (free) => {
    const results = outbox.splice(0);
    try {
      return await platform.take(free, running.size > 0, results, takes.signal);
    } catch (/** @type {any} */ error) {
      // Results the platform never read are posted by themselves; an answer, or a take held until this
      // worker stopped it, shows that they were read.
      if (results.length > 0 && error.status === undefined && !takes.signal.aborted) {
        outbox.unshift(...results);
        flushSoon();
      }
      if (!stopping) complain("job-take", error.status === undefined ? `failed: ${error.message}` : error.message);
    }
    return null;
  };

  const takeLoop = async () => {
    while (!stopping) {
      waitingForSlot = true;
      if (capacity() - running.size <= 0) {
        // A concurrency function may change its mind with time, so it is asked again every second too.
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 1000);
          slotFreed = () => resolve(clearTimeout(timer));
        });
        continue;
      }
      // Jobs that end in the same turn share one post: the take goes out once the turn's results are in.
      if (outbox.length > 0 && capacity() > 1) await new Promise(setImmediate);
      waitingForSlot = false;
      if (stopping) break;
      const taken = await take(capacity() - running.size);
      if (taken === null) await sleep(500, takes.signal);
      // A take answered after stopping began is dropped, as the SDK drops it: the emulator requeues it.
      else if (!stopping) for (const job of taken) track(runJob(job));
    }
    waitingForSlot = false;
    if (outbox.length > 0) flushSoon();
  };

  const stopLoop = async () => {
    while (!polls.signal.aborted) {
      try {
        const ids = await platform.stops(polls.signal);
        for (const id of ids) running.get(id)?.abort(new Error("job cancelled"));
        continue;
      } catch (/** @type {any} */ error) {
        if (!polls.signal.aborted) complain("job-stop", error.status === undefined ? `failed: ${error.message}` : error.message);
      }
      await sleep(1000, polls.signal);
    }
  };

  const track = (promise) => {
    jobs.add(promise);
    void promise.finally(() => jobs.delete(promise));
  };

  /** Runs one job and hands over its outcome (SPEC §2.4); a stopped job posts nothing. */
  const runJob = async (job) => {
    const stop = new JobStop();
    running.set(job.id, stop);
    pinger.update([...running.keys()]);
    const inJob = contexts ? (fn) => jobContext().run(job.id, fn) : (fn) => fn();
    const context = {
      get signal() {
        return stop.signal;
      },
      progress: (value) => (stop.aborted ? Promise.resolve() : post("done", job.id, JSON.stringify({ status: "IN_PROGRESS", output: value }))),
    };

    /** @type {Record<string, unknown>} */
    let body = {};
    let isStream = false;
    try {
      const result = await stop.unless(inJob(() => handler(job, context)));
      if (isIterator(result)) {
        isStream = true;
        const chunks = [];
        while (!stop.aborted) {
          const step = await stop.unless(inJob(() => result.next()));
          if (step === STOPPED || step.done) break;
          chunks.push(step.value);
          await post("stream", job.id, JSON.stringify({ output: step.value ?? null }));
        }
        // Lets the generator run its `finally` blocks; whatever it does then is not waited for.
        if (stop.aborted) Promise.resolve().then(() => result.return?.()).catch(() => {});
        body = { output: config.returnAggregateStream ? chunks : [] };
      } else if (result !== STOPPED) {
        body = outcome(result);
      }
    } catch (error) {
      body = { error: JSON.stringify(describeError(error, pod)) };
    }
    const written = outputFirst ? outputWritten() : undefined;
    if (written) await written;
    return finish(job.id, body, isStream);
  };

  /** Frees a job's slot and hands over its result, unless it was stopped. */
  const finish = async (id, body, isStream) => {
    const stoppedJob = running.get(id)?.aborted;
    running.delete(id);
    pinger.update([...running.keys()]);
    if (stoppedJob) return slotFreed();
    if (config.refreshWorker) body.stopPod = true;
    // A worker to be refreshed takes nothing more, not even beside its last result.
    if (body.stopPod) beginStopping();
    const text = resultText(body, pod);
    // A stream's result keeps its own post, with the SDK's isStream=true.
    if (isStream || body.stopPod) {
      slotFreed();
      await post("done", id, text, isStream);
    } else deliver({ id, text });
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
      // Once no take can carry them, the results left are posted by themselves.
      await taking;
      // Stops may still arrive for the jobs being finished, so the stop poll ends only after them.
      while (jobs.size > 0) await Promise.all(jobs);
      polls.abort();
      await polling;
      pinger.stop();
      platform.close();
      markFinished();
    })());

  // Liveness, and the jobs held: a stopped job is seen released when it leaves this list.
  const pinger = platform.startPinger(Math.max(1000, Number(env.RUNPOD_PING_INTERVAL) || 10_000), pingThread);

  const taking = takeLoop();
  const polling = stopLoop();

  return {
    finished,
    /** Takes no more jobs, lets the running ones post their results, then resolves. */
    stop: shutdown,
    /** Ends at once: running jobs are abandoned and post nothing. */
    kill() {
      killed = true;
      for (const stop of running.values()) stop.abort(new Error("the worker was killed"));
      polls.abort();
      platform.close();
      void shutdown();
    },
  };
}

/**
 * Resolves once what was written to stdout and stderr has left this process (undefined when nothing
 * waits). Node writes to a pipe asynchronously: a handler that printed 30 MB returns with most of it
 * still in this process's buffers. Its result waits for them, so that the emulator reads the job's
 * lines while the job is still this worker's, rather than telling them apart by their timing after it.
 */
function outputWritten() {
  const waiting = [process.stdout, process.stderr].filter((stream) => stream.writableLength > 0);
  if (waiting.length === 0) return undefined;
  // Called once everything before it was written, or with the stream's error: either way, nothing waits.
  return Promise.all(waiting.map((stream) => new Promise((resolve) => stream.write("", resolve))));
}

/** Console output written while a job runs becomes a JSON log line naming the job, as the SDK writes it. */
export function attributeConsoleToJobs() {
  attributing = true;
  const levels = { log: "INFO", info: "INFO", debug: "DEBUG", warn: "WARN", error: "ERROR" };
  for (const [method, level] of Object.entries(levels)) {
    const original = console[method].bind(console);
    const stream = level === "WARN" || level === "ERROR" ? process.stderr : process.stdout;
    console[method] = (...args) => {
      const requestId = currentJob?.getStore() ?? soleJob();
      if (requestId === undefined) return original(...args);
      stream.write(`${JSON.stringify({ requestId, message: builtin("node:util").format(...args), level })}\n`);
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
