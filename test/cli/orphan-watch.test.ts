import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parentOf, startingParents, whenOrphaned } from "../../src/cli/orphan-watch.js";

describe("parentOf", () => {
  it("names a process's parent, and nothing for a process that does not exist or has none", () => {
    expect(parentOf(process.pid)).toBe(process.ppid);
    expect(parentOf(2 ** 22 + 1)).toBeUndefined();
    // Process 1's parent is 0, which is no process: a watch on it would never end (kill(0, 0) always succeeds).
    expect(parentOf(1)).toBeUndefined();
  });
});

describe("startingParents", () => {
  it("watches npm above the shell under npx, and only the parent otherwise", () => {
    expect(startingParents({})).toEqual({ parent: process.ppid });
    const above = parentOf(process.ppid);
    expect(startingParents({ npm_command: "exec" })).toEqual(above !== undefined && above > 1 ? { parent: process.ppid, npm: above } : { parent: process.ppid });
  });
});

describe("whenOrphaned", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A pid that no process has any more. */
  const exitedPid = () => spawnSync(process.execPath, ["-e", ""]).pid as number;

  it("stops within a second once npm has exited, even before the watch began, and only then", () => {
    vi.useFakeTimers();
    const alive = vi.fn();
    whenOrphaned({ parent: process.ppid, npm: process.pid }, alive);
    const orphaned = vi.fn();
    whenOrphaned({ parent: process.ppid, npm: exitedPid() }, orphaned);
    vi.advanceTimersByTime(999);
    expect(orphaned).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(orphaned).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(5000);
    expect(orphaned).toHaveBeenCalledTimes(1);
    expect(alive).not.toHaveBeenCalled();
  });

  it("stops once the parent is no longer the one it started with", () => {
    vi.useFakeTimers();
    const stop = vi.fn();
    whenOrphaned({ parent: exitedPid() }, stop);
    vi.advanceTimersByTime(1000);
    expect(stop).toHaveBeenCalledTimes(1);
  });
});
