// The worker's pings (SPEC §2.2): liveness every RUNPOD_PING_INTERVAL, with the jobs it holds. In a worker
// process they are sent, from its first job on, from a thread of their own, as the official SDK sends them from a process of its
// own: a handler that keeps the event loop busy (a long synchronous computation) still pings, and is not
// taken for an unresponsive worker and killed.
import { builtin } from "./builtins.mjs";

/** Reported as `runpod_version` in pings and error payloads. */
export const RUNTIME_VERSION = "node-emulator";

/** How long after its start a worker sends its first ping. */
const FIRST_PING_MS = 20;

/** The longest the ping thread's list of held jobs may lag behind the worker's. */
const THREAD_UPDATE_MS = 250;

/**
 * Pings `url` every `intervalMs` and once at once, with `job_id=` the ids last given to `update()`.
 * With `thread`, the pings move to a thread of their own when the first job is held: starting a thread
 * costs a new V8 isolate (tens of ms of CPU), which at the worker's start would compete with its first
 * job-take and the emulator answering it. Until then nothing runs but the event loop, free to ping.
 * @param {string} url the ping URL, with its query
 * @param {number} intervalMs
 * @param {{ thread: boolean, authorization: string, send: (url: string) => void }} options `send` pings from the event loop
 * @returns {{ update(ids: string[]): void, stop(): void }}
 */
export function startPinger(url, intervalMs, { thread, authorization, send }) {
  if (!thread) return loopPinger(url, intervalMs, send);
  let pinger = loopPinger(url, intervalMs, send);
  let threaded = false;
  return {
    update: (ids) => {
      if (!threaded && ids.length > 0) {
        // Started before the handler runs: a handler that holds the event loop from its first job still pings.
        threaded = true;
        pinger.stop();
        pinger = threadPinger(url, intervalMs, authorization, ids);
      }
      pinger.update(ids);
    },
    stop: () => pinger.stop(),
  };
}

/**
 * Pings from the event loop. The first ping waits FIRST_PING_MS: the worker's first job-take, which goes
 * out at once, tells the emulator it is alive as well, and a job waiting for a new worker is answered
 * to that take at once, before a ping's connection would be set up ahead of it.
 */
function loopPinger(url, intervalMs, send) {
  let ids = [];
  const ping = () => send(pingUrl(url, ids));
  const first = setTimeout(ping, FIRST_PING_MS).unref();
  const timer = setInterval(ping, intervalMs).unref();
  return {
    update: (next) => (ids = next),
    stop: () => {
      clearTimeout(first);
      clearInterval(timer);
    },
  };
}

/** Pings from a thread of its own, which starts with `ids` and pings at once. */
function threadPinger(url, intervalMs, authorization, ids) {
  const worker = new (builtin("node:worker_threads").Worker)(new URL("./pinger-thread.mjs", import.meta.url), { workerData: { url, intervalMs, authorization, ids } });
  worker.unref();
  // A ping thread that fails is a worker that stops pinging: the emulator notices, as it would a hung one.
  worker.on("error", (error) => console.error(`the ping thread failed: ${error.stack ?? error}`));
  // The held jobs change twice per job: each message would wake the thread (a context switch per job on a
  // small machine), while a ping needs only a recent list. The latest list goes over at most every
  // THREAD_UPDATE_MS; a job stopped by the emulator is seen released that much later at most.
  let latest = ids;
  let pending;
  const flush = () => {
    pending = undefined;
    worker.postMessage(latest);
  };
  return {
    update: (next) => {
      if (next === latest) return;
      latest = next;
      pending ??= setTimeout(flush, Math.min(THREAD_UPDATE_MS, intervalMs / 4)).unref();
    },
    stop: () => {
      clearTimeout(pending);
      void worker.terminate();
    },
  };
}

/** The ping URL with the held jobs and the runtime's version. */
export function pingUrl(url, ids) {
  const jobs = ids.map(encodeURIComponent).join(",");
  return `${url}${url.includes("?") ? "&" : "?"}${jobs ? `job_id=${jobs}&` : ""}runpod_version=${RUNTIME_VERSION}`;
}
