// The bundled runpod module's side of the worker channel (runpod/serverless/channel.py), run by the real
// interpreter against a loopback server that switches to frames and answers with what a test gives.
import { execFile, execFileSync } from "node:child_process";
import { type AddressInfo, createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const BUNDLED = fileURLToPath(new URL("../../../../src/workers/runtimes/python/bundled", import.meta.url));
const PYTHON = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();

const DRIVER = `
import json, sys
from runpod.serverless import channel
try:
    print(json.dumps({"jobs": channel.Channel(sys.argv[1]).take([("J1", b'{"output":1}')], 2, False)}))
except Exception as error:
    print(json.dumps({"error": "{}: {}".format(type(error).__name__, error)}))
`;

const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((close) => close()));

/** A server that switches every connection to frames and answers its first frame with `answer`; what it read. */
async function frameServer(answer: Buffer) {
  const read: Buffer[] = [];
  const server = createServer((socket) => {
    socket.on("data", (chunk) => {
      read.push(chunk);
      const bytes = Buffer.concat(read);
      const head = bytes.indexOf("\r\n\r\n");
      if (head < 0 || bytes.length < head + 12) return;
      const frame = bytes.subarray(head + 4);
      if (frame.length < 8 + frame.readUInt32BE(0) + frame.readUInt32BE(4)) return;
      socket.end(Buffer.concat([Buffer.from("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: runpod-emulator-worker-channel\r\n\r\n"), answer]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/EP/job-channel/W?token=T`, read };
}

function take(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ["-c", DRIVER, url], { env: { ...process.env, PYTHONPATH: BUNDLED }, timeout: 20_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout)),
    );
  });
}

function frame(header: string, extra = ""): Buffer {
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32BE(Buffer.byteLength(header), 0);
  return Buffer.concat([lengths, Buffer.from(header), Buffer.from(extra)]);
}

describe("the bundled runpod module's worker channel", () => {
  it("sends the handshake and a take carrying its results in one write, and reads the jobs", async () => {
    const server = await frameServer(frame('{"jobs":[{"id":"J2","input":{"n":2}},{"id":"bad"}]}'));
    expect(await take(server.url)).toEqual({ jobs: [{ id: "J2", input: { n: 2 } }] });
    const sent = Buffer.concat(server.read);
    const head = sent.indexOf("\r\n\r\n") + 4;
    expect(sent.subarray(0, head).toString()).toBe(
      `GET /v2/EP/job-channel/W?token=T HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\nConnection: Upgrade\r\nUpgrade: runpod-emulator-worker-channel\r\n\r\n`,
    );
    const size = sent.readUInt32BE(head);
    expect(JSON.parse(sent.subarray(head + 8, head + 8 + size).toString())).toEqual({ op: "take", free: 2, busy: false, ids: ["J1"], sizes: [12] });
    expect(sent.subarray(head + 8 + size).toString()).toBe('{"output":1}');
  });

  it("takes an answer that is not JSON, or more than one answer, for a failed connection", async () => {
    const garbage = await frameServer(frame("{{"));
    expect(await take(garbage.url)).toEqual({ error: "OSError: the worker channel's take: the connection to the platform failed (the emulator's answer is not JSON)" });
    const twice = await frameServer(Buffer.concat([frame("{}"), frame("{}")]));
    expect(await take(twice.url)).toEqual({ error: "OSError: the worker channel's take: the connection to the platform failed (the emulator sent more than one answer)" });
  });

  it("raises a refusal with its status and why, and sends the next request on the same connection", async () => {
    let connections = 0;
    const answers = [frame('{"error":"free must be a whole number of jobs","status":400}'), frame('{"jobs":[{"id":"J2","input":2}]}')];
    const server = createServer((socket) => {
      connections++;
      let bytes = Buffer.alloc(0);
      let frames = 0;
      socket.on("data", (chunk) => {
        bytes = Buffer.concat([bytes, chunk]);
        if (frames === 0) {
          const head = bytes.indexOf("\r\n\r\n");
          if (head < 0) return;
          socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: runpod-emulator-worker-channel\r\n\r\n");
          bytes = bytes.subarray(head + 4);
        }
        while (bytes.length >= 8 && bytes.length >= 8 + bytes.readUInt32BE(0) + bytes.readUInt32BE(4)) {
          bytes = bytes.subarray(8 + bytes.readUInt32BE(0) + bytes.readUInt32BE(4));
          socket.write(answers[frames++] ?? frame("{}"));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    closers.push(() => server.close());
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/EP/job-channel/W?token=T`;
    const driver = `
import json, sys
from runpod.serverless import channel
c = channel.Channel(sys.argv[1])
try:
    c.take([], 1, False)
except channel.Refused as refused:
    print(json.dumps({"refused": str(refused), "status": refused.status}))
print(json.dumps({"jobs": c.take([], 1, False)}))
`;
    // Run asynchronously: the server answering it lives in this process.
    const out = await new Promise<string>((resolve, reject) =>
      execFile(PYTHON, ["-c", driver, url], { env: { ...process.env, PYTHONPATH: BUNDLED }, timeout: 20_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    expect(out.trim().split("\n").map((line) => JSON.parse(line))).toEqual([
      { refused: "answered 400: free must be a whole number of jobs", status: 400 },
      { jobs: [{ id: "J2", input: 2 }] },
    ]);
    expect(connections).toBe(1);
  });
});
