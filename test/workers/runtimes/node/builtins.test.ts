// The worker runtime's built-in modules, with and without process.getBuiltinModule (Node before 20.16).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const builtins = fileURLToPath(new URL("../../../../src/workers/runtimes/node/builtins.mjs", import.meta.url));

/** What `builtin()` gives for each module, in a fresh process, as names of a few exports. */
function exportsSeen(withoutGetBuiltinModule: boolean): string {
  const script = `
    ${withoutGetBuiltinModule ? "delete process.getBuiltinModule;" : ""}
    const { builtin, loadBuiltins } = await import(${JSON.stringify(builtins)});
    await loadBuiltins();
    console.log([typeof builtin("node:net").connect, typeof builtin("node:fs").readSync, typeof builtin("node:url").pathToFileURL,
      typeof builtin("node:util").format, typeof builtin("node:async_hooks").AsyncLocalStorage, typeof builtin("node:worker_threads").Worker].join(" "));`;
  return execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }).trim();
}

describe("the worker runtime's built-in modules", () => {
  it("come from process.getBuiltinModule, and from imports on a runtime without it", () => {
    expect(exportsSeen(false)).toBe("function function function function function function");
    expect(exportsSeen(true)).toBe("function function function function function function");
  });
});
