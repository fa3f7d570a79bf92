import { HTTPException } from "hono/http-exception";
import type { Submission } from "../core/endpoint.js";
import type { JobPolicy } from "../types.js";
import { parseJson } from "./json-body.js";
import { webhookHostProblem } from "./webhook-hosts.js";

const DAY = 86_400_000;
const POLICY_KEYS = new Set(["executionTimeout", "ttl", "lowPriority"]);

/**
 * Validates the body of /run and /runsync (SPEC §1.2); every problem is a 400 that names it. Webhooks to
 * link-local and metadata addresses are refused unless their host is in `allowedWebhookHosts`.
 */
export function parseRunRequest(raw: Buffer, route: string, allowedWebhookHosts: ReadonlySet<string>): { submission: Submission; warnings: string[] } {
  if (raw.length === 0) throw badRequest(`the body of ${route} is empty; send a JSON object such as {"input": {...}}`);
  const body = parseJson(raw, `the body of ${route}`);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest(`the body of ${route} must be a JSON object with an "input" key, got ${describe(body)}`);
  }
  const fields = body as Record<string, unknown>;
  if (!("input" in fields)) throw badRequest(`the body of ${route} has no "input" key; wrap the payload as {"input": ...}`);
  const warnings: string[] = [];
  const submission: Submission = { input: fields.input, policy: parsePolicy(fields.policy, warnings) };
  if (fields.webhook !== undefined && fields.webhook !== null) submission.webhook = parseWebhook(fields.webhook, allowedWebhookHosts);
  if (fields.s3Config !== undefined && fields.s3Config !== null) {
    if (typeof fields.s3Config !== "object" || Array.isArray(fields.s3Config)) {
      throw badRequest(`"s3Config" must be an object, got ${describe(fields.s3Config)}`);
    }
    submission.s3Config = fields.s3Config as Record<string, unknown>;
  }
  return { submission, warnings };
}

function parsePolicy(value: unknown, warnings: string[]): JobPolicy {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw badRequest(`"policy" must be an object, got ${describe(value)}`);
  const fields = value as Record<string, unknown>;
  const policy: JobPolicy = {};
  for (const key of Object.keys(fields)) {
    if (!POLICY_KEYS.has(key)) warnings.push(`policy.${key} is not a RunPod policy field (known: ${[...POLICY_KEYS].join(", ")}); ignored`);
  }
  if (fields.executionTimeout !== undefined) policy.executionTimeout = duration(fields.executionTimeout, "executionTimeout", 5000, 7 * DAY);
  if (fields.ttl !== undefined) policy.ttl = duration(fields.ttl, "ttl", 10_000, 7 * DAY);
  if (fields.lowPriority !== undefined) {
    if (typeof fields.lowPriority !== "boolean") throw badRequest(`policy.lowPriority must be true or false, got ${describe(fields.lowPriority)}`);
    policy.lowPriority = fields.lowPriority;
  }
  return policy;
}

function duration(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw badRequest(`policy.${name} must be a whole number of milliseconds, got ${describe(value)}`);
  }
  if (value < min || value > max) throw badRequest(`policy.${name} must be between ${min} and ${max} ms, got ${value}`);
  return value;
}

function parseWebhook(value: unknown, allowedHosts: ReadonlySet<string>): string {
  const url = typeof value === "string" && URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) throw badRequest(`"webhook" must be an http(s) URL, got ${describe(value)}`);
  const problem = webhookHostProblem(url, allowedHosts);
  if (problem) throw badRequest(problem);
  return value as string;
}

function badRequest(message: string): HTTPException {
  return new HTTPException(400, { message });
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}
