import { cpSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import getPort from "get-port";
import { describe, expect, it, onTestFinished } from "vitest";
import type { EmulatorEvent } from "../../src/index.js";
import { call, fixture, nextEvent, startEmulator } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

/** A folder holding a stand-in `debugpy` module (the real one cannot be installed here): put on PYTHONPATH. */
const FAKE_DEBUGPY = new URL("./fake-debugpy", import.meta.url).pathname;

function handler(): string {
  const path = join(scratchDir(), "handler.py");
  cpSync(fixture("python/echo/handler.py"), path);
  return path;
}

const listening = (port: number) => (event: EmulatorEvent) => event.type === "log" && event.message.startsWith(`fake debugpy listening on 127.0.0.1:${port} `);

describe("Python handlers under debugpy", () => {
  it("--debugpy-wait: the worker runs under python -m debugpy, which holds the first job until a client attaches", async () => {
    const file = handler();
    const port = await getPort({ host: "127.0.0.1" });
    const events: EmulatorEvent[] = [];
    const emu = await startEmulator({ handler: file, debugpy: port, debugpyWait: true, minWorkers: 1, env: { ...process.env, PYTHONPATH: FAKE_DEBUGPY }, onEvent: (e) => events.push(e) });
    const line = (await nextEvent(emu, listening(port))) as Extract<EmulatorEvent, { type: "log" }>;
    expect(JSON.parse(line.message.slice(line.message.indexOf("["))).slice(-4)).toEqual(["--listen", `127.0.0.1:${port}`, "--wait-for-client", file]);

    const { body } = await call(emu, "POST", "/run", { input: { hello: "debugger" } });
    expect(emu.pool.pids()).toHaveLength(1);
    expect((await call(emu, "GET", `/status/${body.id}`)).body.status).toBe("IN_QUEUE");
    const client = connect(port, "127.0.0.1");
    client.on("error", () => {});
    onTestFinished(() => void client.destroy());
    const { body: done } = await call(emu, "POST", `/status-sync/${body.id}?wait=30000`);
    expect(done).toMatchObject({ status: "COMPLETED", output: { hello: "debugger" } });
    // The job started only once the client had attached.
    const attached = events.findIndex((e) => e.type === "log" && e.message === "fake debugpy: client attached");
    const started = events.findIndex((e) => e.type === "status" && e.job.id === body.id && e.previous === "IN_QUEUE");
    expect(attached).toBeGreaterThan(-1);
    expect(started).toBeGreaterThan(attached);
  });

  it("--debugpy: one worker listens, without waiting; the others run as usual", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const lines: EmulatorEvent[] = [];
    const emu = await startEmulator({ handler: handler(), debugpy: port, minWorkers: 2, maxWorkers: 2, env: { ...process.env, PYTHONPATH: FAKE_DEBUGPY }, onEvent: (e) => e.type === "log" && lines.push(e) });
    while (emu.endpoint.health().workers.idle < 2) await nextEvent(emu, (e) => e.type === "worker");
    expect(lines.filter(listening(port))).toHaveLength(1);
    expect(lines.filter((e) => e.type === "log" && e.message.startsWith("fake debugpy"))).toHaveLength(1);
    const { body } = await call(emu, "POST", "/runsync", { input: { n: 1 } });
    expect(body).toMatchObject({ status: "COMPLETED", output: { n: 1 } });
  });

  it("says in one line that the handler's interpreter cannot import debugpy", async () => {
    await expect(startEmulator({ handler: handler(), debugpy: true, env: { ...process.env, PYTHONPATH: "" } })).rejects.toThrow(
      /^--debugpy: \S*python\S* cannot import debugpy; install it there \(\S+ -m pip install debugpy\), or leave --debugpy out$/,
    );
  });
});
