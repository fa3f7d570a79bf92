// The worker's HTTP/1.1 client: keep-alive connections on node:net, one request at a time on each.
//
// Why not node:http's client: a worker's requests are on the path of every job (its result and next take
// go out, the next job comes back), and node:http's client spends about 175 µs of CPU on a small
// request over loopback where this one spends about 70 µs; importing node:http also costs about 3.5 ms of
// every worker's start. A worker talks only to the platform, with small JSON bodies, so what is needed is
// small: a request written in one piece, and an answer framed by Content-Length, chunked, or the
// connection's end.
import { builtin } from "./builtins.mjs";

/** Long-polls are held up to a minute by the platform; an answer that stalls longer than this, the platform is gone. */
const READ_TIMEOUT_MS = 90_000;
/** The longest answer head, or chunk-size line, read before the answer is called malformed. */
const MAX_HEAD = 65_536;

/**
 * @typedef {{ status: number, body: string }} Answer
 * @typedef {{ method?: string, headers?: Record<string, string>, body?: string, signal?: AbortSignal }} RequestOptions
 */

/**
 * A client keeping its idle connections per origin; `close()` ends them. A request fails when nothing of
 * its answer arrives for `readTimeoutMs`.
 */
export function httpClient({ readTimeoutMs = READ_TIMEOUT_MS } = {}) {
  const pool = connectionPool(readTimeoutMs);
  return {
    /**
     * Resolves with the answer's status and body text; rejects on a network error, or with an AbortError
     * when `signal` aborts.
     * @param {string} url
     * @param {RequestOptions} options
     * @returns {Promise<Answer>}
     */
    async request(url, options = {}) {
      const { hostname, port, pathname, search } = new URL(url);
      const origin = `${hostname}:${port || 80}`;
      const method = options.method ?? "GET";
      let head = `${method} ${pathname}${search} HTTP/1.1\r\nHost: ${origin}\r\n`;
      for (const [name, value] of Object.entries(options.headers ?? {})) head += `${name}: ${value}\r\n`;
      if (options.body !== undefined) head += `Content-Length: ${Buffer.byteLength(options.body)}\r\n`;
      const message = `${head}\r\n${options.body ?? ""}`;
      const { status, body } = await pool.send(hostname, Number(port || 80), () => message, answerReader, options.signal);
      return { status, body };
    },
    close: pool.close,
  };
}

/**
 * @typedef {{ started: boolean, push(chunk: Buffer): ({ keepAlive: boolean } & object) | undefined, end(): ({ keepAlive: boolean } & object) | undefined }} Reader
 * reads one answer from the chunks pushed in: `push` returns it once it is complete, `end` (the connection
 * ended) whatever answer that completes; `started` once a byte came
 */

/**
 * Keep-alive connections per origin, one exchange at a time on each. `send` writes `messageFor(fresh)`
 * (`fresh`: on a new connection) and reads one answer with `readerFor(fresh)`; it rejects on a network
 * error, with an AbortError when `signal` aborts, or when nothing of the answer arrives for
 * `readTimeoutMs`. A kept-alive connection the server closed just as it was reused gets the message once
 * more on a new one: nothing of it reached the server.
 */
export function connectionPool(readTimeoutMs = READ_TIMEOUT_MS) {
  /** @type {Map<string, Set<import("node:net").Socket>>} idle connections by "host:port" */
  const idle = new Map();
  return {
    /**
     * @template {{ keepAlive: boolean }} A
     * @param {(fresh: boolean) => string | Buffer | (string | Buffer)[]} messageFor
     * @param {(fresh: boolean) => Reader} readerFor
     * @returns {Promise<A>}
     */
    send(hostname, port, messageFor, readerFor, signal) {
      const origin = `${hostname}:${port}`;
      let free = idle.get(origin);
      if (!free) idle.set(origin, (free = new Set()));
      const connections = free;
      const attempt = (/** @type {boolean} */ fresh) => {
        const reused = !fresh ? connections.values().next().value : undefined;
        let socket = reused;
        if (socket) connections.delete(socket);
        else socket = connect(hostname.startsWith("[") ? hostname.slice(1, -1) : hostname, port, connections);
        return exchange(socket, messageFor(!reused), signal, readTimeoutMs, readerFor(!reused)).then(
          (answer) => {
            if (answer.keepAlive) {
              // Kept for the next request, without keeping the process alive meanwhile.
              socket.unref();
              connections.add(socket);
            } else socket.destroy();
            return answer;
          },
          (/** @type {Error & { answered?: boolean }} */ error) => {
            socket.destroy();
            if (reused && !error.answered && !signal?.aborted) return attempt(true);
            throw error;
          },
        );
      };
      return attempt(false);
    },
    close() {
      for (const connections of idle.values()) for (const socket of connections) socket.destroy();
    },
  };
}

