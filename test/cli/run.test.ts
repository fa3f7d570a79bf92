import { describe, expect, it } from "vitest";
import { startCli } from "../helpers/cli.js";
import { fixture } from "../helpers/emulator.js";

describe("emulator run (one job, for CI)", () => {
  it("prints the output and exits 0 on COMPLETED", async () => {
    const cli = startCli(["run", fixture("python/echo/handler.py"), "--input", '{"input":{"a":1}}']);
    expect(await cli.exit(30_000)).toBe(0);
    expect(JSON.parse(cli.output.slice(cli.output.indexOf("{")).join("\n"))).toMatchObject({ status: "COMPLETED", output: { a: 1 } });
  });

  it("shows the error and exits 1 on FAILED", async () => {
    const cli = startCli(["run", fixture("python/error/handler.py"), "--input", '{"input":{"value":"x"}}']);
    expect(await cli.exit(30_000)).toBe(1);
    const text = cli.output.join("\n");
    expect(text).toContain('"status": "FAILED"');
    expect(text).toContain("ValueError: invalid literal for int() with base 10: 'x'");
  });

  it("prints a generator's chunks as they come", async () => {
    const cli = startCli(["run", fixture("python/generator/handler.py"), "--input", '{"input":{"count":3,"delay_ms":10}}']);
    expect(await cli.exit(30_000)).toBe(0);
    expect(cli.output.filter((line) => line.startsWith("chunk "))).toEqual(['chunk {"token":0}', 'chunk {"token":1}', 'chunk {"token":2}']);
  });

  it("reads ./test_input.json by default, and says so when it is missing", async () => {
    const cli = startCli(["run", "--mock"], { cwd: fixture("node") });
    expect(await cli.exit()).toBe(1);
    expect(cli.output).toContain(`error: no input: pass --input '{"input": {...}}' or --input-file FILE (test_input.json not found)`);
  });
});
