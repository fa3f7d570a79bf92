import { isIP } from "node:net";
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "../api-env.js";

export interface HostPolicy {
  /** The address the server is bound to; a name (not an address) is one of the emulator's own. */
  boundHost: string;
  /** More names: `example.com` exactly, `.example.com` for it and every name under it, `*` for any. */
  allowedHosts: readonly string[];
  /** Let every Host through (bound beyond loopback with an API key). */
  anyHost: boolean;
}

/**
 * Refuses requests whose Host header is not one of the emulator's own names, as dev servers do against
 * DNS rebinding: a page on a name that resolves to this machine would otherwise reach the API with the
 * browser's help. Addresses cannot be rebound, so any IP address is accepted, as are `localhost`, every
 * `*.localhost` name, the bound name and the configured ones. A request without Host (HTTP/1.0) passes.
 */
export function hostCheck(policy: HostPolicy): MiddlewareHandler<ApiEnv> {
  const allows = hostAllowed(policy);
  // Clients send the same few Host values again and again.
  const allowed = new Set<string>();
  return async (c, next) => {
    const host = c.env?.incoming?.headers.host ?? c.req.header("host");
    if (host !== undefined && !allowed.has(host)) {
      const name = hostname(host);
      if (!allows(name)) {
        throw new HTTPException(403, { message: `host "${name}" is not a name of this emulator; add it to the allowedHosts option (--allowed-hosts ${name}) to allow it` });
      }
      if (allowed.size < 100) allowed.add(host);
    }
    await next();
  };
}

/** Whether a host name (lower case, without port or brackets) is allowed by the policy. */
export function hostAllowed(policy: HostPolicy): (name: string) => boolean {
  const listed = policy.allowedHosts.map((host) => host.toLowerCase());
  if (policy.anyHost || listed.includes("*")) return () => true;
  const names = new Set(listed.filter((host) => !host.startsWith(".")));
  const suffixes = listed.filter((host) => host.startsWith("."));
  names.add(hostname(policy.boundHost));
  return (name) =>
    isIP(name) !== 0 ||
    name === "localhost" ||
    name.endsWith(".localhost") ||
    names.has(name) ||
    suffixes.some((suffix) => name.endsWith(suffix) || name === suffix.slice(1));
}

/** Whether a bound address or name is this machine's loopback. */
export function isLoopback(host: string): boolean {
  const name = hostname(host);
  return name === "localhost" || name === "::1" || (isIP(name) === 4 && name.startsWith("127."));
}

/** The name part of a Host header or a bound address: no port, no IPv6 brackets, no trailing dot, lower case. */
export function hostname(host: string): string {
  let name = host;
  if (name.startsWith("[")) name = name.slice(1, name.includes("]") ? name.indexOf("]") : undefined);
  else if (isIP(name) !== 6) name = name.replace(/:\d*$/, "");
  return name.replace(/\.$/, "").toLowerCase();
}
