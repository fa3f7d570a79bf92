import { request } from "node:http";

/** An answer read whole: status, headers and body text. */
export interface HostAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * One request to 127.0.0.1:`port` with the given Host header, as a browser or curl sends it for
 * `http://ID.localhost:PORT/` (fetch does not let a caller set Host).
 */
export function hostRequest(port: number, host: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<HostAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { ...headers, Host: host }, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
