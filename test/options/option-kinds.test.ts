import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OptionProblem, boolean, byteSize, choice, duration, integer, list, showDuration, showExactSize, showSize, text } from "../../src/options/option-kinds.js";

/** The problem a kind finds with `value`, or undefined when it accepts it. */
function problem(parse: (value: unknown) => unknown, value: unknown): string | undefined {
  try {
    parse(value);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(OptionProblem);
    return (error as Error).message;
  }
}

describe("option kinds", () => {
  it("integer: numbers and their digits, within limits", () => {
    const workers = integer({ min: 1, max: 10 });
    expect(workers.parse(3)).toBe(3);
    expect(workers.parse(" 7 ")).toBe(7);
    expect(problem(workers.parse, "many")).toBe('must be a whole number, got "many"');
    expect(problem(workers.parse, 1.5)).toBe("must be a whole number, got 1.5");
    expect(problem(workers.parse, "")).toBe('must be a whole number, got ""');
    expect(problem(workers.parse, -1)).toBe("must be at least 1, got -1");
    expect(problem(workers.parse, "11")).toBe("must be at most 10, got 11");
  });

  it("duration: a bare number is in the option's unit, text may carry its own; milliseconds out", () => {
    const seconds = duration("s");
    const millis = duration("ms");
    expect(seconds.parse(5)).toBe(5_000);
    expect(seconds.parse("5")).toBe(5_000);
    expect(seconds.parse(0.2)).toBe(200);
    expect(seconds.parse("10m")).toBe(600_000);
    expect(seconds.parse("150ms")).toBe(150);
    expect(millis.parse(800)).toBe(800);
    expect(millis.parse("800")).toBe(800);
    expect(millis.parse("2s")).toBe(2_000);
    expect(problem(seconds.parse, "x")).toBe('must be a duration such as 500ms, 30s or 10m (a number alone is in seconds), got "x"');
    expect(problem(millis.parse, true)).toBe("must be a duration such as 500ms, 30s or 10m (a number alone is in milliseconds), got true");
    expect(problem(seconds.parse, -1)).toBe("must be at least 0ms, got -1s");
    expect(problem(duration("s", { min: 5_000 }).parse, "2s")).toBe("must be at least 5s, got 2s");
    // Node's timers cannot wait longer than about 24.8 days; a longer one would fire at once.
    expect(problem(seconds.parse, "30d")).toBe("must be at most 24d, got 30d");
  });

  it("duration: what is shown reads back as the same duration", () => {
    const kind = duration("ms");
    fc.assert(fc.property(fc.integer({ min: 0, max: 24 * 86_400_000 }), (ms) => kind.parse(showDuration(ms)) === ms));
    expect([0, 150, 1_500, 5_000, 600_000, 86_400_000].map(showDuration)).toEqual(["0ms", "150ms", "1500ms", "5s", "10m", "1d"]);
  });

  it("byteSize: a number of bytes, or text with a unit of 1024s; the unit is required in text beyond bytes", () => {
    const memory = byteSize({ min: 1024 * 1024 });
    expect(memory.parse("24GB")).toBe(24 * 1024 ** 3);
    expect(memory.parse(" 200 mb ")).toBe(200 * 1024 ** 2);
    expect(memory.parse("1.5GB")).toBe(1.5 * 1024 ** 3);
    expect(memory.parse(2 ** 30)).toBe(2 ** 30);
    expect(memory.parse("1048576")).toBe(1024 * 1024);
    // `bytes` alone would read "24g" as 24 bytes: the form is checked before.
    expect(problem(memory.parse, "24g")).toBe('must be a size such as 512MB or 24GB (a number alone is in bytes), got "24g"');
    expect(problem(memory.parse, "lots")).toBe('must be a size such as 512MB or 24GB (a number alone is in bytes), got "lots"');
    expect(problem(memory.parse, -5)).toMatch(/^must be a size/);
    expect(problem(memory.parse, 24)).toBe("must be at least 1 MB, got 24 B");
    // Settings are shown exactly, as they read back; measurements rounded.
    expect([24 * 1024 ** 3, 1.5 * 1024 ** 3, 1025 * 1024 ** 2, 1_000_001].map(showExactSize)).toEqual(["24 GB", "1.5 GB", "1025 MB", "1000001 B"]);
    fc.assert(fc.property(fc.integer({ min: 1024 * 1024, max: 2 ** 45 }), (size) => memory.parse(showExactSize(size)) === size));
    expect(showSize(249_237_504)).toBe("237.7 MB");
  });

  it("boolean: true/false, as values or text", () => {
    expect([true, "true", "1", false, "false", "0"].map(boolean.parse)).toEqual([true, true, true, false, false, false]);
    expect(problem(boolean.parse, "yes")).toBe('must be true or false, got "yes"');
  });

  it("text: non-empty, of the form asked", () => {
    const gpus = text({ pattern: /^(all|none|\d+(,\d+)*)$/, expected: "all, none or GPU indices such as 0,2" });
    expect(gpus.parse("0,2")).toBe("0,2");
    expect(problem(gpus.parse, "0,x")).toBe('must be all, none or GPU indices such as 0,2, got "0,x"');
    expect(problem(text().parse, "")).toBe("needs a value");
    expect(problem(text().parse, 5)).toBe("must be text, got 5");
  });

  it("choice: one of the words, in any case, given back as written in the table", () => {
    const scaler = choice(["queue-delay", "request-count"]);
    expect(scaler.parse("Request-Count")).toBe("request-count");
    expect(problem(scaler.parse, "magic")).toBe('must be one of queue-delay, request-count, got "magic"');
  });

  it("list: an array, or text separated by commas", () => {
    expect(list.parse("a.test, b.test")).toEqual(["a.test", "b.test"]);
    expect(list.parse(["*"])).toEqual(["*"]);
    expect(problem(list.parse, [])).toMatch(/^must be a list of one or more names/);
    expect(problem(list.parse, "a,,b")).toMatch(/^must be a list/);
    expect(problem(list.parse, [1])).toMatch(/^must be a list/);
  });
});
