import { timingSafeEqual } from "node:crypto";

/** Constant-time comparison of two secrets. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Checks a client's Authorization header against the configured API key (SPEC §1.1): both
 * `Bearer KEY` and the raw `KEY` are accepted. Returns the problem, or undefined when allowed.
 */
export function clientAuthProblem(header: string | undefined, apiKey: string | undefined): string | undefined {
  if (apiKey === undefined) return undefined;
  if (!header) return "missing API key: send the header Authorization: Bearer <key>";
  const key = header.replace(/^Bearer\s+/i, "").trim();
  return sameSecret(key, apiKey) ? undefined : "invalid API key";
}
