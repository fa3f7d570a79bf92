// The ping thread of a Node worker process (see pinger.mjs): it keeps pinging while the main thread is busy.
import http from "node:http";
import { parentPort, workerData } from "node:worker_threads";
import { pingUrl } from "./pinger.mjs";

const { url, intervalMs, authorization } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let ids = workerData.ids ?? [];
parentPort.on("message", (next) => (ids = next));

const ping = () => {
  const req = http.get(pingUrl(url, ids), { agent, headers: { Authorization: authorization } }, (res) => res.resume());
  // A failed ping is only a missed one; the next may reach the emulator.
  req.on("error", () => {});
};
setInterval(ping, intervalMs);
ping();
