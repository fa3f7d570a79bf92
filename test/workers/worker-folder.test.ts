import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createWorkerFolder, removeFoldersOfDeadEmulators } from "../../src/workers/worker-folder.js";
import { scratchDir } from "../helpers/scratch.js";

describe("a worker's private folder", () => {
  it("holds a temporary folder and a state folder, private to this user, named after the process and worker", () => {
    const parent = scratchDir();
    const folder = createWorkerFolder("w1/..", parent);
    expect(folder.path.startsWith(join(parent, `runpod-emulator-${process.pid}-w1_..-`))).toBe(true);
    expect(folder.env).toEqual({ TMPDIR: join(folder.path, "tmp"), RUNPOD_EMULATOR_STATE_DIR: join(folder.path, "state") });
    for (const path of Object.values(folder.env)) expect(statSync(path).isDirectory()).toBe(true);
    expect(statSync(folder.path).mode & 0o777).toBe(0o700);
    expect(createWorkerFolder("w1/..", parent).path).not.toBe(folder.path);
  });

  it("goes to /tmp when the temporary folder's path leaves too little room for socket paths in it", () => {
    const parent = join(scratchDir(), "a-long-temporary-folder-as-macos-has-it");
    mkdirSync(parent);
    const folder = createWorkerFolder("w3", parent);
    try {
      expect(folder.path.startsWith(`/tmp/runpod-emulator-${process.pid}-w3-`)).toBe(true);
      expect(folder.env.TMPDIR.length).toBeLessThanOrEqual(72);
    } finally {
      folder.remove();
    }
  });

  it("is removed with whatever the worker left in it", () => {
    const folder = createWorkerFolder("w2", scratchDir());
    mkdirSync(join(folder.env.TMPDIR, "downloads"));
    writeFileSync(join(folder.env.TMPDIR, "downloads", "model.bin"), "x");
    writeFileSync(join(folder.env.RUNPOD_EMULATOR_STATE_DIR, ".runpod_jobs.pkl"), "x");
    folder.remove();
    expect(existsSync(folder.path)).toBe(false);
    expect(() => folder.remove()).not.toThrow();
  });

  it("of an emulator process that no longer exists is removed by the next one, and no other", () => {
    const parent = scratchDir();
    const gone = spawnSync("true").pid as number;
    for (const name of [`runpod-emulator-${gone}-w1-aaaaaa`, `runpod-emulator-${process.pid}-w1-bbbbbb`, "runpod-emulator-notes", "unrelated"]) {
      mkdirSync(join(parent, name, "tmp"), { recursive: true });
    }
    removeFoldersOfDeadEmulators(parent);
    expect(readdirSync(parent).sort()).toEqual([`runpod-emulator-${process.pid}-w1-bbbbbb`, "runpod-emulator-notes", "unrelated"]);
  });
});