/** A new connection, which leaves `free` when it closes. */
function connect(host, port, free) {
  const socket = builtin("node:net").connect({ host, port, noDelay: true });
  // Errors are reported by the request using the connection; an idle one is only forgotten.
  socket.on("error", () => {});
  socket.on("close", () => free.delete(socket));
  // Bytes no request asked for make an idle connection unusable: they would be read as the next answer.
  socket.on("data", () => {
    if (free.has(socket)) socket.destroy();
  });
  return socket;
}

/**
 * Writes `message` on `socket` and reads one answer with `reader`.
 * @param {Reader} reader
 */
function exchange(socket, message, signal, readTimeoutMs, reader) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    // Written before the listeners are set: the answer and any error arrive on later turns of the
    // event loop, and meanwhile the server is at work on the message.
    socket.ref();
    for (const part of [message].flat()) socket.write(part);
    const done = (/** @type {() => void} */ settle) => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onClose);
      socket.off("error", onError);
      socket.off("timeout", onTimeout);
      socket.setTimeout(0);
      signal?.removeEventListener("abort", onAbort);
      settle();
    };
    // `answered`: the request may have been read, so it must not be sent again.
    const fail = (/** @type {Error} */ error, answered = reader.started) => done(() => reject(Object.assign(error, { answered })));
    const onData = (/** @type {Buffer} */ chunk) => {
      let answer;
      try {
        answer = reader.push(chunk);
      } catch (error) {
        return fail(/** @type {Error} */ (error));
      }
      if (answer) done(() => resolve(answer));
    };
    const onEnd = () => {
      const answer = reader.end();
      if (answer) done(() => resolve(answer));
      else fail(connectionError("the connection closed before the answer was complete", "ECONNRESET"));
    };
    const onClose = () => fail(connectionError("the connection closed before an answer", "ECONNRESET"));
    const onError = (/** @type {Error} */ error) => fail(error);
    const onTimeout = () => {
      socket.destroy();
      fail(connectionError(`no answer from the platform for ${readTimeoutMs / 1000} s`, "ETIMEDOUT"), true);
    };
    const onAbort = () => {
      socket.destroy();
      done(() => reject(abortError(signal)));
    };
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onClose);
    socket.on("error", onError);
    socket.on("timeout", onTimeout);
    socket.setTimeout(readTimeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

const HEAD_END = Buffer.from("\r\n\r\n");
const EMPTY = Buffer.alloc(0);

/**
 * Reads one HTTP/1.1 answer from the chunks pushed in: `push` returns the answer once it is complete,
 * `end` (the connection ended) returns one whose body runs to the connection's end. 1xx answers are skipped.
 */
export function answerReader() {
  let buffer = EMPTY;
  // Chunks not joined to the buffer yet: until a body of known length is all in, they are only gathered,
  // since joining each one would copy a 20 MB body in 64 KiB chunks a few hundred times.
  /** @type {Buffer[]} */
  const gathered = [];
  let gatheredBytes = 0;
  /** @type {{ status: number, keepAlive: boolean, length?: number, chunked: boolean } | undefined} */
  let head;
  const join = () => {
    if (gathered.length === 0) return;
    buffer = buffer.length === 0 && gathered.length === 1 ? gathered[0] : Buffer.concat([buffer, ...gathered]);
    gathered.length = 0;
    gatheredBytes = 0;
  };
  const reader = {
    started: false,
    /** @param {Buffer} chunk */
    push(chunk) {
      reader.started = true;
      gathered.push(chunk);
      gatheredBytes += chunk.length;
      if (head?.length !== undefined && buffer.length + gatheredBytes < head.length) return undefined;
      join();
      return parse();
    },
    end() {
      join();
      // Without a length, the body runs to the connection's end.
      return head && head.length === undefined && !head.chunked ? { status: head.status, body: buffer.toString("utf8"), keepAlive: false } : undefined;
    },
  };

  function parse() {
    while (!head) {
      const at = buffer.indexOf(HEAD_END);
      if (at < 0) return tooLong(buffer.length, "head");
      const parsed = parseHead(buffer.toString("latin1", 0, at));
      buffer = buffer.subarray(at + 4);
      // An interim answer (100 Continue and the like) is followed by the real one.
      if (parsed.status >= 200 || parsed.status === 101) head = parsed;
    }
    if (head.status === 204 || head.status === 304) return complete(EMPTY, 0);
    if (head.chunked) return chunks();
    if (head.length !== undefined && buffer.length >= head.length) return complete(buffer.subarray(0, head.length), head.length);
    return undefined;
  }

  /** The answer whose body is `body` and which ends at `end` of the buffer: anything after it makes the connection unusable. */
  function complete(body, end) {
    return { status: head.status, body: body.toString("utf8"), keepAlive: head.keepAlive && buffer.length === end };
  }

  /** The body of a chunked answer, once its last chunk arrived. */
  function chunks() {
    const parts = [];
    let at = 0;
    for (;;) {
      const line = buffer.indexOf("\r\n", at);
      if (line < 0) return tooLong(buffer.length - at, "chunk-size line");
      const digits = buffer.toString("latin1", at, line).split(";")[0].trim();
      if (!/^[0-9a-f]{1,12}$/i.test(digits)) throw new Error(`the answer's chunked body is malformed: a chunk's size is ${JSON.stringify(digits.slice(0, 40))}`);
      const size = Number.parseInt(digits, 16);
      if (size === 0) {
        // The last chunk ends with an empty line, after trailers if there are any.
        const end = buffer.indexOf(HEAD_END, line);
        return end < 0 ? undefined : complete(Buffer.concat(parts), end + 4);
      }
      if (buffer.length < line + 2 + size + 2) return undefined;
      parts.push(buffer.subarray(line + 2, line + 2 + size));
      at = line + 2 + size + 2;
    }
  }

  return reader;
}

/** Nothing while a line still being read is within MAX_HEAD bytes; past it, the answer is malformed. */
function tooLong(bytes, what) {
  if (bytes > MAX_HEAD) throw new Error(`the answer's ${what} is longer than ${MAX_HEAD} bytes`);
  return undefined;
}

/** Status, framing and persistence from an answer's head. */
function parseHead(text) {
  const lines = text.split("\r\n");
  const match = /^HTTP\/1\.(\d) (\d{3})(?: |$)/.exec(lines[0]);
  if (!match) throw new Error(`the answer is not HTTP/1.1: ${JSON.stringify(lines[0].slice(0, 80))}`);
  let keepAlive = match[1] === "1";
  let length;
  let chunked = false;
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(":");
    const name = lines[i].slice(0, colon).trim().toLowerCase();
    const value = lines[i].slice(colon + 1).trim().toLowerCase();
    if (name === "content-length") length = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
    else if (name === "transfer-encoding") chunked = value.split(",").at(-1)?.trim() === "chunked";
    else if (name === "connection") keepAlive = value === "keep-alive" || (keepAlive && !value.split(",").some((token) => token.trim() === "close"));
  }
  if (length !== undefined && !(Number.isSafeInteger(length) && length >= 0)) throw new Error("the answer's Content-Length is malformed");
  return { status: Number(match[2]), keepAlive, length: chunked ? undefined : length, chunked };
}

function connectionError(message, code) {
  return Object.assign(new Error(message), { code });
}

function abortError(signal) {
  return Object.assign(new Error("the request was aborted", { cause: signal?.reason }), { name: "AbortError", code: "ABORT_ERR" });
}
