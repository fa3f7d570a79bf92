import { writeFileSync } from "node:fs";
import { join } from "node:path";
import getPort from "get-port";
import { describe, expect, it, onTestFinished } from "vitest";
import type { EmulatorEvent } from "../../src/index.js";
import { call, nextEvent, startEmulator } from "../helpers/emulator.js";
import { InspectorClient, attachWithBreakpoint } from "../helpers/inspector.js";
import { scratchDir } from "../helpers/scratch.js";

const HANDLER = `export default async function handler(job) {
  const doubled = job.input.n * 2;
  return { doubled };
}
`;

function handlerFile(text = HANDLER): string {
  const path = join(scratchDir(), "handler.mjs");
  writeFileSync(path, text);
  return path;
}

const listening = (port: number) => (event: EmulatorEvent) => event.type === "log" && event.message.startsWith(`Debugger listening on ws://127.0.0.1:${port}/`);

describe("Node handlers under the inspector", () => {
  it("--inspect-wait: a debugger attaches, stops at the handler's first line with the job's input in scope, and the job completes", async () => {
    const handler = handlerFile();
    const port = await getPort({ host: "127.0.0.1" });
    const emu = await startEmulator({ handler, inspect: port, inspectWait: true, minWorkers: 1 });
    await nextEvent(emu, listening(port));
    const { client, paused: breakpoint } = await attachWithBreakpoint(port, handler, 1);
    onTestFinished(() => client.close());

    const { body } = await call(emu, "POST", "/run", { input: { n: 21 } });
    const paused = await breakpoint();
    expect(paused.callFrames[0].location.lineNumber).toBe(1);
    const input = await client.send("Debugger.evaluateOnCallFrame", { callFrameId: paused.callFrames[0].callFrameId, expression: "JSON.stringify(job.input)" });
    expect(input.result.value).toBe('{"n":21}');
    expect((await call(emu, "GET", `/status/${body.id}`)).body.status).toBe("IN_PROGRESS");
    await client.send("Debugger.resume");
    const { body: done } = await call(emu, "POST", `/status-sync/${body.id}?wait=30000`);
    expect(done).toMatchObject({ status: "COMPLETED", output: { doubled: 42 } });
  });

  it("--inspect-wait holds the first job for the debugger: the endpoint runs one worker", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const emu = await startEmulator({ handler: handlerFile(), inspect: port, inspectWait: true, maxWorkers: 3, minWorkers: 2, queueDelay: 0 });
    await nextEvent(emu, listening(port));
    await call(emu, "POST", "/run", { input: { n: 1 } });
    await call(emu, "POST", "/run", { input: { n: 2 } });
    emu.pool.reconsider();
    expect(emu.pool.pids()).toHaveLength(1);
    expect(emu.endpoint.health().jobs.inQueue).toBe(2);
  });

  it("--inspect: one worker holds the port, the others run without it, and the port passes to the replacement on a reload", async () => {
    const handler = handlerFile();
    const port = await getPort({ host: "127.0.0.1" });
    const lines: EmulatorEvent[] = [];
    const emu = await startEmulator({ handler, inspect: port, minWorkers: 2, maxWorkers: 2, watch: true, onEvent: (e) => e.type === "log" && lines.push(e) });
    const first = await nextEvent(emu, listening(port));
    while (emu.endpoint.health().workers.idle < 2) await nextEvent(emu, (e) => e.type === "worker");
    expect(lines.filter(listening(port))).toHaveLength(1);
    expect(lines.some((e) => e.type === "log" && /Starting inspector .* failed/.test(e.message))).toBe(false);
    // A debugger attaches to the holder, and evaluates in it.
    const client = await InspectorClient.attach(port);
    expect((await client.send("Runtime.evaluate", { expression: "process.env.RUNPOD_POD_ID", returnByValue: true })).result.value).toBe((first as { workerId: string }).workerId);
    client.close();

    writeFileSync(handler, HANDLER.replace("* 2", "* 3"));
    const next = await nextEvent(emu, (e) => listening(port)(e) && (e as { workerId: string }).workerId !== (first as { workerId: string }).workerId, 30_000);
    const again = await InspectorClient.attach(port);
    onTestFinished(() => again.close());
    expect((await again.send("Runtime.evaluate", { expression: "process.env.RUNPOD_POD_ID", returnByValue: true })).result.value).toBe((next as { workerId: string }).workerId);
    const { body } = await call(emu, "POST", "/runsync", { input: { n: 2 } });
    expect(body.output).toEqual({ doubled: 6 });
  });

  it("refuses --inspect for a Python handler and --debugpy for a Node one, each with one line", async () => {
    const py = join(scratchDir(), "handler.py");
    writeFileSync(py, "import runpod\n");
    await expect(startEmulator({ handler: py, inspect: 9229 })).rejects.toThrow("--inspect is for Node handlers: for a .py handler, use --debugpy");
    await expect(startEmulator({ handler: handlerFile(), debugpy: true })).rejects.toThrow("--debugpy is for Python handlers: for a Node handler, use --inspect");
  });
});
