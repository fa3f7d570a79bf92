// The start-up hook that points the SDK's state file (runpod 1.7.12 to 1.10.0) at the worker's private
// folder, run in a real interpreter with the emulator's site folder on PYTHONPATH, as a worker starts.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fixture } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

const SITE = fileURLToPath(new URL("../../src/workers/runtimes/python/site", import.meta.url));
const PYTHON = execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();

/** Runs Python code (`-c CODE`, or a script) in `cwd` as a worker's interpreter starts; returns what it printed as JSON. */
function run(cwd: string, args: string[], env: Record<string, string> = {}): any {
  const output = execFileSync(PYTHON, args, { cwd, env: { PATH: process.env.PATH, PYTHONPATH: SITE, ...env }, encoding: "utf8", timeout: 20_000 });
  return JSON.parse(output.trim().split("\n").at(-1) as string);
}

/** A project folder with the stand-in SDK of 1.7.12 to 1.10.0 in it. */
function project(): string {
  const dir = scratchDir();
  cpSync(dirname(fixture("python/sdk_state_file/handler.py")), dir, { recursive: true });
  return dir;
}

const REPORT = `
import inspect, json
from runpod.serverless.modules import worker_state as m
print(json.dumps({"dir": m.JobsProgress._STATE_DIR, "file": m.JobsProgress._STATE_FILE, "source": "class JobsProgress" in inspect.getsource(m), "origin": m.__spec__.origin}))`;

describe("the SDK's state file", () => {
  it("is pointed at RUNPOD_EMULATOR_STATE_DIR when the SDK's module loads; the module is otherwise its own", () => {
    const cwd = project();
    const state = join(scratchDir(), "state");
    expect(run(cwd, ["-c", REPORT], { RUNPOD_EMULATOR_STATE_DIR: state })).toEqual({
      dir: state,
      file: join(state, ".runpod_jobs.pkl"),
      source: true,
      origin: join(cwd, "runpod/serverless/modules/worker_state.py"),
    });
  });

  it("stays in the working folder without that variable, as outside the emulator", () => {
    const cwd = project();
    expect(run(cwd, ["-c", REPORT])).toMatchObject({ dir: cwd, file: join(cwd, ".runpod_jobs.pkl") });
  });

  it("is pointed there in a process the worker starts with multiprocessing's spawn, as a heartbeat may be", () => {
    const cwd = project();
    const state = join(scratchDir(), "state");
    const code = `
import json, multiprocessing
def report(queue):
    from runpod.serverless.modules.worker_state import JobsProgress
    queue.put(JobsProgress._STATE_FILE)
if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=report, args=(queue,))
    child.start()
    print(json.dumps({"child": queue.get(timeout=15)}))
    child.join()`;
    const script = join(cwd, "spawn_report.py");
    writeFileSync(script, code);
    expect(run(cwd, [script], { RUNPOD_EMULATOR_STATE_DIR: state })).toEqual({
      child: join(state, ".runpod_jobs.pkl"),
    });
  });

  it("leaves versions that keep no state file as they are", () => {
    const cwd = scratchDir();
    mkdirSync(join(cwd, "runpod/serverless/modules"), { recursive: true });
    for (const init of ["runpod", "runpod/serverless", "runpod/serverless/modules"]) writeFileSync(join(cwd, init, "__init__.py"), "");
    writeFileSync(join(cwd, "runpod/serverless/modules/worker_state.py"), "class JobsProgress(set):\n    _instance = None\n");
    const code = `import json
from runpod.serverless.modules.worker_state import JobsProgress
print(json.dumps(sorted(k for k in vars(JobsProgress) if k.startswith("_S"))))`;
    expect(run(cwd, ["-c", code], { RUNPOD_EMULATOR_STATE_DIR: join(cwd, "state") })).toEqual([]);
  });
});
