import bytes from "bytes";
import ms from "ms";

/** A value that breaks an option's rule. The message starts with "must…"; the caller names the option. */
export class OptionProblem extends Error {}

/**
 * How one kind of option reads its value. `In` is what a user may write in createEmulator() (a flag, an
 * EMULATOR_* variable or the config file give text, which every kind also reads); `Out` is what the
 * emulator works with: durations in milliseconds, lists as arrays.
 */
export interface Kind<In, Out> {
  /** The placeholder of the flag's value in help (N, SECONDS…); none for a flag that takes no value. */
  readonly arg?: string;
  /** The flag may come without its value (`--inspect` or `--inspect=9230`), as Node's own flags do. */
  readonly optionalValue?: true;
  /** Checks and converts a given value; throws an OptionProblem. */
  parse(value: unknown): Out;
  /** A converted value as help and `--print-config` show it. */
  show(value: Out): string;
  /** Only a type: what users may write. */
  readonly input?: In;
}

/** The longest delay Node's timers keep (2^31 - 1 ms), rounded down to whole days: 24 days. */
const LONGEST_DURATION_MS = 24 * 86_400_000;

/** A value as an error message quotes it. */
export function quote(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) return Array.isArray(value) ? "an array" : "an object";
  return String(value);
}

function checkRange(value: number, min: number | undefined, max: number | undefined, show: (n: number) => string): void {
  if (min !== undefined && value < min) throw new OptionProblem(`must be at least ${show(min)}, got ${show(value)}`);
  if (max !== undefined && value > max) throw new OptionProblem(`must be at most ${show(max)}, got ${show(value)}`);
}

/** A whole number, given as a number or as its digits. */
export function integer(limits: { min?: number; max?: number } = {}): Kind<number, number> {
  return {
    arg: "N",
    parse(value) {
      const number = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
      if (!Number.isInteger(number)) throw new OptionProblem(`must be a whole number, got ${quote(value)}`);
      checkRange(number, limits.min, limits.max, String);
      return number;
    },
    show: String,
  };
}

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;

/** A duration in the largest unit that keeps it whole: 10m, 5s, 1500ms — what `ms` reads back. */
export function showDuration(milliseconds: number): string {
  const unit = (Object.keys(UNIT_MS) as (keyof typeof UNIT_MS)[]).find((u) => milliseconds !== 0 && milliseconds % UNIT_MS[u] === 0) ?? "ms";
  return `${milliseconds / UNIT_MS[unit]}${unit}`;
}

/**
 * A duration: a number in the option's own unit (seconds or milliseconds, as the flag always meant), or
 * text with a unit that the `ms` package reads ("150ms", "30s", "10m", "1h"). Used in milliseconds.
 */
export function duration(unit: "s" | "ms", limits: { min?: number; max?: number } = {}): Kind<number | string, number> {
  const unitName = unit === "s" ? "seconds" : "milliseconds";
  return {
    arg: unit === "s" ? "SECONDS" : "MS",
    parse(value) {
      const text = typeof value === "string" ? value.trim() : undefined;
      let milliseconds = Number.NaN;
      if (typeof value === "number") milliseconds = value * UNIT_MS[unit];
      else if (text !== undefined && /^-?\d+(\.\d+)?$/.test(text)) milliseconds = Number(text) * UNIT_MS[unit];
      else if (text) milliseconds = ms(text as ms.StringValue) ?? Number.NaN;
      if (!Number.isFinite(milliseconds)) {
        throw new OptionProblem(`must be a duration such as 500ms, 30s or 10m (a number alone is in ${unitName}), got ${quote(value)}`);
      }
      milliseconds = Math.round(milliseconds);
      checkRange(milliseconds, limits.min ?? 0, limits.max ?? LONGEST_DURATION_MS, showDuration);
      return milliseconds;
    },
    show: showDuration,
  };
}

/** A measured size, rounded as messages print it: "237.7 MB" (units of 1024). */
export function showSize(size: number): string {
  return bytes.format(size, { unitSeparator: " ", decimalPlaces: 1 }) ?? `${size} B`;
}

const SIZE_UNITS = ["TB", "GB", "MB", "KB"] as const;

/** A size exactly, in the largest unit that needs at most two decimals: "24 GB", "1.5 GB", "1025 MB"; byteSize reads it back. */
export function showExactSize(size: number): string {
  for (const unit of SIZE_UNITS) {
    const count = Math.round((size / (bytes.parse(`1${unit}`) as number)) * 100) / 100;
    if (count >= 1 && bytes.parse(`${count}${unit}`) === size) return `${count} ${unit}`;
  }
  return `${size} B`;
}

