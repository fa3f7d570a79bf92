// The handler's version leaves out a network volume inside the handler's folder: jobs write there.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HandlerVersion } from "../../src/watch/handler-version.js";
import { scratchDir } from "../helpers/scratch.js";

describe("the handler version", () => {
  it("changes with code, not with what is written in an excluded folder", () => {
    const root = scratchDir();
    const volume = join(root, "volume");
    mkdirSync(volume);
    writeFileSync(join(root, "handler.py"), "print(1)\n");
    writeFileSync(join(volume, "config.json"), "{}");
    const version = new HandlerVersion(root, [volume]);
    const before = version.current;
    writeFileSync(join(volume, "config.json"), '{"a": 1}');
    version.update([join(volume, "config.json")]);
    expect(version.current).toBe(before);
    expect(version.isExcluded(join(volume, "config.json"))).toBe(true);
    expect(version.isExcluded(`${volume}-other/x.json`)).toBe(false);
    writeFileSync(join(root, "handler.py"), "print(2)\n");
    version.update([join(root, "handler.py")]);
    expect(version.current).not.toBe(before);
    // Without the exclusion, the volume's files count as code.
    expect(new HandlerVersion(root).current).not.toBe(version.current);
  });

  it("excludes nothing for a folder that holds the handler's own", () => {
    const root = scratchDir();
    writeFileSync(join(root, "handler.py"), "print(1)\n");
    const version = new HandlerVersion(root, [root]);
    expect(version.isExcluded(join(root, "handler.py"))).toBe(false);
    expect(version.current).toBe(new HandlerVersion(root).current);
  });
});
