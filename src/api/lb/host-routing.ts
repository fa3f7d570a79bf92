import { hostname } from "../middleware/host-check.js";

/**
 * The endpoint a `Host: ENDPOINT_ID.localhost[:port]` names (SPEC §9: locally, as
 * `ENDPOINT_ID.api.runpod.ai` hosted), or undefined. Host names are case-insensitive, so the id is
 * found whatever its case.
 */
export function endpointFromHost<T>(host: string | undefined, endpoints: ReadonlyMap<string, T>): { id: string; endpoint: T } | undefined {
  // Asked of every request: a queue endpoint's (most of them) is not parsed at all.
  if (host === undefined || endpoints.size === 0 || !host.toLowerCase().includes(".localhost")) return undefined;
  const name = hostname(host);
  if (!name.endsWith(".localhost")) return undefined;
  const label = name.slice(0, -".localhost".length);
  for (const [id, endpoint] of endpoints) if (id.toLowerCase() === label) return { id, endpoint };
  return undefined;
}
