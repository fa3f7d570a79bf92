import { HTTPException } from "hono/http-exception";

/**
 * The deepest nesting of arrays and objects accepted in a body. Deeper values overflow the stack of
 * JSON.stringify in this process (from about 4,000 levels) and of Python's json module in workers
 * (about 1,000 levels), so they are refused where they enter.
 */
export const MAX_JSON_DEPTH = 512;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A body nested deeper than MAX_JSON_DEPTH. */
export class TooDeep extends HTTPException {}

/** Decodes and parses a JSON body; each problem is a 400 whose message starts with `subject` ("the body of /run"). */
export function parseJson(raw: Uint8Array, subject: string): unknown {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new HTTPException(400, { message: `${subject} is not valid UTF-8; send JSON text encoded as UTF-8` });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HTTPException(400, { message: `${subject} is not valid JSON: ${(error as Error).message}` });
  }
  // Nesting n levels deep takes at least 2n bytes: small bodies need no walk.
  if (raw.length > 2 * MAX_JSON_DEPTH && nestedDeeperThan(value, MAX_JSON_DEPTH)) {
    throw new TooDeep(400, { message: `${subject} nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels` });
  }
  return value;
}

/** Whether arrays and objects nest more than `max` levels deep; walks without recursion. */
export function nestedDeeperThan(root: unknown, max: number): boolean {
  const pending: object[] = [];
  const depths: number[] = [];
  if (typeof root === "object" && root !== null) {
    pending.push(root);
    depths.push(1);
  }
  while (pending.length > 0) {
    const value = pending.pop() as object;
    const depth = depths.pop() as number;
    if (depth > max) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (typeof child === "object" && child !== null) {
        pending.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
