import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readyUrl, startCli } from "../helpers/cli.js";
import { fixture } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

describe("emulator with endpoints in its config file", () => {
  it("serves every endpoint, prints each in the banner, and names the endpoint on every terminal line", async () => {
    const cwd = scratchDir();
    writeFileSync(
      join(cwd, "emulator.config.json"),
      JSON.stringify({
        idleTimeout: 60,
        endpoints: [
          { id: "embed", handler: fixture("node/echo/handler.js") },
          { id: "api", type: "load-balancing", command: `python3 ${fixture("python/lb_server/server.py")}`, env: { MODEL_LOAD_SECONDS: "0" } },
        ],
      }),
    );
    const cli = startCli(["--port", "0", "--in-memory"], { cwd });
    const url = await readyUrl(cli);
    expect(url).toMatch(/\/v2\/embed$/);
    const lbLine = await cli.line(/^ {2}api +load-balancing http:\/\/127\.0\.0\.1:\d+ \(also http:\/\/api\.localhost:\d+\)/);
    const lbUrl = /load-balancing (\S+)/.exec(lbLine)?.[1] as string;
    await cli.line(/^ {2}embed +queue http:\/\/127\.0\.0\.1:\d+\/v2\/embed/);
    const job = await fetch(`${url}/runsync`, { method: "POST", body: JSON.stringify({ input: { a: 1 } }) }).then((r) => r.json());
    expect(job).toMatchObject({ status: "COMPLETED", output: { a: 1 } });
    await cli.line(/^\S+ \[embed\] ✓ sync-.* COMPLETED/);
    expect((await fetch(`${lbUrl}/whoami`)).status).toBe(200);
    await cli.line(/^\S+ \[api\] → GET \/whoami 200 in \d+ ms on w1-/);
    cli.child.kill("SIGTERM");
    expect(await cli.exit()).toBe(0);
  }, 60_000);

  it("leaves no load-balancing worker behind when it is killed with SIGKILL", async () => {
    const cwd = scratchDir();
    const id = `killed-${process.pid}`;
    const command = `python3 ${fixture("python/lb_server/server.py")}`;
    writeFileSync(join(cwd, "emulator.config.json"), JSON.stringify({ endpoints: [{ id, type: "load-balancing", command, minWorkers: 1, maxWorkers: 1 }] }));
    const cli = startCli(["--port", "0", "--in-memory"], { cwd });
    await readyUrl(cli);
    await cli.line(/ready in/);
    // The shell, its watchdog and the server: every process of the worker's group.
    expect(serverProcesses(id).length).toBeGreaterThanOrEqual(2);
    cli.child.kill("SIGKILL");
    await cli.exit();
    const deadline = Date.now() + 5_000;
    while (serverProcesses(id).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(serverProcesses(id)).toEqual([]);
  }, 30_000);
});

/** Processes started for the endpoint `id`'s workers. */
function serverProcesses(id: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return readFileSync(`/proc/${entry}/environ`, "latin1").includes(`\0RUNPOD_ENDPOINT_ID=${id}\0`);
      } catch {
        return false;
      }
    })
    .map(Number);
}
