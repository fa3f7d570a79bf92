import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FrameError, FrameReader, encodeFrame } from "../../src/api/frames.js";

describe("frames", () => {
  it("reads frames however the bytes are cut", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.jsonValue(), fc.string({ unit: "grapheme" })), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
        (messages, cuts) => {
          const bytes = Buffer.concat(messages.map(([header, payload]) => encodeFrame(header, payload)));
          const reader = new FrameReader(1 << 20, 1 << 20);
          const read = [];
          for (let at = 0, i = 0; at < bytes.length; i++) {
            const size = cuts[i % cuts.length] as number;
            read.push(...reader.push(bytes.subarray(at, at + size)));
            at += size;
          }
          expect(read.map((frame) => [frame.header, "payload" in frame ? frame.payload.toString() : undefined])).toEqual(
            messages.map(([header, payload]) => [JSON.parse(JSON.stringify(header)), payload]),
          );
        },
      ),
    );
  });

  it("throws a payload over the limit away as it comes, keeping its header, and reads the next frame", () => {
    const reader = new FrameReader(1000, 10);
    const big = encodeFrame({ op: "take", ids: ["a"] }, "x".repeat(25));
    const next = encodeFrame({ op: "done" }, "{}");
    expect(reader.push(big.subarray(0, 40))).toEqual([{ header: { op: "take", ids: ["a"] }, oversized: 25 }]);
    expect(reader.push(Buffer.concat([big.subarray(40), next]))).toEqual([{ header: { op: "done" }, payload: Buffer.from("{}") }]);
  });

  it("refuses a header over its limit before it arrives, and one that is not JSON", () => {
    const prefix = Buffer.alloc(8);
    prefix.writeUInt32BE(5000, 0);
    expect(() => new FrameReader(1000, 10).push(prefix)).toThrow(new FrameError("a frame header of 5000 bytes is over the 1000 bytes allowed"));
    const garbage = Buffer.concat([Buffer.from([0, 0, 0, 3, 0, 0, 0, 0]), Buffer.from("{{{")]);
    expect(() => new FrameReader(1000, 10).push(garbage)).toThrow(/a frame header is not JSON: \{\{\{/);
  });
});
