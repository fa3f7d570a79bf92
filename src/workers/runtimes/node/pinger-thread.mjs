// The ping thread of a Node worker process (see pinger.mjs): it keeps pinging while the main thread is busy.
import { parentPort, workerData } from "node:worker_threads";
import { loadBuiltins } from "./builtins.mjs";
import { httpClient } from "./http-client.mjs";
import { pingUrl } from "./pinger.mjs";

const { url, intervalMs, authorization } = workerData;
const client = httpClient();
let ids = workerData.ids ?? [];
parentPort.on("message", (next) => (ids = next));

// A failed ping is only a missed one; the next may reach the emulator.
const ping = () => void client.request(pingUrl(url, ids), { headers: { Authorization: authorization } }).catch(() => {});
void loadBuiltins().then(() => {
  setInterval(ping, intervalMs);
  ping();
});
