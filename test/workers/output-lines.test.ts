import { describe, expect, it } from "vitest";
import { MAX_LINE_BYTES, OutputLines, decode } from "../../src/workers/output-lines.js";

function split(...chunks: (string | Buffer)[]): string[] {
  const lines: string[] = [];
  const splitter = new OutputLines((line) => lines.push(line));
  for (const chunk of chunks) splitter.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  splitter.end();
  return lines;
}

describe("a worker's output as lines", () => {
  it("splits chunks into lines wherever the chunks break, keeping empty lines and a last line without newline", () => {
    expect(split("one\ntw", "o\r\n", "\nthr", "ee")).toEqual(["one", "two", "", "three"]);
    expect(split("a\n")).toEqual(["a"]);
    expect(split("é".repeat(3).slice(0, 2), "é\n")).toEqual(["ééé"]);
  });

  it("keeps an overlong line's first and last 32 KiB around the number of bytes dropped, whatever the chunking", () => {
    const line = `${"h".repeat(40_000)}${"m".repeat(1_000_000)}${"t".repeat(40_000)}`;
    // Compared by their parts, so that a failure prints no megabyte of text.
    const parts = (text: string) => /^(h*) … \[(\d+) bytes of this line dropped: a line keeps its first and last 32 KiB\] … (t*)$/.exec(text)?.slice(1).map((part, i) => (i === 1 ? Number(part) : part.length));
    const expected = [32_768, 1_080_000 - MAX_LINE_BYTES, 32_768];
    const oneChunk = split(`${line}\nnext\n`);
    expect([parts(oneChunk[0] as string), oneChunk[1]]).toEqual([expected, "next"]);
    const pieces: string[] = [];
    for (let at = 0; at < line.length; at += 7_001) pieces.push(line.slice(at, at + 7_001));
    const chunked = split(...pieces, "\nnext");
    expect([parts(chunked[0] as string), chunked[1]]).toEqual([expected, "next"]);
    expect(split("x".repeat(MAX_LINE_BYTES))[0] === "x".repeat(MAX_LINE_BYTES)).toBe(true);
  });

  it("cuts an overlong line between characters, never inside one", () => {
    const [line] = split(`${"€".repeat(50_000)}\n`);
    expect(line).not.toContain("\\x");
    expect(line).toMatch(/^€+ … \[\d+ bytes of this line dropped: .*\] … €+$/);
    const [head, tail] = (line as string).split(/ … \[.*\] … /);
    expect(Buffer.byteLength(head as string)).toBeLessThanOrEqual(32_768 + 2);
    expect(Buffer.byteLength(tail as string)).toBeLessThanOrEqual(32_768);
    expect(Number(/\[(\d+) bytes/.exec(line as string)?.[1]) + Buffer.byteLength(head as string) + Buffer.byteLength(tail as string)).toBe(150_000);
  });

  it("shows bytes that are not UTF-8 as \\xNN and keeps valid text as it is", () => {
    expect(split(Buffer.from([0x61, 0xff, 0x62, 0xc3, 0x0a]))).toEqual(["a\\xffb\\xc3"]);
    expect(decode(Buffer.from("ünïcødé ✓ 😀"))).toBe("ünïcødé ✓ 😀");
    // An encoded surrogate and an overlong slash are not UTF-8 either.
    expect(decode(Buffer.from([0xed, 0xa0, 0x80, 0xc0, 0xaf]))).toBe("\\xed\\xa0\\x80\\xc0\\xaf");
  });
});
