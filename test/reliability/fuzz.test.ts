import { readFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import fc from "fast-check";
import { expect, it } from "vitest";
import { workerProcesses } from "../helpers/global-setup.js";
import { scratchDir } from "../helpers/scratch.js";
import { jobsOnDisk, startEmulatorProcess } from "./emulator-process.js";
import { record } from "./figures.js";

const handler = new URL("../../fixtures/node/echo/handler.js", import.meta.url).pathname;
const RUNS = 3000;

/** 5xx answers the README documents: the OpenAI route's answer for a job that failed or a worker's `{error}`. */
const documented = (path: string, status: number, body: string) =>
  status === 500 && path.includes("/openai/") && /"error":"(the job \S+ ended|the worker answered with an error)/.test(body);

/** Whether an answer says a job was made: 200 from a submission, or the OpenAI route's documented 500 for one. */
const made = (path: string, status: number, body: string) => creates(path) && (status === 200 || documented(path, status, body));

/** Operations that create a job when answered 200. */
const creates = (path: string) => /\/(run|runsync|openai\/v1\/((chat\/)?completions|models))(\?|$)/.test(path);

interface Sample {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

it(`answers ${RUNS} generated requests to every client and worker route without a crash, a 5xx or a job from a refused request`, async () => {
  const dir = scratchDir();
  const database = join(dir, "jobs.db");
  const emu = await startEmulatorProcess([handler, "--db", database, "--no-watch", "--min-workers", "1", "--execution-timeout", "5s"]);
  const port = new URL(emu.url).port;
  // A real worker's id and token, so that the worker routes are reached past their check too.
  const deadline = Date.now() + 20_000;
  while (workerProcesses(emu.url).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const environ = readFileSync(`/proc/${workerProcesses(emu.url)[0]}/environ`, "utf8").split("\0");
  const workerId = (environ.find((v) => v.startsWith("RUNPOD_POD_ID=")) ?? "=w").split("=")[1] as string;
  const token = /token=([^&]+)/.exec(environ.find((v) => v.startsWith("RUNPOD_WEBHOOK_GET_JOB=")) ?? "")?.[1] ?? "";

  const jobIds: string[] = ["00000000-0000-0000-0000-000000000000-u1"];
  const text = fc.string({ unit: "binary", maxLength: 40 });
  const segment = fc.oneof(fc.constantFrom("local", "other", "..", ".", "%2e%2e", "%00", "%ff", "local%2Fx"), text.map(encodeURIComponent));
  const jobId = fc.oneof(fc.constant(null), segment).map((s) => s ?? jobIds[Math.floor(Math.random() * jobIds.length)]);
  const worker = fc.oneof(fc.constant(workerId), segment);
  const auth = fc.oneof(fc.constant(`token=${token}`), fc.constant(""), text.map((t) => `token=${encodeURIComponent(t)}`));
  const queryValue = fc.oneof(fc.constantFrom("", "0", "1", "-1", "100", "1000", "1e3", "NaN", "999999999999", "0x10", "true", "unhealthy"), text.map(encodeURIComponent));
  const query = fc
    .dictionary(fc.constantFrom("wait", "ttl", "batch_size", "job_in_progress", "status", "check", "reason", "job_id", "runpod_version", "isStream", "gpu", "x"), queryValue, { maxKeys: 4 })
    .map((q) => Object.entries(q).map(([k, v]) => `${k}=${k === "wait" ? String(Math.min(Number(v) || 0, 2000)) : v}`));
  const clientPath = fc.tuple(fc.constant("local"), fc.constantFrom("run", "run", "runsync", "runsync", "status", "status-sync", "stream", "cancel", "retry", "purge-queue", "health", "openai/v1/chat/completions", "openai/v1/completions", "openai/v1/models", "nothing"), jobId, fc.boolean())
    .map(([endpoint, op, id, withId]) => `/v2/${endpoint}/${op}${withId ? `/${id}` : ""}`);
  const otherEndpoint = fc.tuple(segment, fc.constantFrom("run", "status", "health", "job-take")).map(([endpoint, op]) => `/v2/${endpoint}/${op}`);
  const workerPath = fc.tuple(fc.constantFrom("job-take", "job-take-batch", "job-done", "job-stream", "job-stop", "ping"), worker, jobId, auth)
    .map(([op, w, id, a]) => ({ path: `/v2/local/${op}/${w}${op === "job-done" || op === "job-stream" ? `/${id}` : ""}`, auth: a }));
  const path = fc.oneof(
    { weight: 4, arbitrary: clientPath },
    fc.tuple(clientPath, query).map(([p, q]) => (q.length ? `${p}?${q.join("&")}` : p)),
    fc.tuple(workerPath, query).map(([{ path: p, auth: a }, q]) => `${p}?${[a, ...q].filter(Boolean).join("&")}`),
    otherEndpoint,
    fc.constantFrom("/", "/v2", "/v2/", "/health", "/v2/local", "//v2/local/run", "/v2/local/run/../health", "/%zz"),
  );
  const json = fc.jsonValue({ maxDepth: 4 });
  const body = fc.oneof(
    fc.constant(undefined),
    { weight: 6, arbitrary: fc.record({ input: json }).map((b) => Buffer.from(JSON.stringify(b))) },
    fc.record({ input: json, policy: fc.option(fc.dictionary(fc.constantFrom("ttl", "executionTimeout", "lowPriority", "other"), json), { nil: undefined }), webhook: fc.option(fc.constantFrom("http://169.254.169.254/", "http://127.0.0.1:9/", "not a url", "ftp://x"), { nil: undefined }) }, { requiredKeys: [] }).map((b) => Buffer.from(JSON.stringify(b))),
    fc.record({ status: fc.constantFrom("IN_PROGRESS", "COMPLETED", "FAILED", 1), output: json, error: json, stopPod: fc.boolean() }, { requiredKeys: [] }).map((b) => Buffer.from(JSON.stringify(b))),
    fc.record({ messages: json, model: json, prompt: json, stream: fc.boolean() }, { requiredKeys: [] }).map((b) => Buffer.from(JSON.stringify(b))),
    json.map((v) => Buffer.from(JSON.stringify(v) ?? "null")),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.constantFrom(Buffer.from([0xff, 0xfe, 0x7b]), Buffer.from(`{"input": ${"[".repeat(5000)}${"]".repeat(5000)}}`), Buffer.from('{"input": 1e999999}'), Buffer.from('{"input": "\\ud800"}')),
  );
  const plain = fc.constant({ "content-type": "application/json" });
  const headers = fc.oneof({ weight: 4, arbitrary: plain }, fc.record(
    {
      "content-type": fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "garbage/\u00e9"),
      authorization: fc.oneof(fc.constant(`Bearer ${token}`), fc.constant(token), text.map((t) => encodeURIComponent(t))),
      origin: fc.constantFrom("http://localhost:3000", "https://evil.example", "null"),
      expect: fc.constant("100-continue"),
      connection: fc.constantFrom("Upgrade", "close", "keep-alive"),
      upgrade: fc.constantFrom("websocket", "h2c"),
    },
    { requiredKeys: [] },
  ));
  const sample = fc.record({ method: fc.constantFrom("GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"), path, headers, body }) as fc.Arbitrary<Sample>;

  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let created = 0;
  let tried = 0;
  const failures: string[] = [];
  const send = (s: Sample) =>
    new Promise<void>((resolve) => {
      tried++;
      const headers: Record<string, string | number> = { ...s.headers };
      if (s.body) headers["content-length"] = s.body.length;
      let req: http.ClientRequest;
      try {
        req = http.request({ host: "127.0.0.1", port, method: s.method, path: s.path, headers, agent, timeout: 15_000 }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", () => resolve());
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            const status = res.statusCode ?? 0;
            if (status >= 500 && !documented(s.path, status, text)) failures.push(`${s.method} ${s.path} → ${status} ${text.slice(0, 200)}`);
            if (made(s.path, status, text)) created++;
            const id = /"id":"([^"]+)"/.exec(text)?.[1];
            if (id && jobIds.length < 200) jobIds.push(id);
            resolve();
          });
        });
      } catch {
        // A request Node's own client refuses to send (an invalid header): not one to try.
        tried--;
        return resolve();
      }
      req.on("timeout", () => {
        failures.push(`${s.method} ${s.path}: no answer within 15 s`);
        req.destroy();
      });
      // A refused upgrade or an early answer may close the connection: the client's side of it.
      req.on("error", () => resolve());
      req.end(s.body);
    });

  await fc.assert(
    fc.asyncProperty(fc.array(sample, { minLength: 8, maxLength: 8 }), async (batch) => {
      await Promise.all(batch.map(send));
      return emu.alive();
    }),
    { numRuns: RUNS / 8, seed: Number(process.env.FUZZ_SEED) || undefined },
  );
  agent.destroy();
  record({ requests: tried });
  expect(failures.slice(0, 20)).toEqual([]);
  expect(emu.alive()).toBe(true);
  await emu.stop();
  // A job for every answer that said one was made, and none for a refused request.
  expect(jobsOnDisk(database).size).toBe(created);
});
