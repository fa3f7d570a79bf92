import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Printer } from "../../src/cli/printer.js";
import type { EmulatorEvent } from "../../src/index.js";
import { openDatabase } from "../../src/store/database.js";
import { LogStore } from "../../src/store/logs.js";
import { readyUrl, startCli } from "../helpers/cli.js";
import { call, runToEnd, startEmulator } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

const HANDLER = `export default (job) => {
  console.log("working on", job.input.name);
  console.error("careful with", job.input.name);
  return job.input;
};
`;

function project(): { dir: string; db: string; handler: string } {
  const dir = scratchDir();
  const handler = join(dir, "handler.mjs");
  writeFileSync(handler, HANDLER);
  return { dir, handler, db: join(dir, ".runpod-emulator/emulator.db") };
}

describe("emulator logs", () => {
  it("prints the stored lines as the emulator's terminal printed them, filtered by job, worker, time and endpoint", async () => {
    const p = project();
    const printed: string[] = [];
    const terminal = new Printer((line) => printed.push(line), false);
    const emu = await startEmulator({ handler: p.handler, db: p.db, onEvent: (e: EmulatorEvent) => e.type === "log" && terminal.print(e) });
    const first = await runToEnd(emu, { name: "first" });
    const second = await runToEnd(emu, { name: "second" });
    await emu.close();
    // A line from two hours ago, for --since.
    const db = openDatabase(p.db);
    const logs = new LogStore(db);
    logs.append({ endpointId: "local", workerId: "w0-0000", stream: "stdout", message: "an old line", at: Date.now() - 2 * 3_600_000 });
    logs.flush();
    db.close();

    const all = startCli(["logs"], { cwd: p.dir });
    expect(await all.exit()).toBe(0);
    expect(all.stdout.filter(Boolean).slice(0, -1)).toEqual(printed);
    expect(all.stdout.filter(Boolean).at(-1)).toMatch(/^\d\d:\d\d:\d\d\.\d{3} \[w0-0000\] an old line$/);
    expect(printed).toContainEqual(expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[${first.workerId}\\] \\[${first.id.slice(0, 8)}…\\] INFO working on first$`)));

    const recent = startCli(["logs", "--since", "1h"], { cwd: p.dir });
    expect(await recent.exit()).toBe(0);
    expect(recent.stdout.filter(Boolean)).toEqual(printed);

    const one = startCli(["logs", "--job", `${second.id.slice(0, 8)}…`], { cwd: p.dir });
    expect(await one.exit()).toBe(0);
    expect(one.stdout.filter(Boolean)).toEqual(printed.filter((line) => line.includes(`[${second.id.slice(0, 8)}…]`)));
    expect(one.stdout.filter(Boolean)).toHaveLength(2);

    const worker = startCli(["logs", "--worker", "w0-0000"], { cwd: p.dir });
    expect(await worker.exit()).toBe(0);
    expect(worker.stdout.filter(Boolean)).toHaveLength(1);

    const other = startCli(["logs", "--endpoint", "other"], { cwd: p.dir });
    expect(await other.exit()).toBe(0);
    expect(other.stdout.filter(Boolean)).toEqual([]);
  });

  it("--follow: the stored lines, then the running emulator's as they come, each once, until it stops", async () => {
    const p = project();
    const emulator = startCli(["--port", "0"], { cwd: p.dir });
    const url = await readyUrl(emulator);
    await call(url, "POST", "/runsync", { input: { name: "before" } });

    const follow = startCli(["logs", "--follow"], { cwd: p.dir });
    await follow.line(/careful with before$/);
    const { body } = await call(url, "POST", "/runsync", { input: { name: "after" } });
    await follow.line(new RegExp(`\\[${body.id.slice(0, 13)}…\\] ERROR careful with after$`));
    emulator.child.kill("SIGTERM");
    expect(await emulator.exit()).toBe(0);
    expect(await follow.exit()).toBe(0);
    expect(follow.stderr).toContain("the emulator stopped");
    const lines = follow.stdout.filter(Boolean).map((line) => line.slice("00:00:00.000 ".length));
    expect(lines.filter((line) => line.endsWith("working on before"))).toHaveLength(1);
    expect(lines.filter((line) => line.endsWith("working on after"))).toHaveLength(1);
  });

  it("says there is no history where no database is, and that nothing will follow without a running emulator", async () => {
    const none = startCli(["logs"], { cwd: scratchDir() });
    expect(await none.exit()).toBe(1);
    expect(none.stderr.at(-1)).toMatch(/^error: no job history at .*emulator\.db: no emulator has kept logs there/);
    const p = project();
    const emu = await startEmulator({ handler: p.handler, db: p.db });
    await runToEnd(emu, { name: "only" });
    await emu.close();
    const follow = startCli(["logs", "--follow"], { cwd: p.dir });
    expect(await follow.exit()).toBe(0);
    expect(follow.stdout.filter((line) => line.endsWith(" only"))).toHaveLength(2);
    expect(follow.stderr.at(-1)).toMatch(/^note: no emulator is running on .*; nothing more will come$/);
  });
});
