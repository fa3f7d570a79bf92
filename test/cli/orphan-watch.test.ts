import { describe, expect, it } from "vitest";
import { parentOf } from "../../src/cli/orphan-watch.js";

describe("parentOf", () => {
  it("names a process's parent, and nothing for a process that does not exist", () => {
    expect(parentOf(process.pid)).toBe(process.ppid);
    expect(parentOf(2 ** 22 + 1)).toBeUndefined();
  });
});
