// The emulator's own runtimes take their jobs and post their results over the worker channel where the
// environment offers it: here every HTTP route that could do the same leads nowhere (a closed loopback
// port), so a job that completes went through the channel.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { protocolEnvironment } from "../../src/core/protocol-environment.js";
import { call, startEmulator } from "../helpers/emulator.js";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const PYTHON = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();
const PYTHONPATH = [here("../../src/workers/runtimes/python/site"), here("../../src/workers/runtimes/python/bundled")].join(delimiter);
/** Where nothing listens. */
const NOWHERE = "http://127.0.0.1:1/v2";

const runtimes = {
  node: (kind: string) => {
    const folder = here(`../../fixtures/node/${kind}`);
    return [process.execPath, here("../../src/workers/runtimes/node/bootstrap.mjs"), join(folder, readdirSync(folder).find((name) => name.startsWith("handler.")) as string)];
  },
  python: (kind: string) => [PYTHON, "-u", here(`../../fixtures/python/${kind}/handler.py`)],
};

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.pid && child.exitCode === null) process.kill(-child.pid, "SIGKILL");
});

/** A worker whose HTTP routes lead nowhere; `channelToken` the token it opens the channel with. Its output is gathered in `output`. */
async function workerOnChannelOnly(runtime: keyof typeof runtimes, kind: string, channelToken = "s3cret") {
  const emu = await startEmulator({ mock: true, coldStart: 600_000, pollHold: 2_000 });
  emu.endpoint.addWorker("wraw", "s3cret", emu.pool.handlerVersion);
  const apiBase = emu.url.slice(0, emu.url.lastIndexOf("/"));
  const real = protocolEnvironment({ endpointId: emu.endpointId, secret: "s3cret", apiBase, pingIntervalMs: 1_000 });
  const dead = protocolEnvironment({ endpointId: emu.endpointId, secret: "s3cret", apiBase: NOWHERE, pingIntervalMs: 1_000 });
  const [command, ...args] = runtimes[runtime](kind) as [string, ...string[]];
  const channel = real.RUNPOD_EMULATOR_CHANNEL.replace("token=s3cret", `token=${channelToken}`);
  const child = spawn(command, args, {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH, PYTHONPATH, ...dead, RUNPOD_PING_INTERVAL: real.RUNPOD_PING_INTERVAL, RUNPOD_WEBHOOK_PING: real.RUNPOD_WEBHOOK_PING, RUNPOD_EMULATOR_CHANNEL: channel, RUNPOD_POD_ID: "wraw" },
  });
  children.push(child);
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) stream?.on("data", (data: Buffer) => output.push(data.toString()));
  return Object.assign(emu, { output });
}

describe.each(["node", "python"] as const)("a %s worker on the worker channel", (runtime) => {
  it("takes jobs and posts their results", async () => {
    const emu = await workerOnChannelOnly(runtime, "echo");
    const runs = await Promise.all([1, 2, 3].map((n) => call(emu, "POST", "/run", { input: { n, text: "é" } })));
    for (const [i, { body }] of runs.entries()) {
      const { body: status } = await call(emu, "POST", `/status-sync/${body.id}?wait=30000`);
      expect(status).toMatchObject({ status: "COMPLETED", output: { n: i + 1, text: "é" }, workerId: "wraw" });
    }
  });

  it("posts progress updates and stream chunks", async () => {
    const emu = await workerOnChannelOnly(runtime, "progress");
    const { body: run } = await call(emu, "POST", "/run", { input: { step_ms: 500 } });
    await waitFor(async () => (await call(emu, "GET", `/status/${run.id}`)).body.output !== undefined);
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "IN_PROGRESS", output: expect.anything() });
    expect((await call(emu, "POST", `/status-sync/${run.id}?wait=30000`)).body).toMatchObject({ status: "COMPLETED", output: { done: true } });

    const streaming = await workerOnChannelOnly(runtime, "generator");
    const { body: job } = await call(streaming, "POST", "/run", { input: { count: 3, delay_ms: 10 } });
    await call(streaming, "POST", `/status-sync/${job.id}?wait=30000`);
    expect((await call(streaming, "GET", `/stream/${job.id}`)).body.stream).toEqual([0, 1, 2].map((token) => ({ output: { token } })));
  });

  it("says why when the emulator refuses the channel", async () => {
    const emu = await workerOnChannelOnly(runtime, "echo", "wrong");
    await waitFor(async () => emu.output.join("").includes('answered 401: unknown worker "wraw" or wrong token'));
  });
});

async function waitFor(ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
