import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readyUrl, startCli } from "../helpers/cli.js";
import { fixture } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

/** stdout must hold exactly one JSON document. */
const document = (lines: string[]) => JSON.parse(lines.join("\n"));

describe("emulator run (one job, for CI)", () => {
  it("writes the status object alone on stdout, the worker's prints on stderr, and keeps the job in the history", async () => {
    const cwd = scratchDir();
    writeFileSync(join(cwd, "handler.py"), 'import runpod\n\ndef handler(job):\n    print(f"Received prompt: {job[\'input\'][\'prompt\']}")\n    return {"echo": job["input"]}\n\nrunpod.serverless.start({"handler": handler})\n');
    const cli = startCli(["run", "handler.py", "--input", '{"input":{"prompt":"ci"}}'], { cwd });
    expect(await cli.exit(30_000)).toBe(0);
    const final = document(cli.stdout);
    expect(final).toMatchObject({ status: "COMPLETED", output: { echo: { prompt: "ci" } } });
    expect(cli.stderr.some((line) => line.endsWith("Received prompt: ci"))).toBe(true);
    const show = startCli(["jobs", "show", final.id.slice(0, 8)], { cwd });
    expect(await show.exit()).toBe(0);
    expect(show.stdout[0]).toBe(`job ${final.id}  COMPLETED`);
    expect(show.stdout.join("\n")).toContain("Received prompt: ci");
  });

  it("shows a failure's traceback once, on stderr, and exits 1 with the FAILED status object on stdout", async () => {
    const cwd = scratchDir();
    const cli = startCli(["run", fixture("python/error/handler.py"), "--input", '{"input":{"value":"x"}}', "--in-memory"], { cwd });
    expect(await cli.exit(30_000)).toBe(1);
    expect(document(cli.stdout)).toMatchObject({ status: "FAILED", error: expect.stringContaining("invalid literal for int()") });
    const stderr = cli.stderr.join("\n");
    expect(stderr.match(/Traceback \(most recent call last\)/g)).toHaveLength(1);
    expect(stderr).toContain("FAILED in");
    expect(stderr).toMatch(/ValueError: invalid literal for int\(\) with base 10: 'x'$/m);
    expect(stderr).not.toContain("Failed to get a job");
    expect(existsSync(join(cwd, ".runpod-emulator"))).toBe(false);
  });

  it("prints a generator's chunks on stderr as they come, and gives them in the document", async () => {
    const cli = startCli(["run", fixture("python/generator/handler.py"), "--input", '{"input":{"count":3,"delay_ms":10}}', "--in-memory"]);
    expect(await cli.exit(30_000)).toBe(0);
    expect(cli.stderr.filter((line) => line.startsWith("chunk "))).toEqual(['chunk {"token":0}', 'chunk {"token":1}', 'chunk {"token":2}']);
    expect(document(cli.stdout)).toMatchObject({ status: "COMPLETED", output: [], stream: [{ token: 0 }, { token: 1 }, { token: 2 }] });
  });

  it("keeps its job in memory, saying so, when an emulator serves the default database", async () => {
    const cwd = scratchDir();
    writeFileSync(join(cwd, "test_input.json"), JSON.stringify({ input: { a: 1 } }));
    const server = startCli(["--mock", "--port", "0"], { cwd });
    await readyUrl(server);
    const cli = startCli(["run", "--mock"], { cwd });
    expect(await cli.exit(30_000)).toBe(0);
    expect(document(cli.stdout)).toMatchObject({ status: "COMPLETED", output: { a: 1 } });
    expect(cli.stderr.join("\n")).toMatch(/^note: the database .* is in use by another emulator \(pid \d+, http:.*\); this run's job is kept in memory only$/m);
    server.child.kill("SIGTERM");
    expect(await server.exit()).toBe(0);
  });

  it("reads ./test_input.json by default, and says so when it is missing", async () => {
    const cli = startCli(["run", "--mock"], { cwd: fixture("node") });
    expect(await cli.exit()).toBe(1);
    expect(cli.output).toContain(`error: no input: pass --input '{"input": {...}}' or --input-file FILE (test_input.json not found)`);
  });

  it("says in its help what stdout holds and that the job is kept", async () => {
    const cli = startCli(["run", "--help"]);
    expect(await cli.exit()).toBe(0);
    const help = cli.stdout.join("\n");
    expect(help).toContain("stdout is one JSON document");
    expect(help).toContain("The job is kept in the job history");
  });
});
