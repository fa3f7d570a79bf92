// The worker loop's way to the emulator over its worker channel (RUNPOD_EMULATOR_CHANNEL; the emulator's
// api/worker-channel.ts describes it): job-take carrying results, job-done and job-stream as frames on
// connections of their own, where HTTP would parse, route and frame each request on both sides. job-stop
// and pings stay HTTP requests (see http-channel.mjs): they are not on any job's path.
import { httpChannel } from "./http-channel.mjs";
import { connectionPool } from "./http-client.mjs";

const PROTOCOL = "runpod-emulator-worker-channel";
const HEAD_END = Buffer.from("\r\n\r\n");

/**
 * The channel of a worker process whose environment offers the worker channel.
 * @returns {import("./http-channel.mjs").Channel}
 */
export function frameChannel(env, pod) {
  const http = httpChannel(env, pod);
  const url = new URL(env.RUNPOD_EMULATOR_CHANNEL.replaceAll("$RUNPOD_POD_ID", pod));
  const handshake = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: Upgrade\r\nUpgrade: ${PROTOCOL}\r\n\r\n`;
  const pool = connectionPool();

  /** The answer's header, or an error whose `status` says the emulator refused the request. */
  const request = async (header, payload, signal = undefined) => {
    const frame = encodeFrame(header, payload);
    // A new connection's first request follows its handshake at once, without waiting for the answer.
    const answer = await pool.send(url.hostname, Number(url.port || 80), (fresh) => (fresh ? [handshake, frame] : frame), frameReader, signal);
    const refusal = answer.header.error;
    if (typeof refusal === "string") throw Object.assign(new Error(`answered ${answer.header.status}: ${refusal}`), { status: answer.header.status });
    return answer.header;
  };

  const results = (list, extra) => ({
    header: { op: "take", ids: list.map(({ id }) => id), sizes: list.map(({ text }) => Buffer.byteLength(text)), ...extra },
    payload: list.map(({ text }) => text).join(""),
  });

  return {
    ...http,
    async take(free, inProgress, carried, signal) {
      const { header, payload } = results(carried, { free, busy: inProgress });
      const answer = await request(header, payload, signal);
      return (Array.isArray(answer.jobs) ? answer.jobs : []).filter((job) => job && typeof job.id === "string" && "input" in job);
    },
    async post(route, jobId, text) {
      return statusOf(() => request({ op: route, id: jobId }, text));
    },
    async postResults(list) {
      const { header, payload } = results(list, { free: 0 });
      return statusOf(() => request(header, payload));
    },
    close() {
      http.close();
      pool.close();
    },
  };
}

/** 200, or the status the emulator refused a post with; network errors are thrown. */
async function statusOf(post) {
  try {
    await post();
    return 200;
  } catch (/** @type {any} */ error) {
    if (error.status === undefined) throw error;
    return error.status;
  }
}

/** A frame: the lengths of its JSON header and of its payload (4 bytes each, big-endian), then both. */
function encodeFrame(header, payload) {
  const head = JSON.stringify(header);
  const headBytes = Buffer.byteLength(head);
  const payloadBytes = Buffer.byteLength(payload);
  const frame = Buffer.allocUnsafe(8 + headBytes + payloadBytes);
  frame.writeUInt32BE(headBytes, 0);
  frame.writeUInt32BE(payloadBytes, 4);
  frame.write(head, 8, "utf8");
  frame.write(payload, 8 + headBytes, "utf8");
  return frame;
}

/**
 * Reads one answer frame, after the handshake's answer on a `fresh` connection: `{ header }`. A refused
 * handshake (401, 404) says why in a JSON body and closes the connection: read at its end, as a header
 * `{ error, status }`.
 * @returns {import("./http-client.mjs").Reader}
 */
export function frameReader(fresh) {
  /** @type {Buffer[]} the answer's bytes so far, gathered until the frame is whole (a 20 MB take is copied once) */
  const pieces = [];
  let bytes = 0;
  /** The answer's length, once its prefix is in. */
  let total = 0;
  let switched = !fresh;
  let refused = false;
  const joined = () => {
    if (pieces.length > 1) pieces.splice(0, pieces.length, Buffer.concat(pieces, bytes));
    return pieces[0] ?? Buffer.alloc(0);
  };
  const reader = {
    started: false,
    /** @param {Buffer} chunk */
    push(chunk) {
      reader.started = true;
      pieces.push(chunk);
      bytes += chunk.length;
      if (refused || bytes < total) return undefined;
      let buffer = joined();
      if (!switched) {
        const end = buffer.indexOf(HEAD_END);
        if (end < 0) return undefined;
        if (!/^HTTP\/1\.\d 101 /.test(buffer.toString("latin1", 0, 13))) return void (refused = true);
        switched = true;
        buffer = buffer.subarray(end + 4);
        pieces.splice(0, pieces.length, buffer);
        bytes = buffer.length;
      }
      if (bytes < 8) return undefined;
      const headBytes = buffer.readUInt32BE(0);
      total = 8 + headBytes + buffer.readUInt32BE(4);
      if (bytes < total) return undefined;
      if (bytes > total) throw new Error("the emulator sent more than one answer");
      try {
        return { header: JSON.parse(buffer.toString("utf8", 8, 8 + headBytes)), keepAlive: true };
      } catch {
        throw new Error("the emulator's answer is not JSON");
      }
    },
    end() {
      if (!refused) return undefined;
      const text = joined().toString("utf8");
      let error = text.slice(text.indexOf("\r\n\r\n") + 4);
      try {
        error = JSON.parse(error).error ?? error;
      } catch {}
      return { header: { error, status: Number(text.slice(9, 12)) }, keepAlive: false };
    },
  };
  return reader;
}
