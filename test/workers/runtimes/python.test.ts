import { execFileSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { probePython } from "../../../src/workers/runtimes/python.js";
import { runtimeAsset } from "../../../src/workers/runtimes/runtime.js";

describe("probePython", () => {
  it("compiles the emulator's own Python files for the interpreter, even under PYTHONDONTWRITEBYTECODE", async () => {
    const python = execFileSync("python3", ["-c", "import sys; print(sys.executable)"]).toString().trim();
    const tag = execFileSync(python, ["-c", "import sys; print(sys.implementation.cache_tag)"]).toString().trim();
    const compiled = [
      join(runtimeAsset("python", "bundled"), "runpod", "serverless", "__pycache__", `worker.${tag}.pyc`),
      join(runtimeAsset("python", "site"), "__pycache__", `sitecustomize.${tag}.pyc`),
    ];
    for (const file of compiled) rmSync(file, { force: true });
    const probe = await probePython(python, process.cwd(), { ...process.env, PYTHONDONTWRITEBYTECODE: "1" });
    expect(probe.executable).toBe(python);
    for (const file of compiled) expect(existsSync(file), file).toBe(true);
  });
});
