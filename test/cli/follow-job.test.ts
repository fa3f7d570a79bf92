import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { clientCall } from "../../src/cli/follow-job.js";
import { EmulatorError } from "../../src/errors.js";

/** A loopback HTTP server answering every request with `status` and `body`; closed after the test. */
async function server(status: number, body: string): Promise<string> {
  const http = createServer((_, response) => response.writeHead(status).end(body));
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => http.close(() => resolve())));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/v2/local`;
}

/** A loopback URL on which nothing listens: a port that was free a moment ago. */
async function deadUrl(): Promise<string> {
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  await new Promise<void>((resolve) => http.close(() => resolve()));
  return `http://127.0.0.1:${port}/v2/local`;
}

describe("clientCall", () => {
  it("says in one line that nothing answers, keeping fetch's error as the cause", async () => {
    const url = await deadUrl();
    const error = await clientCall(url, "GET", "/health", undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmulatorError);
    expect(error).toMatchObject({ code: "ERR_UNREACHABLE", userError: true, message: `cannot reach the emulator at ${url}: connection refused` });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it("names a server that does not answer JSON", async () => {
    const url = await server(200, "<html>hello</html>");
    await expect(clientCall(url, "GET", "/health", undefined)).rejects.toMatchObject({
      code: "ERR_UNREACHABLE",
      message: `${url} did not answer GET /health with JSON (status 200): is it an emulator?`,
    });
  });

  it("passes the emulator's own error sentence on", async () => {
    const url = await server(401, JSON.stringify({ error: "missing or invalid API key" }));
    await expect(clientCall(url, "POST", "/run", "wrong", { input: 1 })).rejects.toMatchObject({
      code: "ERR_REQUEST_FAILED",
      message: `the emulator at ${url} answered POST /run with 401: missing or invalid API key`,
    });
  });

  it("returns the parsed answer", async () => {
    const url = await server(200, JSON.stringify({ id: "a", status: "IN_QUEUE" }));
    expect(await clientCall(url, "POST", "/run", undefined, { input: 1 })).toEqual({ id: "a", status: "IN_QUEUE" });
  });
});