/**
 * A size in bytes: a number of bytes, or text with a unit that the `bytes` package reads ("200MB",
 * "24 GB", "1.5GB"; a kB is 1024 bytes, as container memory limits count). Text is checked against the
 * form first: `bytes` alone reads "24g" as 24 bytes.
 */
export function byteSize(limits: { min?: number } = {}): Kind<number | string, number> {
  return {
    arg: "SIZE",
    parse(value) {
      const text = typeof value === "string" ? value.trim() : undefined;
      let size = Number.NaN;
      if (typeof value === "number") size = value;
      else if (text !== undefined && /^\d+(\.\d+)?\s*(b|kb|mb|gb|tb)?$/i.test(text)) size = bytes.parse(text) ?? Number.NaN;
      if (!Number.isFinite(size) || size < 0) throw new OptionProblem(`must be a size such as 512MB or 24GB (a number alone is in bytes), got ${quote(value)}`);
      size = Math.floor(size);
      checkRange(size, limits.min, undefined, showExactSize);
      return size;
    },
    show: showExactSize,
  };
}

/**
 * A debugger's port: a number, or on (true, or a flag without its value) for `defaultPort`, or off
 * (false). Used as the port, or undefined when off.
 */
export function debugPort(defaultPort: number): Kind<number | boolean | string, number | undefined> {
  const port = integer({ min: 1, max: 65535 });
  return {
    arg: "PORT",
    optionalValue: true,
    parse(value) {
      if (value === true || value === "true" || value === "") return defaultPort;
      if (value === false || value === "false") return undefined;
      try {
        return port.parse(value);
      } catch {
        throw new OptionProblem(`must be a port from 1 to 65535, or true for ${defaultPort}, got ${quote(value)}`);
      }
    },
    show: (value) => (value === undefined ? "off" : String(value)),
  };
}

/** On or off: a boolean, or the text true/false/1/0. */
export const boolean: Kind<boolean, boolean> = {
  parse(value) {
    if (value === true || value === "true" || value === "1") return true;
    if (value === false || value === "false" || value === "0") return false;
    throw new OptionProblem(`must be true or false, got ${quote(value)}`);
  },
  show: String,
};

/** Non-empty text, optionally of a given form (`expected` says it in words for the error). */
export function text(form?: { pattern: RegExp; expected: string }): Kind<string, string> {
  return {
    arg: "TEXT",
    parse(value) {
      if (typeof value !== "string") throw new OptionProblem(`must be text, got ${quote(value)}`);
      if (value === "") throw new OptionProblem("needs a value");
      if (form && !form.pattern.test(value)) throw new OptionProblem(`must be ${form.expected}, got ${quote(value)}`);
      return value;
    },
    show: (value) => value,
  };
}

/** One of a few words, matched without regard to case. */
export function choice<const C extends string>(choices: readonly C[]): Kind<C, C> {
  return {
    arg: choices.join("|"),
    parse(value) {
      const found = typeof value === "string" ? choices.find((c) => c.toLowerCase() === value.trim().toLowerCase()) : undefined;
      if (found === undefined) throw new OptionProblem(`must be one of ${choices.join(", ")}, got ${quote(value)}`);
      return found;
    },
    show: (value) => value,
  };
}

/** Names (hosts, origins): an array of text, or one text with the names separated by commas. */
export const list: Kind<string | string[], string[]> = {
  arg: "A,B",
  parse(value) {
    const items = typeof value === "string" ? value.split(",").map((item) => item.trim()) : value;
    if (!Array.isArray(items) || items.some((item) => typeof item !== "string" || item === "") || items.length === 0) {
      throw new OptionProblem(`must be a list of one or more names (an array of text, or text separated by commas), got ${quote(value)}`);
    }
    return items as string[];
  },
  show: (value) => value.join(","),
};

/** A value only code can give (a function, an object), checked by `test`; `expected` says what it must be. */
export function programmatic<T>(expected: string, test: (value: unknown) => boolean): Kind<T, T> {
  return {
    parse(value) {
      if (!test(value)) throw new OptionProblem(`must be ${expected}, got ${quote(value)}`);
      return value as T;
    },
    show: (value) => (typeof value === "string" ? value : expected),
  };
}
