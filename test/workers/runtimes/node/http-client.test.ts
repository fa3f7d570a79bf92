// The Node worker's HTTP client against a real loopback server that sends canned answers: each way an
// answer's body may be framed, interim answers, keep-alive reuse, a kept-alive connection closed under a
// request, aborts, stalled and malformed answers.
import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module of the worker runtime, without types
import { answerReader, httpClient } from "../../../../src/workers/runtimes/node/http-client.mjs";
import { cannedServer } from "../../../helpers/canned-server.js";

interface Client {
  request(url: string, options?: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal }): Promise<{ status: number; body: string }>;
  close(): void;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(): Client {
  const made = httpClient() as Client;
  cleanups.push(() => made.close());
  return made;
}

const ok = (body: string, extra = "") => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe("the Node worker's HTTP client", () => {
  it("writes the request in one piece with Host and Content-Length, and reuses one connection for requests in turn", async () => {
    const server = await cannedServer(() => ok('{"ok":true}'));
    const http = client();
    const first = await http.request(`${server.url}/v2/a/job-done/w1/j1?isStream=false`, { method: "POST", body: '{"output":"é"}', headers: { Authorization: "KEY" } });
    const second = await http.request(`${server.url}/v2/a/job-take/w1`, { headers: { Authorization: "KEY" } });
    expect(first).toEqual({ status: 200, body: '{"ok":true}' });
    expect(second.status).toBe(200);
    const port = new URL(server.url).port;
    expect(Buffer.from(server.requests[0], "latin1").toString("utf8")).toBe(`POST /v2/a/job-done/w1/j1?isStream=false HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: KEY\r\nContent-Length: 15\r\n\r\n{"output":"é"}`);
    expect(server.requests[1]).toBe(`GET /v2/a/job-take/w1 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: KEY\r\n\r\n`);
    expect(server.connections()).toBe(1);
  });

  it("reads chunked bodies (with trailers), close-delimited bodies, and bodies-less 204s, skipping interim answers", async () => {
    const answers: Record<string, string> = {
      "/chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n6;ext=1\r\n:\"é\"}\r\n0\r\nX-Trailer: 1\r\n\r\n",
      "/interim": `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n${ok("[1]")}`,
      "/empty": "HTTP/1.1 204 No Content\r\n\r\n",
      "/close": "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\nbroken to the end",
    };
    const server = await cannedServer((request) => {
      const path = request.split(" ")[1];
      return answers[path];
    });
    const http = client();
    expect(await http.request(`${server.url}/chunked`)).toEqual({ status: 200, body: '{"a":"é"}' });
    expect(await http.request(`${server.url}/interim`)).toEqual({ status: 200, body: "[1]" });
    expect(await http.request(`${server.url}/empty`)).toEqual({ status: 204, body: "" });
    expect(server.connections()).toBe(1);
    // A close-delimited body ends when the server ends the connection.
    expect(await http.request(`${server.url}/close`)).toEqual({ status: 500, body: "broken to the end" });
    // That connection is not reused: the next request opens another.
    expect((await http.request(`${server.url}/empty`)).status).toBe(204);
    expect(server.connections()).toBe(2);
  });

  it("sends a request once more on a new connection when a kept-alive one closes under it, but not when a new one fails", async () => {
    let destroyed = 0;
    const server = await cannedServer((request, connection) => {
      // The first connection answers once, then closes on the next request without answering, as a server whose idle timeout just passed.
      if (connection === 1 && request.includes("/second")) {
        destroyed++;
        return "destroy";
      }
      if (request.includes("/never")) {
        destroyed++;
        return "destroy";
      }
      return ok("{}");
    });
    const http = client();
    await http.request(`${server.url}/first`);
    expect(await http.request(`${server.url}/second`, { method: "POST", body: "{}" })).toEqual({ status: 200, body: "{}" });
    expect(destroyed).toBe(1);
    expect(server.connections()).toBe(2);
    expect(server.requests.filter((request) => request.includes("/second"))).toHaveLength(2);
    // A connection that was new when it failed: the error is the caller's, the request is not sent again.
    const fresh = client();
    await expect(fresh.request(`${server.url}/never`)).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(server.requests.filter((request) => request.includes("/never"))).toHaveLength(1);
  });

  it("does not take what came on an idle connection for the next answer: it opens a new one", async () => {
    const late = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n";
    const server = await cannedServer((request) => (request.includes("/first") ? { answer: ok("{}"), later: late } : ok('{"second":true}')));
    const http = client();
    await http.request(`${server.url}/first`);
    await waitFor(() => server.open() === 0);
    expect(await http.request(`${server.url}/second`, { method: "POST", body: "{}" })).toEqual({ status: 200, body: '{"second":true}' });
    expect(server.requests.map((request) => request.split(" ").slice(0, 2).join(" "))).toEqual(["GET /first", "POST /second"]);
    expect(server.connections()).toBe(2);
  });

  it("rejects with an AbortError and closes the connection when the signal aborts a held request", async () => {
    const server = await cannedServer(() => undefined);
    const http = client();
    const controller = new AbortController();
    const held = http.request(`${server.url}/v2/a/job-take/w1`, { signal: controller.signal });
    await waitFor(() => server.requests.length === 1);
    controller.abort();
    await expect(held).rejects.toMatchObject({ name: "AbortError" });
    await waitFor(() => server.open() === 0);
    await expect(http.request(`${server.url}/x`, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
  });

  it("gives up on an answer that stalls past its read timeout, without sending the request again", async () => {
    const server = await cannedServer(() => undefined);
    const http = httpClient({ readTimeoutMs: 200 }) as Client;
    cleanups.push(() => http.close());
    await expect(http.request(`${server.url}/v2/a/job-done/w1/j1`, { method: "POST", body: "{}" })).rejects.toMatchObject({ code: "ETIMEDOUT", message: "no answer from the platform for 0.2 s" });
    expect(server.requests).toHaveLength(1);
    await waitFor(() => server.open() === 0);
  });

  it("rejects an answer whose head never ends, once it passes 64 KiB", async () => {
    const server = await cannedServer(() => ({ thenDestroy: `HTTP/1.1 200 OK\r\nX-Long: ${"a".repeat(70_000)}` }));
    await expect(client().request(`${server.url}/`)).rejects.toThrow("the answer's head is longer than 65536 bytes");
  });

  it("rejects an answer that is not HTTP, naming what came instead", async () => {
    const server = await cannedServer(() => "SSH-2.0-OpenSSH\r\n\r\n");
    await expect(client().request(`${server.url}/`)).rejects.toThrow(/not HTTP\/1\.1: "SSH-2\.0-OpenSSH"/);
  });
});

describe("answerReader", () => {
  it("returns the answer only once its body is complete, however the bytes are split", () => {
    const text = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"é\":\"ab\"}";
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const reader = answerReader();
      expect(reader.push(bytes.subarray(0, cut))).toBeUndefined();
      expect(reader.push(bytes.subarray(cut))).toEqual({ status: 200, body: '{"é":"ab"}', keepAlive: true });
    }
  });

  it("reads a 20 MB body pushed in thousands of pieces, with bytes after it seen", () => {
    const body = Buffer.alloc(20 * 1024 * 1024, "é");
    const bytes = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
    for (const extra of ["", "X"]) {
      const reader = answerReader();
      const all = Buffer.concat([bytes, Buffer.from(extra)]);
      let answer;
      for (let at = 0; at < all.length; at += 7001) {
        expect(answer).toBeUndefined();
        answer = reader.push(all.subarray(at, at + 7001));
      }
      expect(answer.body.length).toBe(body.toString("utf8").length);
      expect(answer.body === body.toString("utf8")).toBe(true);
      expect(answer.keepAlive).toBe(extra === "");
    }
  });

  it("marks a connection not reusable after an HTTP/1.0 answer, Connection: close, or bytes past the answer", () => {
    const read = (text: string) => answerReader().push(Buffer.from(text));
    expect(read("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(false);
    expect(read("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(true);
    expect(read("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(false);
    expect(read("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1").keepAlive).toBe(false);
    expect(() => read("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")).toThrow(/Content-Length/);
    expect(() => read("HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\nab")).toThrow(/Content-Length/);
    expect(() => read("HTTP/1.1 200 OK\r\nContent-Length: 1e1\r\n\r\nab")).toThrow(/Content-Length/);
    expect(() => read("HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n")).toThrow(/not HTTP\/1\.1/);
    expect(() => read("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2zz\r\nab\r\n0\r\n\r\n")).toThrow(/a chunk's size is "2zz"/);
    expect(() => read(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${"0".repeat(70_000)}`)).toThrow(/chunk-size line is longer than 65536 bytes/);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 2000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the condition");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
