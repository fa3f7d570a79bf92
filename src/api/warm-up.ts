import type { Hono } from "hono";
import type { ApiEnv } from "./api-env.js";

/**
 * Sends two requests through the app without a socket, at start-up: a GET and a refused POST. What runs
 * for the first time is compiled then (the router's matchers, the Host check, body reading), instead of
 * delaying the first client's job and the first worker's take by about 15 ms.
 */
export async function warmUp(app: Hono<ApiEnv>, endpointId: string): Promise<void> {
  const headers = { host: "localhost", "content-type": "application/json" };
  await app.request(`/v2/${endpointId}/health`, { headers });
  await app.request(`/v2/${endpointId}/run`, { method: "POST", headers, body: "{}" });
}
