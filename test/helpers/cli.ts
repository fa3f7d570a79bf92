import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";

const MAIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const running = new Set<ChildProcess>();

afterEach(() => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  running.clear();
});

/** A running `emulator` command (the built CLI), with its output collected line by line. */
export interface Cli {
  child: ChildProcess;
  /** Lines of stdout and stderr together, in arrival order. */
  output: string[];
  /** Lines of each stream alone. */
  stdout: string[];
  stderr: string[];
  /** Resolves with the first line matching `pattern` (seen already or to come); rejects on exit or hang. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code once the process ends. */
  exit(timeoutMs?: number): Promise<number | null>;
}

/**
 * Starts `emulator ARGS…` in `cwd` (or `command ARGS…`, a program that runs the emulator in turn); it is
 * killed after the test if still running.
 */
export function startCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; command?: string } = {}): Cli {
  const child = spawn(options.command ?? process.execPath, options.command ? args : [MAIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const output: string[] = [];
  const separate = { stdout: [] as string[], stderr: [] as string[] };
  const watchers = new Set<() => void>();
  for (const name of ["stdout", "stderr"] as const) {
    let partial = "";
    child[name]?.on("data", (data: Buffer) => {
      const parts = (partial + data.toString()).split("\n");
      partial = parts.pop() ?? "";
      output.push(...parts);
      separate[name].push(...parts);
      for (const watch of watchers) watch();
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output,
    ...separate,
    line(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const finish = (error?: Error, line?: string) => {
          clearTimeout(timer);
          watchers.delete(check);
          if (error) reject(error);
          else resolve(line as string);
        };
        const check = () => {
          const found = output.find((line) => pattern.test(line));
          if (found !== undefined) finish(undefined, found);
        };
        const timer = setTimeout(() => finish(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${output.join("\n")}`)), timeoutMs);
        void exited.then(() => setImmediate(() => finish(new Error(`exited before printing ${pattern}; output:\n${output.join("\n")}`))));
        watchers.add(check);
        check();
      });
    },
    exit(timeoutMs = 20_000) {
      return Promise.race([
        exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms`)), timeoutMs).unref()),
      ]);
    },
  };
}

/** The URL in the ready line. */
export async function readyUrl(cli: Cli): Promise<string> {
  const line = await cli.line(/^ready: http/);
  return line.slice("ready: ".length);
}
