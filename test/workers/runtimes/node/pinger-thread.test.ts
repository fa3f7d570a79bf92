// The ping thread's modules are evaluated synchronously. A module graph holding a top-level await is
// evaluated asynchronously, and on Node 22 and 24 a thread terminated in that window aborts its whole
// process with V8's "Check failed: (location_) != nullptr": a worker stopped (closed, reloaded, scaled
// down) in the ms after its ping thread started died with a native stack trace in its job's log. The
// window is a few hundred µs wide, too narrow to hit on purpose in a test; the rule that keeps the
// worker out of it is checked here instead.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const RUNTIME = fileURLToPath(new URL("../../../../src/workers/runtimes/node/", import.meta.url));

/** The files `entry` imports, itself included, following relative static imports. */
function moduleGraph(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const { fileName } of ts.preProcessFile(readFileSync(file, "utf8"), true, false).importedFiles) {
      if (fileName.startsWith(".")) visit(join(dirname(file), fileName));
    }
  };
  visit(entry);
  return [...seen].map((file) => file.slice(RUNTIME.length));
}

/** The `await`s of `file` outside any function: `await x` and `for await`. */
function topLevelAwaits(file: string): number {
  const source = ts.createSourceFile(file, readFileSync(join(RUNTIME, file), "utf8"), ts.ScriptTarget.Latest);
  let count = 0;
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node)) return;
    if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier)) count++;
    ts.forEachChild(node, visit);
  };
  visit(source);
  return count;
}

describe("the ping thread's modules", () => {
  it("hold no top-level await, so that terminating the thread while they load cannot abort the worker", () => {
    const graph = moduleGraph(join(RUNTIME, "pinger-thread.mjs"));
    expect(graph).toEqual(expect.arrayContaining(["pinger-thread.mjs", "http-client.mjs", "pinger.mjs", "builtins.mjs"]));
    expect(Object.fromEntries(graph.map((file) => [file, topLevelAwaits(file)]))).toEqual(Object.fromEntries(graph.map((file) => [file, 0])));
    // The worker process's entry awaits at its top level (its main thread is never terminated so): the check sees it.
    expect(topLevelAwaits("bootstrap.mjs")).toBeGreaterThan(0);
  });
});
