import { describe, expect, it } from "vitest";
import { JOB_LOG_HEAD_BYTES, JOB_LOG_TAIL_BYTES, LATE_LINE_GRACE_MS } from "../../src/core/log-budget.js";
import { call, fixture, nextEvent, startEmulator } from "../helpers/emulator.js";

const handler = fixture("node/flood/handler.mjs");

describe("a handler flooding its output", () => {
  it("keeps /health answering, and keeps the job's first and last 2 MiB of lines with a note of exactly what was dropped", async () => {
    const emu = await startEmulator({ handler, executionTimeout: 120_000 });
    const lines = 500_000; // 50 MB of 100-byte lines
    const { body: run } = await call(emu, "POST", "/run", { input: { lines, width: 100 } });
    const held = await nextEvent(emu, (e) => e.type === "warning" && e.jobId === run.id && e.message.includes("printed over"));
    expect(held).toMatchObject({ message: `job ${run.id} printed over 2 MiB: its further output is held, and its last 2 MiB shown and kept once it ends` });

    // Answered while the worker's output is read (it goes on after the result): the output does not starve the API.
    const tailKept = nextEvent(emu, (e) => e.type === "log" && e.jobId === run.id && e.message.includes("dropped here"), 30_000);
    let flooding = true;
    void tailKept.finally(() => (flooding = false));
    const healthWhileFlooding: number[] = [];
    while (flooding && healthWhileFlooding.length < 200) {
      const started = Date.now();
      expect((await call(emu, "GET", "/health")).status).toBe(200);
      healthWhileFlooding.push(Date.now() - started);
    }
    await tailKept;
    expect((await call(emu, "GET", `/status/${run.id}`)).body).toMatchObject({ status: "COMPLETED", output: { printed: lines } });
    expect(healthWhileFlooding.length).toBeGreaterThan(1);
    // A loose bound that only a starved event loop misses (a flood once held /health for seconds).
    expect(Math.max(...healthWhileFlooding)).toBeLessThan(2000);

    const logs = emu.history(run.id)?.logs.map((line) => line.message) ?? [];
    const noteAt = logs.findIndex((message) => message.includes("dropped here"));
    const numbers = (messages: string[]) => messages.map((message) => Number(message.slice(0, 11)));
    const head = numbers(logs.slice(0, noteAt));
    const tail = numbers(logs.slice(noteAt + 1));
    // No line lost under the caps: the head runs from the first line, the tail to the last, without gaps.
    const gaps = (found: number[], first: number) => found.filter((n, i) => n !== first + i).length;
    expect({ headGaps: gaps(head, 0), tailGaps: gaps(tail, lines - tail.length), last: tail.at(-1) }).toEqual({ headGaps: 0, tailGaps: 0, last: lines - 1 });
    // 99 bytes a line without its newline: as many as each cap holds.
    expect(head.length).toBe(Math.floor(JOB_LOG_HEAD_BYTES / 99));
    expect(tail.length).toBe(Math.floor(JOB_LOG_TAIL_BYTES / 99));
    const dropped = lines - head.length - tail.length;
    expect(logs[noteAt]).toBe(`… ${dropped} lines (${dropped * 99} bytes) dropped here: this job's output keeps its first 2 MiB and last 2 MiB …`);
  });

  it("reads a worker's output to its end before stopping it when idle", async () => {
    const emu = await startEmulator({ handler, idleTimeout: "100ms" });
    const lines = 300_000;
    const stopped = nextEvent(emu, (e) => e.type === "worker" && e.state === "exited", 30_000);
    const { body } = await call(emu, "POST", "/runsync", { input: { lines, width: 100 } });
    expect(body.status).toBe("COMPLETED");
    await stopped;
    await nextEvent(emu, (e) => e.type === "log" && e.jobId === body.id && e.message.includes("dropped here"), 10_000).catch(() => undefined);
    const logs = emu.history(body.id)?.logs ?? [];
    expect(logs.at(-1)?.message.slice(0, 11)).toBe(String(lines - 1).padStart(11, "0"));
  });

  it("keeps every line of a flood with its job however late the emulator reads them: the result waits for the output", async () => {
    const emu = await startEmulator({ handler });
    const lines = 300_000;
    const { body } = await call(emu, "POST", "/runsync", { input: { lines, width: 100 } });
    expect(body.status).toBe("COMPLETED");
    // The emulator (in this process) reads nothing for longer than a late line's grace, as on a busy machine.
    const until = Date.now() + LATE_LINE_GRACE_MS + 500;
    while (Date.now() < until);
    await nextEvent(emu, (e) => e.type === "log" && e.jobId === body.id && e.message.includes("dropped here"), 10_000);
    const logs = emu.history(body.id)?.logs ?? [];
    expect(logs.at(-1)?.message.slice(0, 11)).toBe(String(lines - 1).padStart(11, "0"));
  });

  it("keeps a 20 MB line as its first and last 32 KiB", async () => {
    const emu = await startEmulator({ handler });
    const logged = nextEvent(emu, (e) => e.type === "log" && e.message.startsWith("giant"));
    const { body } = await call(emu, "POST", "/runsync", { input: { giant: 20_000_000 } });
    expect(body.status).toBe("COMPLETED");
    expect(await logged).toMatchObject({ jobId: body.id });
    const [line] = emu.history(body.id)?.logs.map((l) => l.message) ?? [];
    expect(line?.length).toBeLessThan(70_000);
    expect(line).toMatch(/^giant g+ … \[19934474 bytes of this line dropped: a line keeps its first and last 32 KiB\] … g+ end$/);
  });
});
