import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, TooDeep, nestedDeeperThan, parseJson } from "../../src/api/json-body.js";

/** A value nested exactly `depth` levels deep, alternating arrays and objects, with siblings on the way. */
function nested(depth: number): unknown {
  let value: unknown = depth % 2 ? [] : {};
  for (let level = depth - 1; level >= 1; level--) value = level % 2 ? [1, value, "x"] : { a: null, b: value };
  return value;
}

describe("parseJson", () => {
  it("parses what JSON.parse parses", () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(parseJson(Buffer.from(text), "the body")).toEqual(JSON.parse(text));
      }),
    );
  });

  it("refuses invalid UTF-8 instead of replacing it", () => {
    for (const bytes of [[0x22, 0xff, 0x22], [0x22, 0xc3, 0x28, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22]]) {
      expect(() => parseJson(new Uint8Array(bytes), "the body of /run")).toThrow("the body of /run is not valid UTF-8; send JSON text encoded as UTF-8");
    }
    expect(parseJson(Buffer.from('"é漢😀"'), "the body")).toBe("é漢😀");
  });

  it("refuses nesting past the limit, without overflowing the stack itself", () => {
    expect(parseJson(Buffer.from(JSON.stringify(nested(MAX_JSON_DEPTH))), "the body")).toEqual(nested(MAX_JSON_DEPTH));
    for (const depth of [MAX_JSON_DEPTH + 1, 100_000]) {
      expect(() => parseJson(Buffer.from(`${"[".repeat(depth)}${"]".repeat(depth)}`), "the body")).toThrow(TooDeep);
    }
  });
});

describe("nestedDeeperThan", () => {
  it("tells nesting deeper than the limit from nesting within it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }), (depth, max) => {
        expect(nestedDeeperThan(nested(depth), max)).toBe(depth > max);
      }),
    );
    expect(nestedDeeperThan("text", 0)).toBe(false);
  });
});
