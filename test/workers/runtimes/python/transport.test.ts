// The bundled runpod module's HTTP client (runpod/serverless/transport.py), run by the real interpreter
// against a real loopback server sending canned answers: the request's exact bytes, each way an answer's
// body may be framed, interim answers, keep-alive reuse, a kept-alive connection closed under a request,
// answers cut short, what comes on an idle connection, timeouts; and its URL and query helpers against urllib.parse.
import { execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { cannedServer } from "../../../helpers/canned-server.js";

const BUNDLED = fileURLToPath(new URL("../../../../src/workers/runtimes/python/bundled", import.meta.url));
const PYTHON = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();

/** Runs the requests in turn in one interpreter (one thread: one kept-alive connection); returns each one's outcome. */
const DRIVER = `
import json, select, sys
from runpod.serverless import transport
for step in json.loads(sys.argv[1]):
    transport.READ_TIMEOUT = step.get("timeout", transport.READ_TIMEOUT)
    if step.get("awaitIdleBytes"):
        # Until something came on the kept connection (at most 5 s).
        poller = select.poll()
        poller.register(next(iter(transport._local.connections.values())).sock, select.POLLIN)
        poller.poll(5000)
    try:
        if "body" in step:
            status, body = transport.post(step["url"], step["body"].encode("utf-8"), "JOB1")
        else:
            status, body = transport.get(step["url"], step.get("json", True))
        print(json.dumps({"status": status, "body": body.decode("utf-8")}))
    except Exception as error:
        print(json.dumps({"error": "{}: {}".format(type(error).__name__, error)}))
`;

interface Step {
  url: string;
  body?: string;
  json?: boolean;
  /** Before the request, wait until something comes on the idle kept-alive connection. */
  awaitIdleBytes?: boolean;
  /** READ_TIMEOUT for this request and the rest. */
  timeout?: number;
}
type Outcome = { status: number; body: string } | { error: string };

function requests(steps: Step[]): Promise<Outcome[]> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PYTHONPATH: BUNDLED, RUNPOD_AI_API_KEY: "KEY" };
    execFile(PYTHON, ["-c", DRIVER, JSON.stringify(steps)], { env, timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(stdout.trim().split("\n").map((line) => JSON.parse(line) as Outcome));
    });
  });
}

const ok = (body: string, extra = "") => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const failed = (method: string, path: string, detail = "") => ({ error: `OSError: ${method} ${path}: the connection to the platform failed${detail}` });
const USER_AGENT = execFileSync(PYTHON, ["-c", "from runpod.serverless import transport; print(transport.USER_AGENT)"], { env: { ...process.env, PYTHONPATH: BUNDLED }, encoding: "utf8" }).trim();

