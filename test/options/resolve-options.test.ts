import { describe, expect, it } from "vitest";
import { EmulatorError } from "../../src/errors.js";
import { OPTIONS, type OptionKey, envName, flagName, optionRows, resolveOptions } from "../../src/options.js";

/** The message resolveOptions() refuses `options` with; fails the test if it accepts them. */
function refusal(options: unknown, context?: Parameters<typeof resolveOptions>[1]): string {
  try {
    resolveOptions(options, context);
  } catch (error) {
    expect(error).toBeInstanceOf(EmulatorError);
    expect(error).toMatchObject({ code: "ERR_BAD_OPTION", userError: true });
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe("the options table", () => {
  it("gives every option a default, or words for the lack of one", () => {
    for (const [key, row] of optionRows()) expect(row.default !== undefined || row.defaultText !== undefined, key).toBe(true);
  });

  it("makes flags and variables from the keys", () => {
    expect(flagName("maxWorkers")).toBe("max-workers");
    expect(flagName("watch")).toBe("no-watch");
    expect(flagName("handler")).toBeUndefined();
    expect(envName("maxWorkers")).toBe("EMULATOR_MAX_WORKERS");
    expect(envName("watch")).toBe("EMULATOR_WATCH");
  });

  it("has defaults that pass its own rules", () => {
    const settings = resolveOptions({});
    for (const key of Object.keys(OPTIONS) as OptionKey[]) {
      if (OPTIONS[key].default !== undefined) expect(settings[key], key).toBeDefined();
    }
  });
});

describe("resolveOptions", () => {
  it("fills in the defaults, durations in milliseconds", () => {
    const settings = resolveOptions({});
    expect(settings).toMatchObject({ port: 8000, maxWorkers: 3, idleTimeout: 5_000, queueDelay: 4_000, executionTimeout: 600_000, coldStart: 0, watch: true });
    expect(settings.apiKey).toBeUndefined();
  });

  it("converts at the boundary: the same duration in any spelling", () => {
    for (const idleTimeout of [90, "90", "90s", "1.5m", "90000ms"]) expect(resolveOptions({ idleTimeout }).idleTimeout).toBe(90_000);
    expect(resolveOptions({ coldStart: 800 }).coldStart).toBe(800);
    expect(resolveOptions({ cors: "http://a.localhost, http://b.localhost" }).cors).toEqual(["http://a.localhost", "http://b.localhost"]);
  });

  it("uses the caller's defaults over the table's, and the given values over both", () => {
    expect(resolveOptions({}, { defaults: { port: 0 } }).port).toBe(0);
    expect(resolveOptions({ port: 9000 }, { defaults: { port: 0 } }).port).toBe(9000);
    expect(resolveOptions({ port: undefined, maxWorkers: null }, { defaults: { port: 0 } })).toMatchObject({ port: 0, maxWorkers: 3 });
  });

  it("names the option and the rule in every refusal", () => {
    expect(refusal({ maxWorkers: -1 })).toBe("option maxWorkers must be at least 1, got -1");
    expect(refusal({ idleTimeout: "x" })).toBe('option idleTimeout must be a duration such as 500ms, 30s or 10m (a number alone is in seconds), got "x"');
    expect(refusal({ port: 70000 })).toBe("option port must be at most 65535, got 70000");
    expect(refusal({ scaler: "magic" })).toBe('option scaler must be one of queue-delay, request-count, got "magic"');
    expect(refusal({ endpointId: "a/b" })).toBe('option endpointId must be letters, digits, - and _, got "a/b"');
    expect(refusal({ onEvent: "print" })).toBe('option onEvent must be a function, got "print"');
    expect(refusal({ minWorkers: 4, maxWorkers: 2 })).toBe("option minWorkers (4) must not be more than option maxWorkers (2)");
    expect(refusal("fast")).toBe('the options must be an object, got "fast"');
  });

  it("lets the caller name options its own way", () => {
    expect(refusal({ maxWorkers: "0" }, { name: (key) => `--${flagName(key)}` })).toBe("--max-workers must be at least 1, got 0");
  });

  it("refuses unknown keys, with the closest known one", () => {
    expect(refusal({ maxWorker: 2 })).toBe('unknown option "maxWorker"; did you mean "maxWorkers"?');
    expect(refusal({ idle_timeout: 2 })).toBe('unknown option "idle_timeout"; did you mean "idleTimeout"?');
    expect(refusal({ frobnicate: true })).toBe('unknown option "frobnicate"');
  });

  it("keeps the command line's own options to it", () => {
    expect(refusal({ logFormat: "json" })).toBe("option logFormat applies to the emulator command only (createEmulator() prints nothing)");
    expect(resolveOptions({ logFormat: "json" }, { commandLine: true }).logFormat).toBe("json");
  });

  it("accepts only endpoint options where an endpoint is described", () => {
    expect(resolveOptions({ maxWorkers: 2, handler: "h.py" }, { scope: "endpoint" })).toMatchObject({ maxWorkers: 2, handler: "h.py" });
    expect(refusal({ port: 1 }, { scope: "endpoint" })).toBe("option port is a server option: only endpoint options can be set here");
    expect(refusal({ porrt: 1 }, { scope: "endpoint" })).toBe('unknown option "porrt"');
  });
});
