import { HTTPException } from "hono/http-exception";

/** Parses a query parameter as a whole number of milliseconds; undefined when absent. */
export function queryMs(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new HTTPException(400, { message: `query parameter "${name}" must be a number of milliseconds, got "${raw}"` });
  }
  return Math.floor(value);
}

/** Clamps a value to [min, max]. */
export function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