describe("the bundled runpod module's HTTP client", () => {
  it("sends the headers http.client sent for the SDK, in its order, and keeps one connection for requests in turn", async () => {
    const server = await cannedServer(() => ok('{"ok":true}'));
    const outcomes = await requests([
      { url: `${server.url}/v2/EP/job-take/W?gpu=LOCAL&job_in_progress=0` },
      { url: `${server.url}/v2/EP/ping/W?runpod_version=1`, json: false },
      { url: `${server.url}/v2/EP/job-done/W/JOB1?gpu=LOCAL&isStream=false#ignored`, body: '{"output": "é"}' },
    ]);
    expect(outcomes).toEqual(Array(3).fill({ status: 200, body: '{"ok":true}' }));
    const host = `Host: ${new URL(server.url).host}\r\nAccept-Encoding: identity\r\n`;
    const tail = `Authorization: KEY\r\nUser-Agent: ${USER_AGENT}\r\n\r\n`;
    expect(server.requests.map((request) => Buffer.from(request, "latin1").toString("utf8"))).toEqual([
      `GET /v2/EP/job-take/W?gpu=LOCAL&job_in_progress=0 HTTP/1.1\r\n${host}Content-Type: application/json\r\n${tail}`,
      `GET /v2/EP/ping/W?runpod_version=1 HTTP/1.1\r\n${host}${tail}`,
      `POST /v2/EP/job-done/W/JOB1?gpu=LOCAL&isStream=false HTTP/1.1\r\n${host}Content-Length: 16\r\nContent-Type: application/x-www-form-urlencoded\r\ncharset: utf-8\r\nX-Request-ID: JOB1\r\n${tail}{"output": "é"}`,
    ]);
    expect(server.connections()).toBe(1);
  });

  it("reads Content-Length, chunked (with extensions and trailers) and close-delimited bodies, skipping interim answers", async () => {
    const answers: Record<string, string> = {
      "/length": ok('{"a":"é"}'),
      "/chunked": 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n6;ext=1\r\n:"é"}\r\n0\r\nX-Trailer: 1\r\n\r\n',
      "/interim": `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n${ok("[1]")}`,
      "/empty": "HTTP/1.1 204 No Content\r\n\r\n",
      "/close": "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nbroken to the end",
    };
    const server = await cannedServer((request) => answers[request.split(" ")[1]]);
    const outcomes = await requests(["/length", "/chunked", "/interim", "/empty", "/close", "/empty"].map((path) => ({ url: server.url + path })));
    expect(outcomes).toEqual([
      { status: 200, body: '{"a":"é"}' },
      { status: 200, body: '{"a":"é"}' },
      { status: 200, body: "[1]" },
      { status: 204, body: "" },
      // A close-delimited body ends when the server ends the connection, which is then not reused.
      { status: 500, body: "broken to the end" },
      { status: 204, body: "" },
    ]);
    expect(server.connections()).toBe(2);
  });

  it("sends a request once more on a new connection when a kept-alive one closes under it, and only once", async () => {
    const server = await cannedServer((request, connection) => {
      // The first connection answers once, then closes on the next request without answering, as a
      // server whose idle timeout just passed; /never closes every connection it comes on.
      if ((connection === 1 && request.includes("/second")) || request.includes("/never")) return "destroy";
      return ok("{}");
    });
    const outcomes = await requests([
      { url: `${server.url}/first` },
      { url: `${server.url}/second`, body: "{}" },
      { url: `${server.url}/never` },
    ]);
    expect(outcomes).toEqual([{ status: 200, body: "{}" }, { status: 200, body: "{}" }, failed("GET", "/never")]);
    const sent = (path: string) => server.requests.filter((request) => request.split(" ")[1] === path).length;
    expect([sent("/first"), sent("/second"), sent("/never")]).toEqual([1, 2, 2]);
    expect(server.connections()).toBe(3);
  });

  it("does not take what came on an idle connection for the next answer: it opens a new one", async () => {
    const late = "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    const server = await cannedServer((request) => (request.includes("/first") ? { answer: ok("{}"), later: late } : ok('{"second":true}')));
    const outcomes = await requests([{ url: `${server.url}/first` }, { url: `${server.url}/second`, body: "{}", awaitIdleBytes: true }]);
    expect(outcomes).toEqual([{ status: 200, body: "{}" }, { status: 200, body: '{"second":true}' }]);
    expect(server.requests.map((request) => request.split(" ").slice(0, 2).join(" "))).toEqual(["GET /first", "POST /second"]);
    expect(server.connections()).toBe(2);
  });

  it("never sends again a request whose answer had begun, nor one that failed on a new connection", async () => {
    const server = await cannedServer((request) => {
      if (request.includes("/cut")) return { thenDestroy: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{"a' };
      if (request.includes("/fresh")) return "destroy";
      return ok("{}");
    });
    const outcomes = await requests([{ url: `${server.url}/first` }, { url: `${server.url}/cut`, body: "{}" }, { url: `${server.url}/fresh` }]);
    expect(outcomes).toEqual([{ status: 200, body: "{}" }, failed("POST", "/cut", " (the connection ended mid-answer)"), failed("GET", "/fresh")]);
    expect(server.requests.map((request) => request.split(" ").slice(0, 2).join(" "))).toEqual(["GET /first", "POST /cut", "GET /fresh"]);
  });

  it("names an answer that is not HTTP, and one whose framing is broken", async () => {
    const answers: Record<string, string | Buffer> = {
      "/ssh": "SSH-2.0-OpenSSH\r\n\r\n",
      "/length": "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "/chunk": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      // "²" in Latin-1, one byte: a digit to str.isdigit(), not to int().
      "/status": Buffer.from("HTTP/1.1 2²0 OK\r\nContent-Length: 0\r\n\r\n", "latin1"),
      "/digits": Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: ²\r\n\r\n", "latin1"),
    };
    const server = await cannedServer((request) => answers[request.split(" ")[1]]);
    expect(await requests(Object.keys(answers).map((path) => ({ url: server.url + path })))).toEqual([
      failed("GET", "/ssh", " (the answer is not HTTP/1.1: 'SSH-2.0-OpenSSH')"),
      failed("GET", "/length", " (the answer's Content-Length is '-1')"),
      failed("GET", "/chunk", " (a chunk's size is b'zz')"),
      failed("GET", "/status", " (the answer is not HTTP/1.1: 'HTTP/1.1 2²0 OK')"),
      failed("GET", "/digits", " (the answer's Content-Length is '²')"),
    ]);
  });

  it("gives up on an unanswered request after READ_TIMEOUT, and the next one goes on a new connection", async () => {
    const server = await cannedServer((request) => (request.includes("/held") ? undefined : ok("{}")));
    const outcomes = await requests([{ url: `${server.url}/held`, timeout: 0.3 }, { url: `${server.url}/after` }]);
    expect(outcomes).toEqual([{ error: "OSError: GET /held: no answer from the platform for 0.3 s" }, { status: 200, body: "{}" }]);
    expect(server.connections()).toBe(2);
  });

  it("writes queries as urllib.parse.urlencode and reads URLs as urllib.parse.urlsplit and http.client", () => {
    const check = `
import http.client, json
from urllib.parse import urlencode, urlsplit
from runpod.serverless import transport
pairs = [("job_id", "a,b"), ("runpod_version", "1.12.0+emulator"), ("id", "é x/&=?%~"), ("n", 3)]
assert transport.query(pairs) == urlencode(pairs), transport.query(pairs)
for url in ["http://127.0.0.1:8000/v2/EP/job-take/W?gpu=LOCAL&token=x", "http://Example.COM/a", "http://[::1]:99/p?q=1#f", "http://u:p@h:81?x", "http://h", "http://h/p#f?x"]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    connection.putrequest("GET", "/")
    host = [line for line in connection._buffer if line.startswith(b"Host: ")][0][6:].decode()
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    assert transport.split(url) == (parts.hostname, parts.port or 80, host, target), (url, transport.split(url))
print("ok")
`;
    expect(execFileSync(PYTHON, ["-c", check], { env: { ...process.env, PYTHONPATH: BUNDLED }, encoding: "utf8" }).trim()).toBe("ok");
  });
});
