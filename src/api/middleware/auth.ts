import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "../api-env.js";

/** Constant-time comparison of two secrets. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The client API key (SPEC §1.1): `Authorization: Bearer KEY` or the raw `KEY`; with `fromQuery`, also
 * `?key=KEY` (browsers cannot set headers on a WebSocket). Without a configured key, anything passes.
 */
export function clientAuth(apiKey: string | undefined, options: { fromQuery?: boolean } = {}): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (apiKey !== undefined) {
      const header = c.req.header("authorization") ?? (options.fromQuery ? c.req.query("key") : undefined);
      if (!header) throw new HTTPException(401, { message: "missing API key: send the header Authorization: Bearer <key>" });
      if (!sameSecret(header.replace(/^Bearer\s+/i, "").trim(), apiKey)) throw new HTTPException(401, { message: "invalid API key" });
    }
    await next();
  };
}

/**
 * A worker route's credential (SPEC §2.2): the `token` query parameter must be the secret of the worker
 * named in the path; never the Authorization header, which the SDK may fill from the user's own config.
 * The token is never logged. Needs the endpoint found first.
 */
export const workerAuth: MiddlewareHandler<ApiEnv> = async (c, next) => {
  const workerId = c.req.param("workerId") ?? "";
  const worker = c.get("endpoint").worker(workerId);
  if (!worker || !sameSecret(c.req.query("token") ?? "", worker.secret)) {
    throw new HTTPException(401, { message: `unknown worker "${workerId}" or wrong token` });
  }
  c.set("worker", worker);
  await next();
};
