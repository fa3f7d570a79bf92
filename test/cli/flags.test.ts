import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CommandSpec, describeConfig, readArguments, resolveCommandLine } from "../../src/cli/flags.js";
import { EmulatorError } from "../../src/errors.js";
import { resolveOptions } from "../../src/options.js";
import { integer } from "../../src/options/option-kinds.js";
import { scratchDir } from "../helpers/scratch.js";

const SERVE: CommandSpec = { command: "emulator", handlerArgument: true };

/** Reads a command line the way `emulator` does, in `cwd`, with `env` as the environment. */
function read(argv: string[], env: NodeJS.ProcessEnv = {}, cwd = scratchDir(), spec = SERVE) {
  return resolveCommandLine(readArguments(argv, spec), env, cwd, spec);
}

/** The message a command line is refused with. */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EmulatorError);
    expect(error).toMatchObject({ code: "ERR_BAD_OPTION", userError: true });
    return (error as Error).message;
  }
  throw new Error("accepted");
}

describe("the command line", () => {
  it("reads a debugger's port as Node reads --inspect: alone for the default, after = for another", () => {
    expect(read(["--inspect"]).settings.inspect).toBe(9229);
    expect(read(["--inspect=9230"]).settings.inspect).toBe(9230);
    expect(read(["--debugpy"]).settings.debugpy).toBe(5678);
    expect(read([], { EMULATOR_DEBUGPY: "5679" }).settings.debugpy).toBe(5679);
    expect(read(["--inspect-wait", "handler.mjs"]).settings).toMatchObject({ inspect: undefined, inspectWait: true, handler: "handler.mjs" });
    expect(read([]).settings.inspect).toBeUndefined();
    expect(refusal(() => read(["--inspect=later"]))).toBe('--inspect must be a port from 1 to 65535, or true for 9229, got "later"');
  });

  it("layers flags over variables over the config file over defaults, and says where each value came from", () => {
    const cwd = scratchDir();
    writeFileSync(join(cwd, "emulator.config.json"), JSON.stringify({ maxWorkers: 7, idleTimeout: "9s", minWorkers: 1, port: 9100 }));
    const line = read(["--idle-timeout", "2"], { EMULATOR_MAX_WORKERS: "5", EMULATOR_IDLE_TIMEOUT: "3" }, cwd);
    expect(line.settings).toMatchObject({ maxWorkers: 5, idleTimeout: 2_000, minWorkers: 1, port: 9100, queueDelay: 4_000 });
    expect(line.sources.get("maxWorkers")?.label).toBe("env EMULATOR_MAX_WORKERS");
    expect(line.sources.get("idleTimeout")?.label).toBe("--idle-timeout");
    expect(line.sources.get("minWorkers")?.label).toBe("config file");
    expect(line.sources.has("queueDelay")).toBe(false);
  });

  it("keeps the flags' meanings: --idle-timeout and --execution-timeout in seconds, --cold-start in milliseconds", () => {
    const { settings } = read(["--idle-timeout", "5", "--execution-timeout", "600", "--cold-start", "800"]);
    expect(settings).toMatchObject({ idleTimeout: 5_000, executionTimeout: 600_000, coldStart: 800 });
    expect(read(["--execution-timeout", "10m", "--cold-start", "1s"]).settings).toMatchObject({ executionTimeout: 600_000, coldStart: 1_000 });
  });

  it("reads --no-watch and EMULATOR_WATCH=false the same way", () => {
    expect(read(["--no-watch"]).settings.watch).toBe(false);
    expect(read([], { EMULATOR_WATCH: "false" }).settings.watch).toBe(false);
    expect(read([]).settings.watch).toBe(true);
  });

  it("refuses a bad value with the message createEmulator() gives, naming what the user typed", () => {
    const api = refusal(() => resolveOptions({ maxWorkers: -1 }));
    const flag = refusal(() => read(["--max-workers", "-1"]));
    const variable = refusal(() => read([], { EMULATOR_MAX_WORKERS: "-1" }));
    expect(api).toBe("option maxWorkers must be at least 1, got -1");
    expect(flag).toBe("--max-workers must be at least 1, got -1");
    expect(variable).toBe("EMULATOR_MAX_WORKERS must be at least 1, got -1");
    const cwd = scratchDir();
    writeFileSync(join(cwd, "emulator.config.json"), JSON.stringify({ maxWorkers: -1 }));
    expect(refusal(() => read([], {}, cwd))).toBe(`maxWorkers in ${join(cwd, "emulator.config.json")} must be at least 1, got -1`);
  });

  it("suggests the flag, variable or key that was meant", () => {
    expect(refusal(() => read(["--max-worker", "2"]))).toBe("unknown option --max-worker; did you mean --max-workers? (see emulator --help)");
    expect(refusal(() => read(["--frobnicate"]))).toBe("unknown option --frobnicate (see emulator --help)");
    expect(read([], { EMULATOR_MAX_WORKER: "2", EMULATOR_SOMETHING_ELSE: "1" }).warnings).toEqual([
      "unknown variable EMULATOR_MAX_WORKER ignored; did you mean EMULATOR_MAX_WORKERS?",
      "unknown variable EMULATOR_SOMETHING_ELSE ignored",
    ]);
    const cwd = scratchDir();
    writeFileSync(join(cwd, "emulator.config.json"), JSON.stringify({ maxWorker: 2 }));
    expect(refusal(() => read([], {}, cwd))).toBe(`${join(cwd, "emulator.config.json")}: unknown option "maxWorker"; did you mean "maxWorkers"?`);
    writeFileSync(join(cwd, "emulator.config.json"), JSON.stringify({ clock: {} }));
    expect(refusal(() => read([], {}, cwd))).toBe(`${join(cwd, "emulator.config.json")}: option "clock" can only be given to createEmulator()`);
  });

  it("says which flag lacks a value, or takes none", () => {
    expect(refusal(() => read(["--port"]))).toBe("option --port needs a value (see emulator --help)");
    expect(refusal(() => read(["--flashboot=yes"]))).toBe("option --flashboot takes no value (see emulator --help)");
  });

  it("takes the handler as the argument, and refuses two", () => {
    const line = read(["handler.py"]);
    expect(line.settings.handler).toBe("handler.py");
    expect(line.sources.get("handler")?.label).toBe("argument");
    expect(refusal(() => read(["a.py", "b.py"]))).toBe("expected at most one handler, got: a.py b.py");
  });

  it("checks a command's own flags, and reads only the options it names", () => {
    const spec: CommandSpec = { command: "emulator jobs", options: ["db"], flags: { limit: integer({ min: 1 }) } };
    expect(read(["--limit", "5", "--db", "x.db"], { EMULATOR_MAX_WORKERS: "9" }, scratchDir(), spec)).toMatchObject({ flags: { limit: 5 }, settings: { db: "x.db", maxWorkers: 3 } });
    expect(refusal(() => read(["--limit", "0"], {}, scratchDir(), spec))).toBe("--limit must be at least 1, got 0");
    expect(refusal(() => read(["--max-workers", "2"], {}, scratchDir(), spec))).toBe("unknown option --max-workers (see emulator jobs --help)");
  });

  it("finds --help before anything else is read", () => {
    const cwd = scratchDir();
    writeFileSync(join(cwd, "emulator.config.json"), "not json");
    expect(readArguments(["--help", "--max-workers", "x"], SERVE).help).toBe(true);
    expect(readArguments(["-h"], SERVE).help).toBe(true);
    expect(refusal(() => read([], {}, cwd))).toMatch(/^the config file .* is not valid JSON/);
  });

  it("prints each value with its source, and the database's resolved path", () => {
    const cwd = scratchDir();
    const text = describeConfig(read(["--api-key", "s3cret", "--ttl", "2h"], {}, cwd), cwd);
    const row = (name: string) => text.split("\n").find((line) => line.trimStart().startsWith(`${name} `))?.trim().split(/\s{2,}/);
    expect(row("db")).toEqual(["db", join(cwd, ".runpod-emulator/emulator.db"), "default"]);
    expect(row("ttl")).toEqual(["ttl", "2h", "--ttl"]);
    expect(row("api-key")).toEqual(["api-key", "(hidden)", "--api-key"]);
    expect(row("watch")).toEqual(["watch", "true", "default"]);
    expect(text).not.toContain("s3cret");
    expect(text).not.toContain("unset");
    expect(row("db")?.[1]).not.toBe("in memory");
    expect(describeConfig(read(["--in-memory"], {}, cwd), cwd)).toMatch(/\n {2}db +in memory +default\n/);
  });
});
