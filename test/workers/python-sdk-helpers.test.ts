import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { call, fixture, nextEvent, runToEnd, startEmulator } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

const BUNDLED = fileURLToPath(new URL("../../src/workers/runtimes/python/bundled", import.meta.url));
const PYTHON = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();

/** Runs Python code with only the bundled module on its path; returns what it printed. */
function python(code: string, cwd?: string): string {
  return execFileSync(PYTHON, ["-c", code], { cwd, env: { ...process.env, PYTHONPATH: BUNDLED }, encoding: "utf8" });
}

describe("the bundled runpod module's helpers for handlers", () => {
  it("validates input as the SDK's rp_validator does: defaults filled in, every problem named", () => {
    const script = `
import json
from runpod.serverless.utils.rp_validator import validate
schema = {
    "prompt": {"type": str, "required": True},
    "steps": {"type": int, "required": False, "default": 20, "constraints": lambda n: 0 < n <= 100},
    "scale": {"type": float, "required": False, "default": 7.5},
    "seed": '{"type": null, "required": false, "default": null}',
}
print(json.dumps([
    validate({"prompt": "a cat", "scale": 8}, dict(schema)),
    validate({"steps": "many", "extra": 1}, {"prompt": {"type": str, "required": True}, "steps": {"type": int, "required": False, "default": 20}, "bad": "not json"}),
    validate({"steps": 500, "prompt": "x"}, {"prompt": {"type": str, "required": True}, "steps": {"type": int, "required": True, "constraints": lambda n: n <= 100}}),
]))`;
    expect(JSON.parse(python(script))).toEqual([
      { validated_input: { prompt: "a cat", scale: 8.0, steps: 20, seed: null } },
      {
        errors: [
          "Unexpected input. extra is not a valid input option.",
          "Schema error, bad is not a dictionary.",
          "prompt is a required input.",
          "steps should be <class 'int'> type, not <class 'str'>.",
        ],
      },
      { errors: ["steps does not meet the constraints."] },
    ]);
  });

  it("runs a worker template's handler offline: input checked, a local file fetched, the result saved without a bucket, the folder cleaned", async () => {
    const cwd = scratchDir();
    writeFileSync(join(cwd, "notes.txt"), "first\nsecond\nthird\n");
    const emu = await startEmulator({ handler: fixture("python/sdk_utils/handler.py"), cwd });
    const done = await runToEnd(emu, { file_url: `file://${join(cwd, "notes.txt")}`, lines: 2 });
    expect(done).toMatchObject({ status: "COMPLETED", output: { head: ["first", "second"], uploaded: `local_upload/${done.id}.txt` } });
    expect(readFileSync(join(cwd, "local_upload", `${done.id}.txt`), "utf8")).toBe("first\nsecond");
    expect(existsSync(join(cwd, "job_files"))).toBe(false);
    expect(existsSync(join(cwd, "output_objects"))).toBe(false);
    expect(emu.history(done.id)?.logs.map((line) => line.message)).toContain("read notes.txt (txt)");

    const refused = await runToEnd(emu, { file_url: 3, extra: true });
    expect(refused).toMatchObject({ status: "FAILED" });
    expect(JSON.parse(refused.error)).toEqual(["Unexpected input. extra is not a valid input option.", "file_url should be <class 'str'> type, not <class 'int'>."]);
  });

  it("refuses to fetch from a non-public address before connecting, as the SDK does", async () => {
    let requests = 0;
    const server = createServer((_, response) => {
      requests++;
      response.end("secret");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const emu = await startEmulator({ handler: fixture("python/sdk_utils/handler.py"), cwd: scratchDir() });
    const job = await runToEnd(emu, { file_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notes.txt` });
    expect(job.status).toBe("FAILED");
    expect(JSON.parse(job.error).error_message).toBe("refused to fetch from 127.0.0.1 (127.0.0.1): not a public address");
    expect(requests).toBe(0);
  });

  it("names a part of the SDK it lacks, and the way to the real one, instead of a bare import error", async () => {
    const cwd = scratchDir();
    const cases = [
      ["from runpod.serverless.utils.rp_cuda import is_available", "ModuleNotFoundError: runpod.serverless.utils.rp_cuda is not in the runpod module bundled with the RunPod Serverless emulator"],
      ["from runpod import Endpoint", "runpod.Endpoint is not in the runpod module bundled with the RunPod Serverless emulator"],
      ["import runpod\nrunpod.Endpoint('other')", "AttributeError: runpod.Endpoint is not in the runpod module bundled with the RunPod Serverless emulator"],
    ];
    for (const [code, said] of cases) {
      const handler = join(cwd, "handler.py");
      writeFileSync(handler, `${code}\n`);
      const emu = await startEmulator({ handler, cwd, minWorkers: 1 });
      const unhealthy = await nextEvent(emu, (e) => e.type === "worker" && e.state === "unhealthy");
      const detail = unhealthy.type === "worker" ? unhealthy.detail ?? "" : "";
      expect(detail, code).toContain(said);
      expect(detail, code).toContain(`\`pip install runpod\` in the handler's environment (${PYTHON}) gives the real SDK`);
      await emu.close();
    }
  });
});

describe("the sdk option", () => {
  it("runs your own runpod by default, saying it waits a second between jobs, and the bundled one ahead of it with sdk: bundled", async () => {
    // A stand-in for the official SDK, found first on PYTHONPATH; a fresh interpreter path, so the probe is not a cached one.
    const dir = scratchDir();
    mkdirSync(join(dir, "site", "runpod"), { recursive: true });
    writeFileSync(join(dir, "site", "runpod", "__init__.py"), '__version__ = "9.9.9"\nclass serverless:\n    def start(config):\n        raise SystemExit("the installed SDK ran")\n');
    const interpreter = join(dir, "python3");
    symlinkSync(PYTHON, interpreter);
    const env = { ...process.env, PYTHONPATH: join(dir, "site") };
    const handler = fixture("python/echo/handler.py");

    const own = await startEmulator({ handler, python: interpreter, env });
    expect(own.runtime.description).toMatch(/runpod 9\.9\.9 \(your environment; .*1 s .*sdk "bundled"/);
    await own.close();
    const bundled = await startEmulator({ handler, python: interpreter, env, sdk: "bundled" });
    expect(bundled.runtime.description).toContain('bundled runpod module (sdk "bundled", ahead of your runpod 9.9.9)');
    expect((await call(bundled, "POST", "/runsync", { input: { a: 1 } })).body).toMatchObject({ status: "COMPLETED", output: { a: 1 } });
  });
});
