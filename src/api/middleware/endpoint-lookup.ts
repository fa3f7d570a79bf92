import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Endpoint } from "../../core/endpoint.js";
import type { ApiEnv } from "../api-env.js";

/** Finds the endpoint named by the route's `:endpointId` (404 when there is none) for the handlers after it. */
export function endpointLookup(endpoints: ReadonlyMap<string, Endpoint>): MiddlewareHandler<ApiEnv> {
  const known = () => [...endpoints.keys()].map((id) => `"${id}"`).join(", ");
  return async (c, next) => {
    const id = c.req.param("endpointId") ?? "";
    const endpoint = endpoints.get(id);
    if (!endpoint) throw new HTTPException(404, { message: `no endpoint "${id}"; this emulator serves ${known()}` });
    c.set("endpoint", endpoint);
    await next();
  };
}
