import { request } from "node:http";

/** What one look at a worker's health path found: its status, or why there was none. */
export interface HealthAnswer {
  status: number | undefined;
  detail: string;
}

/** A server that takes longer than this to answer its health path counts as not answering. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * One `GET path` to a worker's health port on loopback (SPEC §9): the status it answered, or undefined
 * with the reason when it did not answer (not listening yet, reset, too slow). Never rejects.
 */
export function probeHealth(port: number, path: string): Promise<HealthAnswer> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, method: "GET", agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on("error", () => {});
      resolve({ status: res.statusCode, detail: "" });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    req.on("error", (error: NodeJS.ErrnoException) => resolve({ status: undefined, detail: error.code === "ECONNREFUSED" ? "not listening" : error.message }));
    req.end();
  });
}
