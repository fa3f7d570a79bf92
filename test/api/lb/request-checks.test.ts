import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { endpointFromHost } from "../../../src/api/lb/host-routing.js";
import { accessChecker } from "../../../src/api/lb/request-checks.js";

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe("load-balancing requests", () => {
  it("find their endpoint from Host: ID.localhost, with or without a port, in any case", () => {
    const endpoints = new Map([["MyApi", 1], ["embed", 2]]);
    expect(endpointFromHost("myapi.localhost:8000", endpoints)).toEqual({ id: "MyApi", endpoint: 1 });
    expect(endpointFromHost("embed.localhost", endpoints)).toEqual({ id: "embed", endpoint: 2 });
    for (const host of ["localhost:8000", "127.0.0.1:8000", "x.embed.localhost", "embed.example.com", undefined]) expect(endpointFromHost(host, endpoints)).toBeUndefined();
  });

  it("pass the API's own rules: the Host check, foreign web pages, and the API key", () => {
    const check = accessChecker({ apiKey: "k", cors: undefined, hosts: { boundHost: "127.0.0.1", allowedHosts: [], anyHost: false } });
    expect(check(request({ host: "api.localhost:8000", authorization: "Bearer k" }))).toBeUndefined();
    expect(check(request({ host: "127.0.0.1:8001", authorization: "k", origin: "http://localhost:3000" }))).toBeUndefined();
    expect(check(request({ host: "evil.example:8001", authorization: "k" }))?.[0]).toBe(403);
    expect(check(request({ host: "127.0.0.1:8001", authorization: "k", origin: "https://evil.example" }))?.[0]).toBe(403);
    expect(check(request({ host: "127.0.0.1:8001" }))).toEqual([401, "missing API key: send the header Authorization: Bearer <key>"]);
    expect(check(request({ host: "127.0.0.1:8001", authorization: "Bearer nope" }))).toEqual([401, "invalid API key"]);
  });
});
