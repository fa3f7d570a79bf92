import { describe, expect, it } from "vitest";
import { frameReader } from "../../../../src/workers/runtimes/node/frame-channel.mjs";

function frame(header: unknown): Buffer {
  const head = Buffer.from(JSON.stringify(header));
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32BE(head.length, 0);
  return Buffer.concat([lengths, head]);
}

/** Pushes `bytes` one at a time; the answer, and after how many bytes it came. */
function byteByByte(reader: ReturnType<typeof frameReader>, bytes: Buffer) {
  for (let i = 0; i < bytes.length; i++) {
    const answer = reader.push(bytes.subarray(i, i + 1));
    if (answer) return { answer, at: i + 1 };
  }
  return undefined;
}

describe("the Node runtime's reader of the worker channel's answers", () => {
  it("reads an answer frame however it is cut, after the handshake's answer on a new connection", () => {
    const answer = frame({ jobs: [{ id: "a", input: "é".repeat(3) }] });
    const switched = Buffer.from("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n");
    expect(byteByByte(frameReader(true), Buffer.concat([switched, answer]))).toEqual({
      answer: { header: { jobs: [{ id: "a", input: "ééé" }] }, keepAlive: true },
      at: switched.length + answer.length,
    });
    expect(byteByByte(frameReader(false), answer)?.answer).toEqual({ header: { jobs: [{ id: "a", input: "ééé" }] }, keepAlive: true });
  });

  it("reads a refused handshake's reason at the connection's end", () => {
    const reader = frameReader(true);
    const body = JSON.stringify({ error: 'unknown worker "w1" or wrong token' });
    expect(reader.push(Buffer.from(`HTTP/1.1 401 Unauthorized\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`))).toBeUndefined();
    expect(reader.end()).toEqual({ header: { error: 'unknown worker "w1" or wrong token', status: 401 }, keepAlive: false });
  });

  it("refuses more than one answer, and an answer that is not JSON", () => {
    expect(() => frameReader(false).push(Buffer.concat([frame({}), Buffer.from("x")]))).toThrow("the emulator sent more than one answer");
    const garbage = Buffer.concat([Buffer.from([0, 0, 0, 2, 0, 0, 0, 0]), Buffer.from("{{")]);
    expect(() => frameReader(false).push(garbage)).toThrow("the emulator's answer is not JSON");
    expect(frameReader(false).end()).toBeUndefined();
  });
});
