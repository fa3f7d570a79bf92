// The official SDK from 1.7.12 to 1.10.0 keeps the jobs a worker holds in `.runpod_jobs.pkl` in its working
// folder, private to one container on the platform. Here every worker starts in the user's folder, so the
// emulator points that file at the worker's own private folder. CI cannot install the SDK: a stand-in with
// the same module path and names and the same bookkeeping (fixtures/python/sdk_state_file) runs instead,
// from a copy of its folder, as a user's project with its own `runpod` package.
import { cpSync, existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import type { EmulatorEvent } from "../../src/index.js";
import { call, fixture, nextEvent, startEmulator } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

/** A project folder holding the stand-in SDK and its handler. */
function project(): string {
  const dir = scratchDir();
  cpSync(dirname(fixture("python/sdk_state_file/handler.py")), dir, { recursive: true });
  return dir;
}

const startedOn = (id: string) => (e: EmulatorEvent) => e.type === "status" && e.job.id === id && e.job.status === "IN_PROGRESS";

async function finish(emu: { url: string }, id: string): Promise<any> {
  return (await call(emu.url, "POST", `/status-sync/${id}?wait=20000`)).body;
}

describe("an SDK that keeps its state file in the working folder (runpod 1.7.12 to 1.10.0)", () => {
  it("runs the next job on the successor of a worker killed with a job in flight", async () => {
    const cwd = project();
    const emu = await startEmulator({ handler: join(cwd, "handler.py"), cwd, maxWorkers: 1 });
    expect(emu.runtime.description).toMatch(/runpod 1\.9\.0-stand-in \(your environment[;)]/);
    const { body: first } = await call(emu, "POST", "/run", { input: { seconds: 60 } });
    const started = await nextEvent(emu, startedOn(first.id));
    const killed = started.type === "status" ? started.job.workerId : undefined;
    // This SDK does not poll job-stop: the emulator ends the cancelled job by killing its worker.
    await call(emu, "POST", `/cancel/${first.id}`);
    await nextEvent(emu, (e) => e.type === "worker" && e.workerId === killed && e.state === "exited");

    const { body: next } = await call(emu, "POST", "/run", { input: { seconds: 0 } });
    expect(await finish(emu, next.id)).toMatchObject({ status: "COMPLETED", output: { cwd } });
    expect(emu.history(next.id)?.job.workerId).not.toBe(killed);
  });

  it("lets workers started while another is busy take jobs, and leaves the project folder as it was", async () => {
    const cwd = project();
    const before = readdirSync(cwd).sort();
    const emu = await startEmulator({ handler: join(cwd, "handler.py"), cwd, maxWorkers: 3, queueDelay: 0 });
    const { body: busy } = await call(emu, "POST", "/run", { input: { seconds: 6 } });
    await nextEvent(emu, startedOn(busy.id));
    const burst = [];
    for (let n = 0; n < 2; n++) burst.push((await call(emu, "POST", "/run", { input: { seconds: 4 } })).body.id);

    const jobs = [];
    for (const id of [busy.id, ...burst]) jobs.push(await finish(emu, id));
    expect(jobs.map((job) => job.status)).toEqual(["COMPLETED", "COMPLETED", "COMPLETED"]);
    expect(new Set(jobs.map((job) => job.workerId)).size).toBe(3);
    for (const { output } of jobs) {
      // The handler's own folder is unchanged; the SDK's state lives beside the worker's temporary folder.
      expect(output.cwd).toBe(cwd);
      expect(output.state_file_exists).toBe(true);
      expect(dirname(dirname(output.state_file))).toBe(dirname(output.tmp));
      expect(dirname(output.tmp)).not.toContain(cwd);
    }
    expect(readdirSync(cwd).sort()).toEqual(before);

    await emu.close();
    for (const { output } of jobs) expect(existsSync(dirname(output.tmp))).toBe(false);
  });
});
