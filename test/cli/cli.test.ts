import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { workerProcesses } from "../helpers/global-setup.js";
import { type Cli, readyUrl, startCli } from "../helpers/cli.js";
import { call, fixture } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";
import { waitFor } from "../helpers/worker-channel.js";


/** `npx emulator ARGS` in a project with this package installed, as npm links it: npx finds the command in node_modules/.bin. */
function startNpx(args: string[]): Cli {
  // (In the checkout itself npx would install the checkout into its own cache, building it again.)
  const project = scratchDir();
  const root = fileURLToPath(new URL("../..", import.meta.url));
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "a-project", private: true }));
  mkdirSync(join(project, "node_modules", ".bin"), { recursive: true });
  symlinkSync(root, join(project, "node_modules", "runpod-serverless-emulator"));
  symlinkSync("../runpod-serverless-emulator/dist/cli/main.js", join(project, "node_modules", ".bin", "emulator"));
  // Offline: npx must find the package's own command, never fetch one.
  return startCli(args, { command: "npx", cwd: project, env: { npm_config_offline: "true" } });
}

describe("the emulator command", () => {
  it("serves a Node handler: ready line with the real URL, then /runsync and one line per state change", async () => {
    const cli = startCli([fixture("node/echo/handler.js"), "--port", "0", "--in-memory"]);
    const url = await readyUrl(cli);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2\/local$/);
    const { body } = await call(url, "POST", "/runsync", { input: { hi: 1 } });
    expect(body).toEqual({
      id: expect.stringMatching(/^sync-/), status: "COMPLETED", output: { hi: 1 },
      delayTime: expect.any(Number), executionTime: expect.any(Number), workerId: expect.any(String),
    });
    const short = body.id.slice(0, 13);
    await cli.line(new RegExp(`✓ ${short}… COMPLETED in \\d+ ms \\(delay \\d+ ms, cold\\)`));
    expect(cli.output.some((line) => /worker w1-\w+ ready in \d+ ms/.test(line))).toBe(true);
    cli.child.kill("SIGTERM");
    expect(await cli.exit()).toBe(0);
  });

  it("says in one line that the port is in use, and exits 1", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const cli = startCli(["--mock", "--port", String(port), "--in-memory"]);
      expect(await cli.exit()).toBe(1);
      expect(cli.output.filter(Boolean)).toEqual([`error: port ${port} is in use; pass --port 0 or another port`]);
    } finally {
      blocker.close();
    }
  });

  it("refuses a missing handler, an unknown option and a bad value with one clear line each", async () => {
    const cases: [string[], string][] = [
      [["missing.py", "--in-memory"], "error: handler file not found: missing.py"],
      [["--mock", "--frobnicate"], "error: unknown option --frobnicate (see emulator --help)"],
      [["--mock", "--max-worker", "2"], "error: unknown option --max-worker; did you mean --max-workers? (see emulator --help)"],
      [["--mock", "--max-workers", "many"], 'error: --max-workers must be a whole number, got "many"'],
      [["--mock", "--max-workers", "-1"], "error: --max-workers must be at least 1, got -1"],
      [["--mock", "--idle-timeout", "soon"], 'error: --idle-timeout must be a duration such as 500ms, 30s or 10m (a number alone is in seconds), got "soon"'],
      [["--mock", "--scaler", "magic"], 'error: --scaler must be one of queue-delay, request-count, got "magic"'],
      [["jobs", "--status", "DONE"], 'error: --status must be one of IN_QUEUE, IN_PROGRESS, COMPLETED, FAILED, CANCELLED, TIMED_OUT, got "DONE"'],
      [["run", "--mock", "--input"], "error: option --input needs a value (see emulator run --help)"],
    ];
    for (const [args, message] of cases) {
      const cli = startCli(args, { cwd: scratchDir() });
      expect(await cli.exit(), args.join(" ")).toBe(1);
      expect(cli.output.filter(Boolean)).toEqual([message]);
    }
    const none = startCli(["--in-memory"], { cwd: scratchDir() });
    expect(await none.exit()).toBe(1);
    expect(none.output.join("\n")).toMatch(/^error: no handler found in .* \(tried handler\.py, src\/handler\.py, rp_handler\.py/);
  });

  it("suggests the file meant by a misspelt handler path", async () => {
    const cwd = scratchDir();
    mkdirSync(join(cwd, "src"));
    writeFileSync(join(cwd, "src", "handler.py"), "");
    writeFileSync(join(cwd, "rp_handler.py"), "");
    for (const [typed, meant] of [["src/hander.py", "src/handler.py"], ["rphandler.py", "rp_handler.py"], ["handler.py", "src/handler.py"]]) {
      const cli = startCli([typed, "--in-memory"], { cwd });
      expect(await cli.exit()).toBe(1);
      expect(cli.output.filter(Boolean)).toEqual([`error: handler file not found: ${typed}; did you mean ${meant}?`]);
    }
  });

  it("puts only JSON on stdout with --log-format json, the ready line included", async () => {
    const cwd = scratchDir();
    cpSync(fixture("node/echo/handler.js"), join(cwd, "handler.js"));
    const cli = startCli(["--port", "0", "--in-memory", "--log-format", "json"], { cwd });
    const ready = JSON.parse(await cli.line(/"type":"ready"/));
    expect(ready).toMatchObject({ type: "ready", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v2\/local$/), handler: "handler.js" });
    await call(ready.url, "POST", "/runsync", { input: 1 });
    await cli.line(/"status":"COMPLETED"/);
    cli.child.kill("SIGTERM");
    expect(await cli.exit()).toBe(0);
    for (const line of cli.stdout.filter(Boolean)) expect(() => JSON.parse(line), line).not.toThrow();
    expect(cli.stderr).toContain("found handler handler.js");
  });

  // npm does not pass a SIGTERM on to the command it runs: the emulator notices that npm is gone.
  for (const moment of ["once it is ready", "while it is still starting"] as const) {
    it(`stops when the npx that started it is stopped ${moment}`, async () => {
      const db = join(scratchDir(), "jobs.db");
      const npx = startNpx(["emulator", "--mock", "--port", "0", "--db", db]);
      if (moment === "once it is ready") await readyUrl(npx);
      // Else as soon as the emulator writes this file: as it opens the database, before it listens.
      else await waitFor(() => existsSync(`${db}.server.json`), 20_000);
      const { pid } = JSON.parse(readFileSync(`${db}.server.json`, "utf8")) as { pid: number };
      onTestFinished(() => {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Stopped, as it should have.
        }
      });
      expect(pid).not.toBe(npx.child.pid);
      npx.child.kill("SIGTERM");
      await npx.exit();
      // Bounded only to detect a hang: the emulator looks at its parents each second.
      await waitFor(() => !existsSync(`${db}.server.json`), 15_000).catch(() => undefined);
      expect(existsSync(`${db}.server.json`), npx.output.join("\n")).toBe(false);
      expect(npx.output).toContain("the process that started the emulator exited: stopping workers…");
    });
  }

  it("reads options from EMULATOR_* variables and the config file, flags first", async () => {
    const cwd = scratchDir();
    writeFileSync(join(cwd, "emulator.config.json"), JSON.stringify({ maxWorkers: 7, idleTimeout: 9 }));
    const cli = startCli(["--print-config", "--idle-timeout", "2"], { cwd, env: { EMULATOR_MAX_WORKERS: "5", EMULATOR_MAX_WORKER: "4" } });
    expect(await cli.exit()).toBe(0);
    const row = (name: string) => cli.output.find((line) => line.trimStart().startsWith(`${name} `))?.trim().split(/\s{2,}/);
    expect(row("max-workers")).toEqual(["max-workers", "5", "env EMULATOR_MAX_WORKERS"]);
    expect(row("idle-timeout")).toEqual(["idle-timeout", "2s", "--idle-timeout"]);
    expect(row("port")).toEqual(["port", "8000", "default"]);
    expect(row("db")).toEqual(["db", join(cwd, ".runpod-emulator/emulator.db"), "default"]);
    expect(row("handler")).toEqual(["handler", "none found", "default"]);
    expect(row("python")?.[1]).toMatch(/^\/\S+ \(Python 3\.\d+\.\d+, (runpod \S+|no runpod: the bundled module)\)$/);
    expect(cli.output).toContain("warning: unknown variable EMULATOR_MAX_WORKER ignored; did you mean EMULATOR_MAX_WORKERS?");
  });

  it("prints every command's help, and never runs a job for it", async () => {
    const cwd = scratchDir();
    cpSync(fixture("node/echo/handler.js"), join(cwd, "handler.js"));
    writeFileSync(join(cwd, "test_input.json"), JSON.stringify({ input: { a: 1 } }));
    const cases: [string[], RegExp][] = [
      [["--help"], /^Usage: emulator \[HANDLER\] \[options\]/],
      [["run", "--help"], /^Usage: emulator run /],
      [["run", "handler.js", "-h"], /^Usage: emulator run /],
      [["jobs", "--help"], /^Usage: emulator jobs /],
      [["jobs", "show", "--help"], /^Usage: emulator jobs /],
      [["jobs", "replay", "some-id", "--help"], /^Usage: emulator jobs /],
    ];
    for (const [args, usage] of cases) {
      const cli = startCli(args, { cwd });
      expect(await cli.exit(), args.join(" ")).toBe(0);
      expect(cli.output[0], args.join(" ")).toMatch(usage);
      expect(cli.output.join("\n"), args.join(" ")).not.toMatch(/"status"|ready:|replaying/);
    }
    expect(existsSync(join(cwd, ".runpod-emulator"))).toBe(false);
  });

  it("keeps a queued job across a SIGTERM restart on the same database, and completes it", async () => {
    const db = join(scratchDir(), "jobs.db");
    // The long simulated cold start keeps the job queued while the first emulator runs.
    const first = startCli(["--mock", "--port", "0", "--db", db, "--cold-start", "600000"]);
    const { body: run } = await call(await readyUrl(first), "POST", "/run", { input: { n: 1 } });
    first.child.kill("SIGTERM");
    expect(await first.exit()).toBe(0);
    const second = startCli(["--mock", "--port", "0", "--db", db]);
    const url = await readyUrl(second);
    const { body } = await call(url, "GET", `/status-sync/${run.id}?wait=20000`);
    expect(body).toMatchObject({ id: run.id, status: "COMPLETED", output: { n: 1 } });
    second.child.kill("SIGTERM");
    expect(await second.exit()).toBe(0);
  });

  it("leaves no worker behind when it is killed with SIGKILL", async () => {
    const cli = startCli(["--mock", "--port", "0", "--in-memory", "--min-workers", "2"]);
    const url = await readyUrl(cli);
    await cli.line(/ready in/);
    expect(workerProcesses(url).length).toBeGreaterThanOrEqual(2);
    cli.child.kill("SIGKILL");
    await cli.exit();
    const deadline = Date.now() + 5_000;
    while (workerProcesses(url).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(workerProcesses(url)).toEqual([]);
  });
});
