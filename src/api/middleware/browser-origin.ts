import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "../api-env.js";

/** The setting: one origin, a list of them, or "*" for any; undefined means web pages served from this machine. */
export type CorsSetting = string | readonly string[] | undefined;

/**
 * Which web pages may call the API. Only requests with an Origin header are browsers' (workers and SDK
 * clients send none): an origin the setting does not allow is refused with 403 before any route runs —
 * preflight or not, so a "simple" `text/plain` POST from a foreign page creates no job either — and an
 * allowed one gets the CORS headers, preflights answered by hono/cors. A page served by the emulator
 * itself (its Origin names the request's own Host) is always allowed.
 */
export function browserOrigin(setting: CorsSetting): MiddlewareHandler<ApiEnv> {
  const allows = originAllowed(setting);
  // The origin is checked before this runs, so the allowed one is echoed back.
  const addCorsHeaders = cors({ origin: (origin) => origin, allowMethods: ["GET", "POST"], maxAge: 600 });
  return async (c, next) => {
    const origin = c.req.header("origin");
    if (origin === undefined) return next();
    if (!allows(origin) && origin.toLowerCase() !== `http://${c.req.header("host")?.toLowerCase()}`) {
      throw new HTTPException(403, { message: `web pages from ${origin} may not call this emulator; allow them with the cors option (--cors ${origin})` });
    }
    return addCorsHeaders(c, next);
  };
}

/** Whether the setting allows an Origin header's value. */
export function originAllowed(setting: CorsSetting): (origin: string) => boolean {
  if (setting === undefined) return isLocalOrigin;
  const listed = typeof setting === "string" ? [setting] : setting;
  if (listed.includes("*")) return () => true;
  const origins = new Set(listed.map((origin) => (URL.canParse(origin) ? new URL(origin).origin : origin)));
  return (origin) => origins.has(origin);
}

/** http(s) pages on localhost, *.localhost, 127.0.0.1 or [::1], on any port. */
function isLocalOrigin(origin: string): boolean {
  if (!URL.canParse(origin)) return false;
  const url = new URL(origin);
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  const host = url.hostname;
  return host === "localhost" || host.endsWith(".localhost") || host === "127.0.0.1" || host === "[::1]";
}
