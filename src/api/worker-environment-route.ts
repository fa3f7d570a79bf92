import type { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "./api-env.js";
import { sameSecret } from "./middleware/auth.js";

/** A running worker's environment and working folder, as `emulator shell` opens a shell with them. */
export interface LiveWorkerEnvironment {
  workerId: string;
  cwd: string;
  env: Record<string, string>;
}

export interface WorkerEnvironmentAccess {
  /**
   * The key this route asks for: written only to the server file beside the database, which only the
   * emulator's user can read. A worker's environment holds the user's own (tokens, keys), which the API
   * key does not guard when none is set and which no web page may read.
   */
  controlKey: string;
  /** The worker named (or the endpoint's first running one); undefined when there is none, or no such endpoint. */
  environmentOf: (endpointId: string, workerId: string | undefined) => LiveWorkerEnvironment | undefined;
}

/** `GET /v2/{endpoint}/worker-environment[?worker=ID]` with `Authorization: Bearer CONTROL_KEY`. */
export function workerEnvironmentRoute(app: Hono<ApiEnv>, access: WorkerEnvironmentAccess): void {
  app.get("/v2/:endpointId/worker-environment", (c) => {
    const given = (c.req.header("authorization") ?? "").replace(/^Bearer\s+/i, "").trim();
    if (!sameSecret(given, access.controlKey)) throw new HTTPException(401, { message: "this route answers emulator shell only, with the key of the emulator's server file" });
    const workerId = c.req.query("worker");
    const found = access.environmentOf(c.req.param("endpointId"), workerId);
    if (!found) throw new HTTPException(404, { message: workerId ? `no running worker "${workerId}"` : "no worker is running" });
    return c.json(found);
  });
}
