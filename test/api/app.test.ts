import { describe, expect, it } from "vitest";
import type { ApiOptions } from "../../src/api/app.js";
import { JobList } from "../../src/store/job-list.js";
import { apiAppOf } from "../helpers/api-app.js";
import { startEmulator } from "../helpers/emulator.js";

/**
 * The API app answering without a socket (`app.request()`), over a real emulator's endpoint; the long
 * cold start keeps workers away, so submitted jobs stay queued.
 */
async function appOf(options: Partial<ApiOptions> = {}) {
  const emu = await startEmulator({ mock: true, coldStart: 600_000 });
  const app = apiAppOf(emu, options);
  const request = async (method: string, path: string, body?: BodyInit, headers: Record<string, string> = {}) => {
    const response = await app.request(`/v2/local${path}`, { method, body, headers });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  };
  return { emu, app, request, queued: () => emu.endpoint.health().jobs.inQueue };
}

describe("the API app", () => {
  it("routes with Hono's RegExpRouter: no route's pattern makes it fall back to the slower trie router", async () => {
    const emu = await startEmulator({ mock: true });
    const app = apiAppOf(emu, { console: { jobs: new JobList(emu.database), details: () => undefined, describe: () => ({}) } });
    expect((await app.request("/v2/local/health")).status).toBe(200);
    expect(app.router.name).toBe("SmartRouter + RegExpRouter");
  });

  it("answers 404 for unknown routes, endpoints and jobs, and 405 with Allow for a wrong method", async () => {
    const { app, request } = await appOf();
    expect(await request("GET", "/status/nope")).toMatchObject({ status: 404, body: { error: expect.stringMatching(/^no job "nope" on endpoint "local"/) } });
    expect((await app.request("/v2/other/health")).status).toBe(404);
    expect(await (await app.request("/v2/other/health")).json()).toEqual({ error: 'no endpoint "other"; this emulator serves "local"' });
    expect(await (await app.request("/elsewhere")).json()).toEqual({ error: "no route /elsewhere; the API lives under /v2/{endpoint_id}/" });
    expect(await request("GET", "/status")).toMatchObject({ status: 404, body: { error: "no route /v2/local/status; use /v2/local/status/{job_id}" } });
    expect(await request("GET", "/nothing")).toMatchObject({ status: 404, body: { error: "no route /v2/local/nothing" } });
    const run = await request("GET", "/run");
    expect(run).toMatchObject({ status: 405, body: { error: "/run accepts POST, not GET" } });
    expect(run.headers.get("allow")).toBe("POST");
    const status = await request("PUT", "/status/x");
    expect(status).toMatchObject({ status: 405, body: { error: "/status accepts GET and POST, not PUT" } });
    expect(status.headers.get("allow")).toBe("GET, HEAD, POST");
  });

  it("refuses bad bodies with 400 naming the problem, and creates no job", async () => {
    const { request, queued } = await appOf();
    const cases: [BodyInit, RegExp][] = [
      ["{not json", /not valid JSON/],
      ["", /is empty/],
      ["[1]", /must be a JSON object with an "input" key, got an array/],
      ['{"inputs": 1}', /has no "input" key/],
      ['{"input": 1, "policy": {"executionTimeout": 10}}', /policy.executionTimeout must be between 5000 and/],
      ['{"input": 1, "policy": {"ttl": "soon"}}', /policy.ttl must be a whole number of milliseconds, got "soon"/],
      ['{"input": 1, "policy": {"lowPriority": "yes"}}', /policy.lowPriority must be true or false/],
      ['{"input": 1, "policy": 5}', /"policy" must be an object/],
      ['{"input": 1, "webhook": "ftp://x"}', /"webhook" must be an http\(s\) URL/],
      [new Uint8Array([...Buffer.from('{"input": "'), 0xc3, 0x28, ...Buffer.from('"}')]), /^the body of \/run is not valid UTF-8/],
      [`{"input": ${"[".repeat(4500)}${"]".repeat(4500)}}`, /^the body of \/run nests arrays and objects deeper than 512 levels$/],
    ];
    for (const [body, message] of cases) {
      const answer = await request("POST", "/run", body);
      expect(answer.status, String(body).slice(0, 60)).toBe(400);
      expect(answer.body.error, String(body).slice(0, 60)).toMatch(message);
    }
    expect((await request("GET", "/status/x?ttl=soon")).status).toBe(404);
    expect(await request("GET", "/health")).toMatchObject({ status: 200, body: { jobs: { inQueue: 0 } } });
    expect(queued()).toBe(0);
  });

  it("accepts nesting up to the limit", async () => {
    const { request } = await appOf();
    const answer = await request("POST", "/run", `{"input": ${"[".repeat(511)}${"]".repeat(511)}}`);
    expect(answer).toMatchObject({ status: 200, body: { status: "IN_QUEUE" } });
  });

  it("refuses webhooks to link-local and cloud metadata addresses", async () => {
    const { request, queued } = await appOf();
    for (const webhook of ["http://169.254.169.254/latest/meta-data/", "http://2852039166/", "http://[fe80::1]:8080/hook", "http://metadata.google.internal/x", "https://[::ffff:169.254.169.254]/"]) {
      const answer = await request("POST", "/run", JSON.stringify({ input: 1, webhook }));
      expect(answer, webhook).toMatchObject({ status: 400, body: { error: expect.stringMatching(/a link-local or cloud metadata address; list it in the allowWebhookHosts option/) } });
    }
    expect(queued()).toBe(0);
    expect((await request("POST", "/run", JSON.stringify({ input: 1, webhook: "http://127.0.0.1:9/hook" }))).status).toBe(200);
  });

  it("refuses a body over the limit of its route with 413, from its Content-Length or as counted", async () => {
    const { request, queued } = await appOf({ limits: { run: 1000, runsync: 2000 } });
    const body = JSON.stringify({ input: "x".repeat(1500) });
    expect(await request("POST", "/run", body, { "Content-Length": String(body.length) })).toMatchObject({
      status: 413,
      body: { error: "request body of 0.001512 MB exceeds the 0.001 MB limit of /run" },
    });
    expect(await request("POST", "/run", body)).toMatchObject({ status: 413, body: { error: "request body exceeds the 0.001 MB limit of /run" } });
    expect(queued()).toBe(0);
    expect((await request("POST", "/runsync?wait=1000", body)).status).toBe(200);
  });

  it("requires the API key when one is configured, as Bearer or raw", async () => {
    const { request } = await appOf({ apiKey: "k3y" });
    expect(await request("GET", "/health")).toMatchObject({ status: 401, body: { error: expect.stringMatching(/^missing API key/) } });
    expect(await request("GET", "/health", undefined, { Authorization: "Bearer nope" })).toMatchObject({ status: 401, body: { error: "invalid API key" } });
    expect((await request("GET", "/health", undefined, { Authorization: "Bearer k3y" })).status).toBe(200);
    expect((await request("GET", "/health", undefined, { Authorization: "k3y" })).status).toBe(200);
    // The method is checked before the key.
    expect((await request("GET", "/run")).status).toBe(405);
  });

  it("answers a CORS preflight from a local web page, and adds the headers to its requests", async () => {
    const { request } = await appOf();
    const origin = "http://localhost:5173";
    const preflight = await request("OPTIONS", "/run", undefined, { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, authorization" });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(origin);
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    expect(preflight.headers.get("access-control-allow-headers")).toBe("content-type,authorization");
    const run = await request("POST", "/run", JSON.stringify({ input: 1 }), { Origin: origin, "Content-Type": "application/json" });
    expect(run).toMatchObject({ status: 200, body: { status: "IN_QUEUE" } });
    expect(run.headers.get("access-control-allow-origin")).toBe(origin);
    expect(run.headers.get("vary")).toBe("Origin");
    // Errors carry them too, so that the page can read them.
    const missing = await request("GET", "/status/nope", undefined, { Origin: origin });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("access-control-allow-origin")).toBe(origin);
    for (const local of ["https://app.localhost", "http://127.0.0.1:3000", "http://[::1]:8080"]) {
      expect((await request("GET", "/health", undefined, { Origin: local })).status, local).toBe(200);
    }
  });

  it("refuses requests from other web pages with 403, a text/plain POST included, creating no job", async () => {
    const { request, queued } = await appOf();
    const origin = "http://evil.example";
    const refused = await request("POST", "/run", JSON.stringify({ input: 1 }), { Origin: origin, "Content-Type": "text/plain" });
    expect(refused).toMatchObject({ status: 403, body: { error: "web pages from http://evil.example may not call this emulator; allow them with the cors option (--cors http://evil.example)" } });
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    expect((await request("OPTIONS", "/run", undefined, { Origin: origin, "Access-Control-Request-Method": "POST" })).status).toBe(403);
    expect((await request("GET", "/health", undefined, { Origin: "null" })).status).toBe(403);
    expect(queued()).toBe(0);
    // A page served by the emulator itself.
    expect((await request("GET", "/health", undefined, { Origin: "http://192.168.1.5:8000", Host: "192.168.1.5:8000" })).status).toBe(200);
  });

  it("allows the origins of the cors setting instead of local pages", async () => {
    const listed = await appOf({ cors: ["https://app.example.com/"] });
    expect((await listed.request("GET", "/health", undefined, { Origin: "https://app.example.com" })).status).toBe(200);
    expect((await listed.request("GET", "/health", undefined, { Origin: "http://localhost:5173" })).status).toBe(403);
    const any = await appOf({ cors: "*" });
    expect((await any.request("GET", "/health", undefined, { Origin: "http://evil.example" })).status).toBe(200);
  });

  it("refuses a Host that is not one of the emulator's names (DNS rebinding)", async () => {
    const { request } = await appOf({ allowedHosts: [".example.com"] });
    const refused = await request("GET", "/health", undefined, { Host: "rebind.attacker.test:8000" });
    expect(refused).toMatchObject({ status: 403, body: { error: 'host "rebind.attacker.test" is not a name of this emulator; add it to the allowedHosts option (--allowed-hosts rebind.attacker.test) to allow it' } });
    for (const host of ["127.0.0.1:8000", "localhost:8000", "LOCALHOST.", "ep1.localhost:8000", "[::1]:8000", "10.0.0.7", "api.example.com:8000", "example.com"]) {
      expect((await request("GET", "/health", undefined, { Host: host })).status, host).toBe(200);
    }
    // Bound beyond loopback with an API key, any name is accepted; on loopback, not.
    const headers = { Host: "rebind.attacker.test", Authorization: "k" };
    expect((await (await appOf({ boundHost: "0.0.0.0", apiKey: "k" })).request("GET", "/health", undefined, headers)).status).toBe(200);
    expect((await (await appOf({ boundHost: "localhost", apiKey: "k" })).request("GET", "/health", undefined, headers)).status).toBe(403);
    expect((await (await appOf({ boundHost: "0.0.0.0" })).request("GET", "/health", undefined, headers)).status).toBe(403);
  });
});
