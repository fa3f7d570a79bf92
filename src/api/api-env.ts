import type { HttpBindings } from "@hono/node-server";
import type { Endpoint } from "../core/endpoint.js";
import type { WorkerSlot } from "../core/worker-slot.js";

/**
 * What the API's handlers see: the Node request and response (absent when the app answers
 * `app.request()` without a socket), and what the middleware found for the route.
 */
export interface ApiEnv {
  Bindings: Partial<HttpBindings>;
  Variables: {
    endpoint: Endpoint;
    /** The worker of a worker route, once its token was checked. */
    worker: WorkerSlot;
  };
}
