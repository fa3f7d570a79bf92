// The worker loop's way to the platform over HTTP: the requests the official Python SDK makes, in its
// shapes (SPEC §2.2), plus the emulator's own job-done-batch where the environment offers it.
import { httpClient } from "./http-client.mjs";
import { startPinger } from "./pinger.mjs";

/**
 * @typedef {{ id: string, input: unknown, webhook?: string, s3Config?: object }} Job
 * @typedef {{ id: string, text: string }} Result a job-done body as JSON text
 * @typedef {Error & { status?: number }} ChannelError `status`: the platform answered (and so read what was sent)
 * @typedef {{
 *   take(free: number, inProgress: boolean, results: Result[], signal: AbortSignal): Promise<Job[]>,
 *   post(route: "done" | "stream", jobId: string, text: string, isStream: boolean): Promise<number>,
 *   postResults(results: Result[]): Promise<number>,
 *   stops(signal: AbortSignal): Promise<string[]>,
 *   startPinger(intervalMs: number, thread: boolean): { update(ids: string[]): void, stop(): void },
 *   describe(route: string, jobId?: string): string,
 *   close(): void,
 * }} Channel
 * The loop's side of the protocol. `take` carries `results` when it can (else they are posted first)
 * and resolves with the jobs handed out (none after a held take's hold passed); it rejects with a
 * ChannelError whose message says what went wrong. `post` and `postResults` resolve with the answer's
 * status and reject on network errors.
 */

/**
 * The channel of a worker process, from the SDK's environment (`env`), with `pod` for its placeholders.
 * @returns {Channel}
 */
export function httpChannel(env, pod) {
  const urls = protocolUrls(env, pod);
  const client = httpClient();
  const authorization = env.RUNPOD_AI_API_KEY ?? "";
  const send = (url, method = "GET", body = undefined, signal = undefined) =>
    // The SDK sends JSON text under this content type; the emulator parses the raw body as JSON.
    client.request(url, { method, body, signal, headers: body === undefined ? { Authorization: authorization } : { Authorization: authorization, "Content-Type": "application/x-www-form-urlencoded" } });

  const results = (list, query = "") => {
    const ids = list.map(({ id }) => `id=${encodeURIComponent(id)}`).join("&");
    const body = list.length === 1 ? list[0].text : `[${list.map(({ text }) => text).join(",")}]`;
    return { url: withQuery(urls.results, query ? `${ids}&${query}` : ids), body };
  };

  /** @type {Channel} */
  const channel = {
    async take(free, inProgress, carried, signal) {
      const flag = `job_in_progress=${inProgress ? 1 : 0}`;
      let answer;
      if (carried.length > 0 && urls.results) {
        const { url, body } = results(carried, `batch_size=${free}&${flag}`);
        answer = await send(url, "POST", body, signal);
      } else {
        if (carried.length > 0) await channel.postResults(carried);
        answer = await send(free === 1 ? withQuery(urls.take, flag) : withQuery(urls.takeBatch, `batch_size=${free}&${flag}`), "GET", undefined, signal);
      }
      const { status, body } = answer;
      if (status === 204) return [];
      if (status === 200) {
        const parsed = parseJson(body);
        const taken = (Array.isArray(parsed) ? parsed : [parsed]).filter((job) => job && typeof job.id === "string" && "input" in job);
        if (taken.length > 0) return taken;
      }
      throw Object.assign(new Error(`answered ${status}: ${body.slice(0, 200)}`), { status });
    },
    async post(route, jobId, text, isStream) {
      const url = (route === "stream" ? urls.stream : urls.done)(jobId);
      return (await send(withQuery(url, `isStream=${isStream}`), "POST", text)).status;
    },
    async postResults(list) {
      if (!urls.results) {
        let status = 200;
        for (const { id, text } of list) status = Math.max(status, await channel.post("done", id, text, false));
        return status;
      }
      const { url, body } = results(list);
      return (await send(url, "POST", body)).status;
    },
    async stops(signal) {
      const { status, body } = await send(urls.stop, "GET", undefined, signal);
      if (status === 204) return [];
      if (status === 200) return parseJson(body)?.jobsToStop ?? [];
      throw Object.assign(new Error(`answered ${status}: ${body.slice(0, 200)}`), { status });
    },
    startPinger(intervalMs, thread) {
      if (!urls.ping) return { update() {}, stop() {} };
      return startPinger(urls.ping, intervalMs, { thread, authorization, send: (url) => void send(url).catch(() => {}) });
    },
    describe(route, jobId) {
      const url = route === "take" ? urls.take : route === "stream" ? urls.stream(jobId ?? "") : urls.done(jobId ?? "");
      return redact(url);
    },
    close() {
      client.close();
    },
  };
  return channel;
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
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
    /** The emulator's own job-done-batch: several results in one request, which may also take (not the SDK's). */
    results: env.RUNPOD_EMULATOR_POST_RESULTS?.replaceAll("$RUNPOD_POD_ID", pod),
  };
}

function withQuery(url, query) {
  return `${url}${url.includes("?") ? "&" : "?"}${query}`;
}

/** The URL without its token, for messages. */
function redact(url) {
  return url.replace(/([?&]token=)[^&]*/, "$1…");
}
