import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temporary folder, removed after the test. */
export function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "emulator-test-"));
  dirs.push(dir);
  return dir;
}
