import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { join } from "node:path";
import getPort from "get-port";
import { describe, expect, it, onTestFinished } from "vitest";
import { FakeClock } from "../../src/core/clock.js";
import { readyUrl, startCli } from "../helpers/cli.js";
import { call, fixture, nextEvent, runToEnd, startEmulator } from "../helpers/emulator.js";
import { attachWithBreakpoint } from "../helpers/inspector.js";
import { scratchDir } from "../helpers/scratch.js";

/** A scratch project folder holding a copy of a fixture's handler. */
function project(fixturePath: string): { dir: string; handler: string; db: string } {
  const dir = scratchDir();
  const handler = join(dir, fixturePath.split("/").pop() as string);
  cpSync(fixture(fixturePath), handler);
  return { dir, handler, db: join(dir, "jobs.db") };
}

describe("emulator jobs", () => {
  it("shows a failed Python job's exception, traceback and its own log lines only", async () => {
    const p = project("python/error/handler.py");
    const emu = await startEmulator({ handler: p.handler, db: p.db, minWorkers: 2, maxWorkers: 2 });
    // Both workers wait in job-take, so the two jobs run at the same time on different workers.
    while (emu.endpoint.health().workers.idle < 2) await nextEvent(emu, (e) => e.type === "worker");
    const ids = await Promise.all([1, 2].map(async (n) => (await call(emu, "POST", "/run", { input: { value: `bad${n}` } })).body.id as string));
    const jobs = await Promise.all(ids.map(async (id) => (await call(emu, "GET", `/status-sync/${id}?wait=30000`)).body));
    expect(new Set(jobs.map((j) => j.workerId)).size).toBe(2);
    await emu.close();

    for (const [index, id] of ids.entries()) {
      const cli = startCli(["jobs", "show", id, "--db", p.db], { cwd: p.dir });
      expect(await cli.exit()).toBe(0);
      const text = cli.output.join("\n");
      expect(text).toContain(`job ${id}  FAILED`);
      expect(text).toContain(`ValueError: invalid literal for int() with base 10: 'bad${index + 1}'`);
      expect(text).toMatch(/Traceback \(most recent call last\):\n.*\n/);
      expect(text).toContain(`INFO parsing 'bad${index + 1}'`);
      expect(text).toContain(`plain print for ${id}`);
      const other = ids[1 - index];
      expect(text).not.toContain(other);
      expect(text).not.toContain(`'bad${2 - index}'`);
    }
  });

  it("replays a failed job on fixed code and exits 0, and exports its input as test_input.json", async () => {
    const p = project("python/error/handler.py");
    const emu = await startEmulator({ handler: p.handler, db: p.db });
    const failed = await runToEnd(emu, { value: "4x" });
    expect(failed.status).toBe("FAILED");
    await emu.close();

    const broken = startCli(["jobs", "replay", failed.id, p.handler, "--db", p.db], { cwd: p.dir });
    expect(await broken.exit(30_000)).toBe(1);
    writeFileSync(p.handler, readFileSync(p.handler, "utf8").replace("return int(value)", "return int(value.strip('x'))"));
    const fixed = startCli(["jobs", "replay", failed.id, p.handler, "--db", p.db], { cwd: p.dir });
    expect(await fixed.exit(30_000)).toBe(0);
    expect(fixed.output.join("\n")).toMatch(/"status": "COMPLETED"[\s\S]*"parsed": 4/);

    const exported = startCli(["jobs", "export", failed.id, "--db", p.db], { cwd: p.dir });
    expect(await exported.exit()).toBe(0);
    expect(JSON.parse(exported.output.join("\n"))).toEqual({ input: { value: "4x" } });
  });

  it("replays on the handler file the job ran on, from any folder, saying which file and version ran", async () => {
    const p = project("python/error/handler.py");
    const emu = await startEmulator({ handler: p.handler, db: p.db });
    const failed = await runToEnd(emu, { value: "4x" });
    const version = emu.history(failed.id)?.job.handlerVersion;
    await emu.close();
    writeFileSync(p.handler, readFileSync(p.handler, "utf8").replace("return int(value)", "return int(value.strip('x'))"));
    const elsewhere = scratchDir();
    const replay = startCli(["jobs", "replay", `${failed.id.slice(0, 8)}…`, "--db", p.db], { cwd: elsewhere });
    expect(await replay.exit(30_000)).toBe(0);
    expect(JSON.parse(replay.stdout.join("\n"))).toMatchObject({ status: "COMPLETED", output: { parsed: 4 } });
    expect(replay.stderr.at(-1)).toMatch(new RegExp(`^ran .*handler\\.py, version [0-9a-f]{12} \\(the job ran on version ${version}\\)$`));
  });

  it("finds a job by the start of its id, as the terminal prints it, and names the candidates of a short one", async () => {
    const p = project("python/echo/handler.py");
    const emu = await startEmulator({ mock: true, db: p.db });
    const ids: string[] = [];
    // Enough jobs that some share a first hex digit.
    for (let n = 0; n < 20; n++) ids.push((await runToEnd(emu, n)).id);
    await emu.close();
    const shown = startCli(["jobs", "show", `${ids[3].slice(0, 8)}…`, "--db", p.db]);
    expect(await shown.exit()).toBe(0);
    expect(shown.stdout[0]).toBe(`job ${ids[3]}  COMPLETED`);
    const exported = startCli(["jobs", "export", ids[4].slice(0, 8), "--db", p.db]);
    expect(await exported.exit()).toBe(0);
    expect(JSON.parse(exported.stdout.join("\n"))).toEqual({ input: 4 });
    const digit = [...ids.map((id) => id[0])].find((d, i, all) => all.indexOf(d) !== i) as string;
    const sharing = ids.filter((id) => id.startsWith(digit)).reverse();
    const ambiguous = startCli(["jobs", "show", digit, "--db", p.db]);
    expect(await ambiguous.exit()).toBe(1);
    expect(ambiguous.stderr.filter(Boolean)).toEqual([`error: "${digit}" starts ${sharing.length} job ids; give more of the one you mean:`, ...sharing.map((id) => `  ${id}`)]);
  });

  it("says there is no history where no database is, and creates none", async () => {
    const cwd = scratchDir();
    for (const args of [["jobs"], ["jobs", "show", "3b435494"]]) {
      const cli = startCli(args, { cwd });
      expect(await cli.exit()).toBe(1);
      expect(cli.output.filter(Boolean)).toEqual([`error: no job history at ${join(cwd, ".runpod-emulator/emulator.db")}: no emulator has kept jobs there; run emulator in this folder first, or pass --db PATH`]);
    }
    expect(existsSync(join(cwd, ".runpod-emulator"))).toBe(false);
  });

  it("replays against a running emulator on the same database", async () => {
    const p = project("python/echo/handler.py");
    const cli = startCli([p.handler, "--port", "0", "--db", p.db], { cwd: p.dir });
    const url = await readyUrl(cli);
    const { body: first } = await call(url, "POST", "/runsync", { input: { a: 1 } });
    const replay = startCli(["jobs", "replay", first.id, "--db", p.db], { cwd: p.dir });
    expect(await replay.exit(30_000)).toBe(0);
    expect(replay.output.join("\n")).toContain(`on the emulator at ${url}`);
    cli.child.kill("SIGTERM");
    expect(await cli.exit()).toBe(0);
  });

  it("says in one line that the emulator named by a stale server file cannot be reached", async () => {
    const p = project("python/echo/handler.py");
    const emu = await startEmulator({ mock: true, db: p.db });
    const done = await runToEnd(emu, 1);
    await emu.close();
    // The file of an emulator that is gone, with a live pid (this process): its port now refuses connections.
    const gone = createServer();
    await new Promise<void>((resolve) => gone.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/v2/local`;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    writeFileSync(`${p.db}.server.json`, JSON.stringify({ pid: process.pid, url }));

    const cli = startCli(["jobs", "replay", done.id, "--db", p.db], { cwd: p.dir });
    expect(await cli.exit()).toBe(1);
    expect(cli.output.filter(Boolean)).toEqual([`error: cannot reach the emulator at ${url}: connection refused`]);
  });

  it("lists jobs with their state, filtered by status", async () => {
    const p = project("python/echo/handler.py");
    const emu = await startEmulator({ mock: true, db: p.db });
    await runToEnd(emu, 1);
    const failed = await runToEnd(emu, { mock: { error: "x" } });
    await emu.close();
    const cli = startCli(["jobs", "--status", "FAILED", "--db", p.db], { cwd: p.dir });
    expect(await cli.exit()).toBe(0);
    expect(cli.output.filter((line) => line.includes("-u1"))).toHaveLength(1);
    expect(cli.output.join("\n")).toContain(failed.id);
    expect(cli.output.join("\n")).not.toContain("--limit N shows more");
  });

  it("says when more jobs match than it lists", async () => {
    const p = project("python/echo/handler.py");
    const emu = await startEmulator({ mock: true, db: p.db });
    for (let n = 0; n < 3; n++) await runToEnd(emu, n);
    await emu.close();
    const cli = startCli(["jobs", "--limit", "2", "--db", p.db]);
    expect(await cli.exit()).toBe(0);
    expect(cli.stdout.filter((line) => line.includes("-u1"))).toHaveLength(2);
    expect(cli.stdout.at(-1)).toBe("(the newest 2 of 3 jobs; --limit N shows more)");
  });

  it("forgets finished jobs from the API after the retention time, while the history keeps them", async () => {
    const p = project("python/echo/handler.py");
    const clock = new FakeClock(Date.now());
    const emu = await startEmulator({ mock: true, db: p.db, clock });
    const run = await runToEnd(emu, 1);
    const { body: sync } = await call(emu, "POST", "/runsync", { input: 2 });
    clock.advance(60_000);
    expect((await call(emu, "GET", `/status/${sync.id}`)).status).toBe(404);
    expect((await call(emu, "GET", `/status/${run.id}`)).status).toBe(200);
    clock.advance(29 * 60_000);
    expect((await call(emu, "GET", `/status/${run.id}`)).status).toBe(404);
    expect(emu.history(run.id)).toMatchObject({ expired: true, job: { status: "COMPLETED" } });
    const cli = startCli(["jobs", "--db", p.db], { cwd: p.dir });
    expect(await cli.exit()).toBe(0);
    expect(cli.output.join("\n")).toContain(run.id);
    expect(cli.output.join("\n")).toContain(sync.id);
  });
});

describe("crash safety", () => {
  it("keeps every acknowledged job across a SIGKILL of the emulator, and completes each once", async () => {
    const p = project("node/counter/handler.js");
    const counter = join(p.dir, "invocations.txt");
    writeFileSync(counter, "");
    const env = { COUNTER_FILE: counter };
    const first = startCli([p.handler, "--port", "0", "--db", p.db, "--queue-delay", "0", "--no-watch"], { cwd: p.dir, env });
    const url = await readyUrl(first);
    const ids: string[] = [];
    for (let n = 0; n < 1000; n += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, i) => call(url, "POST", "/run", { input: { n: n + i, ms: 5 } })));
      ids.push(...batch.map((r) => r.body.id));
    }
    // Kill it mid-way: once a few hundred jobs have run.
    while (readFileSync(counter, "utf8").split("\n").length < 300) await new Promise((resolve) => setTimeout(resolve, 20));
    first.child.kill("SIGKILL");
    await first.exit();

    const second = startCli([p.handler, "--port", "0", "--db", p.db, "--queue-delay", "0", "--no-watch"], { cwd: p.dir, env });
    const again = await readyUrl(second);
    const finals = [];
    for (const id of ids) finals.push((await call(again, "GET", `/status-sync/${id}?wait=60000`)).body);
    expect(finals.map((f) => f.status)).toEqual(ids.map(() => "COMPLETED"));
    const invocations = new Map<string, number>();
    for (const id of readFileSync(counter, "utf8").split("\n").filter(Boolean)) invocations.set(id, (invocations.get(id) ?? 0) + 1);
    // A job runs twice only if it was running when the emulator died, and then it shows one retry.
    for (const final of finals) {
      const count = invocations.get(final.id) ?? 0;
      expect(count, final.id).toBeGreaterThanOrEqual(1);
      if (count > 1) expect(final.retries, final.id).toBe(1);
      expect(count, final.id).toBeLessThanOrEqual(2);
    }
    second.child.kill("SIGTERM");
    expect(await second.exit()).toBe(0);
    // A thousand jobs through real workers twice over: on a loaded two-core machine this takes a while.
  }, 120_000);
});

describe("emulator jobs replay under a debugger", () => {
  it("replays a failed Node job with --inspect on a fresh worker that waits: a debugger stops in the handler before it fails", async () => {
    const p = project("node/error/handler.js");
    const emu = await startEmulator({ handler: p.handler, db: p.db });
    const failed = await runToEnd(emu, { reason: "bad input" });
    expect(failed.status).toBe("FAILED");
    await emu.close();

    const port = await getPort({ host: "127.0.0.1" });
    const replay = startCli(["jobs", "replay", failed.id, `--inspect=${port}`, "--db", p.db], { cwd: p.dir });
    await replay.line(new RegExp(`Debugger listening on ws://127\\.0\\.0\\.1:${port}/`), 30_000);
    expect(replay.stderr.join("\n")).toContain(`the replay's worker waits for the debugger: Node inspector on 127.0.0.1:${port}`);
    const { client, paused: breakpoint } = await attachWithBreakpoint(port, p.handler, 2);
    onTestFinished(() => client.close());
    const paused = await breakpoint();
    const input = await client.send("Debugger.evaluateOnCallFrame", { callFrameId: paused.callFrames[0].callFrameId, expression: "job.input.reason" });
    expect(input.result.value).toBe("bad input");
    await client.send("Debugger.resume");
    expect(await replay.exit(30_000)).toBe(1);
    expect(JSON.parse(replay.stdout.join("\n"))).toMatchObject({ status: "FAILED", error: expect.stringContaining('something broke: {\\"reason\\":\\"bad input\\"}') });
  });

  it("replays a failed Python job with --debugpy on a worker that waits for the client, and fails it again", async () => {
    const p = project("python/error/handler.py");
    const emu = await startEmulator({ handler: p.handler, db: p.db });
    const failed = await runToEnd(emu, { value: "4x" });
    await emu.close();

    const port = await getPort({ host: "127.0.0.1" });
    const fakeDebugpy = new URL("../workers/fake-debugpy", import.meta.url).pathname;
    const replay = startCli(["jobs", "replay", failed.id, `--debugpy=${port}`, "--db", p.db], { cwd: p.dir, env: { PYTHONPATH: fakeDebugpy } });
    await replay.line(new RegExp(`fake debugpy listening on 127\\.0\\.0\\.1:${port} .*"--wait-for-client"`), 30_000);
    expect(replay.stderr.join("\n")).toContain(`the replay's worker waits for the debugger: debugpy on 127.0.0.1:${port}`);
    const client = connect(port, "127.0.0.1");
    client.on("error", () => {});
    onTestFinished(() => void client.destroy());
    expect(await replay.exit(30_000)).toBe(1);
    expect(JSON.parse(replay.stdout.join("\n"))).toMatchObject({ status: "FAILED" });
    expect(replay.stderr.join("\n")).toMatch(/fake debugpy: client attached[\s\S]*ValueError: invalid literal for int\(\) with base 10: '4x'/);
  });
});
