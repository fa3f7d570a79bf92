import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { Endpoint } from "../../core/endpoint.js";
import type { ApiEnv } from "../api-env.js";

/** Why a request names an endpoint that is not among `ids`. */
export function unknownEndpoint(id: string, ids: Iterable<string>): string {
  return `no endpoint "${id}"; this emulator serves ${[...ids].map((known) => `"${known}"`).join(", ")}`;
}

/** Finds the endpoint named by the route's `:endpointId` (404 when there is none) for the handlers after it. */
export function endpointLookup(endpoints: ReadonlyMap<string, Endpoint>): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const id = c.req.param("endpointId") ?? "";
    const endpoint = endpoints.get(id);
    if (!endpoint) throw new HTTPException(404, { message: unknownEndpoint(id, endpoints.keys()) });
    c.set("endpoint", endpoint);
    await next();
  };
}
