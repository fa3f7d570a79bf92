// The README as a walkthrough: its first commands, then every example in order, each run as a reader
// pastes it (test/helpers/readme-walkthrough.ts), so that none can drift from what the emulator does.
// A block says how it runs by its language and an optional comment before it (test/helpers/readme-blocks.ts).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readmeBlocks } from "./helpers/readme-blocks.js";
import { Walkthrough } from "./helpers/readme-walkthrough.js";

const blocks = readmeBlocks(readFileSync(new URL("../README.md", import.meta.url), "utf8"));

describe("the README, run as a walkthrough", () => {
  let walkthrough: Walkthrough;
  beforeAll(() => {
    for (const tool of ["curl", "jq"]) {
      try {
        execFileSync(tool, ["--version"], { stdio: "ignore" });
      } catch {
        throw new Error(`the README's examples use ${tool}: install it (apt-get install curl jq; .ci/run does)`);
      }
    }
    walkthrough = new Walkthrough();
  });
  afterAll(() => walkthrough?.close());

  for (const block of blocks) {
    const name = `line ${block.line} (${block.kind}${block.serve ? ", serve" : ""}): ${block.code.split("\n")[0]}`;
    if (block.skip) {
      it.skip(`${name} — not run: ${block.skip}`, () => {});
    } else if (block.serve) {
      it(name, () => walkthrough.serve(block), 90_000);
    } else {
      it(name, async () => {
        const run = await walkthrough.run(block);
        const said = `exit code ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
        expect(run.code, said).toBe(block.exit);
        for (const text of block.expect) expect(run.stdout, said).toContain(text);
      }, 90_000);
    }
  }
});
