import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readServerInfo } from "../../src/store/server-info.js";
import { readyUrl, startCli } from "../helpers/cli.js";
import { call } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

const PRINT_ENV = ["node", "-e", "console.log(JSON.stringify(process.env))"];

/** A project folder with a Node handler that returns its worker's whole environment, and a .env file. */
function project(): string {
  const dir = scratchDir();
  writeFileSync(join(dir, "handler.mjs"), "export default () => ({ ...process.env });\n");
  writeFileSync(join(dir, ".env"), "MODEL_NAME=tiny-model\nexport HF_TOKEN='secret token'\n");
  return dir;
}

describe("emulator shell", () => {
  it("runs a command with the variables a new worker of the endpoint gets, without a running emulator", async () => {
    const dir = project();
    const cli = startCli(["shell", "--port", "8123", "--gpus", "none", "--", "env"], { cwd: dir });
    expect(await cli.exit()).toBe(0);
    const env = new Map(cli.stdout.filter((line) => line.includes("=")).map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
    expect(env.get("RUNPOD_WEBHOOK_GET_JOB")).toMatch(/^http:\/\/127\.0\.0\.1:8123\/v2\/local\/job-take\/\$ID\?gpu=LOCAL&token=[\w-]+$/);
    expect(env.get("RUNPOD_POD_ID")).toMatch(/^shell-[0-9a-f]{4}$/);
    expect(env.get("RUNPOD_ENDPOINT_ID")).toBe("local");
    expect(env.get("MODEL_NAME")).toBe("tiny-model");
    expect(env.get("HF_TOKEN")).toBe("secret token");
    expect(env.get("TMPDIR")).toContain(`runpod-emulator-${cli.child.pid}-${env.get("RUNPOD_POD_ID")}-`);
    expect(cli.stderr.join("\n")).toContain(`a new worker ${env.get("RUNPOD_POD_ID")} of endpoint local (no emulator is running here)`);
  });

  it("puts the bundled module on PYTHONPATH for a .py handler whose interpreter has no runpod", async () => {
    const dir = scratchDir();
    writeFileSync(join(dir, "handler.py"), "import runpod\nrunpod.serverless.start({'handler': lambda job: job['input']})\n");
    const cli = startCli(["shell", "--sdk", "bundled", "--", "sh", "-c", 'echo "$PYTHONPATH"; python3 -c "import runpod; print(runpod.__file__)"'], { cwd: dir });
    expect(await cli.exit(30_000)).toBe(0);
    expect(cli.stdout[0]).toMatch(/runtimes\/python\/site:.*runtimes\/python\/bundled/);
    expect(cli.stdout[1]).toMatch(/runtimes\/python\/bundled\/runpod\/__init__\.py$/);
  });

  it("passes the command's exit status through, and names a command that cannot run", async () => {
    const dir = project();
    const failing = startCli(["shell", "--", "sh", "-c", "exit 7"], { cwd: dir });
    expect(await failing.exit()).toBe(7);
    const missing = startCli(["shell", "--", "no-such-command-here"], { cwd: dir });
    expect(await missing.exit()).toBe(1);
    expect(missing.stderr.at(-1)).toBe("error: cannot run no-such-command-here: no such command (ENOENT)");
  });

  it("mirrors a running emulator's worker exactly: the environment its process got, its folder", async () => {
    const dir = project();
    const emulator = startCli(["--port", "0", "--min-workers", "1"], { cwd: dir });
    const url = await readyUrl(emulator);
    const workerId = (await emulator.line(/worker w1-\w+ ready/)).match(/worker (w1-\w+)/)?.[1] as string;
    const { body } = await call(url, "POST", "/runsync", { input: {} });
    const { RUNPOD_EMULATOR_PARENT_FD: _fd, ...workerEnv } = body.output as Record<string, string>;

    const shell = startCli(["shell", "--", ...PRINT_ENV], { cwd: dir });
    expect(await shell.exit()).toBe(0);
    expect(JSON.parse(shell.stdout.join(""))).toEqual(workerEnv);
    expect(workerEnv.RUNPOD_POD_ID).toBe(workerId);
    expect(shell.stderr.join("\n")).toContain(`shell in worker ${workerId}'s environment`);

    const named = startCli(["shell", workerId, "--", "sh", "-c", 'echo "$RUNPOD_POD_ID $PWD"'], { cwd: join(dir, "..") });
    // From another folder the database is another: the worker is named in an emulator that is not running there.
    expect(await named.exit()).toBe(1);
    const here = startCli(["shell", workerId, "--", "sh", "-c", 'echo "$RUNPOD_POD_ID $PWD"'], { cwd: dir });
    expect(await here.exit()).toBe(0);
    expect(here.stdout).toEqual([`${workerId} ${dir}`]);
    const unknown = startCli(["shell", "w9-0000", "--", "true"], { cwd: dir });
    expect(await unknown.exit()).toBe(1);
    expect(unknown.stderr.at(-1)).toMatch(/has no running worker "w9-0000"/);
    emulator.child.kill("SIGTERM");
    expect(await emulator.exit()).toBe(0);
  });

  it("with a running emulator that runs no worker yet, gets what its new worker would: its URL, its handler", async () => {
    const dir = project();
    mkdirSync(join(dir, "worker"));
    renameSync(join(dir, "handler.mjs"), join(dir, "worker/main.mjs"));
    const emulator = startCli(["worker/main.mjs", "--port", "0"], { cwd: dir });
    const url = await readyUrl(emulator);
    const shell = startCli(["shell", "--", ...PRINT_ENV], { cwd: dir });
    expect(await shell.exit()).toBe(0);
    const env = JSON.parse(shell.stdout.join(""));
    expect(env.RUNPOD_WEBHOOK_GET_JOB).toMatch(new RegExp(`^${url}/job-take/`));
    expect(env.MODEL_NAME).toBe("tiny-model");
    expect(shell.stderr.join("\n")).toMatch(/a new worker shell-\w+ of endpoint local \(no worker is running\)/);
    emulator.child.kill("SIGTERM");
    expect(await emulator.exit()).toBe(0);
  });

  it("answers a worker's environment only with the key of the server file", async () => {
    const dir = project();
    const emulator = startCli(["--port", "0", "--min-workers", "1"], { cwd: dir });
    const url = await readyUrl(emulator);
    await emulator.line(/worker w1-\w+ ready/);
    const info = readServerInfo(join(dir, ".runpod-emulator/emulator.db"));
    expect(info?.controlKey).toEqual(expect.any(String));
    expect((await fetch(`${url}/worker-environment`)).status).toBe(401);
    expect((await fetch(`${url}/worker-environment`, { headers: { Authorization: "Bearer guess" } })).status).toBe(401);
    const answer = await fetch(`${url}/worker-environment`, { headers: { Authorization: `Bearer ${info?.controlKey}` } });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ workerId: expect.stringMatching(/^w1-/), cwd: dir, env: { MODEL_NAME: "tiny-model" } });
    emulator.child.kill("SIGTERM");
    expect(await emulator.exit()).toBe(0);
  });
});
