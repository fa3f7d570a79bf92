import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import type { ReadmeBlock } from "./readme-blocks.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The port the README's examples talk to; each block's is replaced by the port of the emulator it means. */
const README_PORT = /:8000\b/;
/** Bounds that only detect a hang. */
const BLOCK_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

/** What a block printed, and how it ended. */
export interface BlockRun {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Runs the README's blocks in order, as a reader pastes them, with at most one emulator running — a
 * `serve` block stops the one before, as a reader stops it with Ctrl-C. Emulators listen on a free
 * port; the blocks' `:8000` becomes it.
 *
 * The blocks run in a scratch project that has the repository's files and this package installed, as
 * `npm install` of it would leave them (links to the repository): what the blocks write, the default
 * database included, stays out of the repository, and `npx emulator` finds the package's command in
 * node_modules/.bin. In the checkout itself npx would instead install the checkout into its cache and
 * run its `prepare` script, rebuilding dist/ under the other tests' feet. npm stays offline.
 */
export class Walkthrough {
  readonly cwd = mkdtempSync(join(tmpdir(), "emulator-readme-"));
  private server: { child: ChildProcess; output: string[]; port: number } | undefined;
  private readonly env = { ...process.env, EMULATOR_PORT: "0", NO_COLOR: "1", npm_config_offline: "true", npm_config_update_notifier: "false" };

  constructor() {
    const own = new Set([".git", ".runpod-emulator", "node_modules", "package.json", "package-lock.json"]);
    for (const entry of readdirSync(ROOT)) if (!own.has(entry)) symlinkSync(join(ROOT, entry), join(this.cwd, entry));
    writeFileSync(join(this.cwd, "package.json"), JSON.stringify({ name: "readme-walkthrough", private: true }));
    const modules = join(this.cwd, "node_modules");
    mkdirSync(join(modules, ".bin"), { recursive: true });
    for (const entry of readdirSync(join(ROOT, "node_modules"))) if (entry !== ".bin") symlinkSync(join(ROOT, "node_modules", entry), join(modules, entry));
    for (const entry of readdirSync(join(ROOT, "node_modules", ".bin"))) symlinkSync(join(ROOT, "node_modules", ".bin", entry), join(modules, ".bin", entry));
    symlinkSync(ROOT, join(modules, "runpod-serverless-emulator"));
    symlinkSync("../runpod-serverless-emulator/dist/cli/main.js", join(modules, ".bin", "emulator"));
  }

  /** Starts the emulator a `serve` block starts, once it says it is ready; stops the one before. */
  async serve(block: ReadmeBlock): Promise<void> {
    await this.stopServer();
    const child = spawn("bash", ["-e", "-o", "pipefail", "-c", block.code], { cwd: this.cwd, env: this.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const output: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ready line within ${BLOCK_TIMEOUT_MS} ms:\n${output.join("")}`)), BLOCK_TIMEOUT_MS);
      const look = (data: Buffer) => {
        output.push(data.toString());
        const ready = /^ready: (http\S+)$/m.exec(output.join(""));
        if (ready) {
          clearTimeout(timer);
          resolve(ready[1]);
        }
      };
      child.stdout?.on("data", look);
      child.stderr?.on("data", (data: Buffer) => output.push(data.toString()));
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`exited with code ${code} before it was ready:\n${output.join("")}`));
      });
    });
    this.server = { child, output, port: Number(new URL(url).port) };
  }

  /** Runs a block as its language says, against the running emulator. */
  async run(block: ReadmeBlock): Promise<BlockRun> {
    const code = this.onServerPort(block);
    switch (block.kind) {
      case "sh":
        return this.spawn("bash", ["-e", "-o", "pipefail", "-c", code]);
      case "js":
        return this.spawn(process.execPath, ["--input-type=module"], code);
      case "python":
        return this.spawn("python3", ["-"], code);
      case "ts": {
        const problems = typeProblems(code, block.line);
        return { stdout: "", stderr: problems.join("\n"), code: problems.length ? 1 : 0 };
      }
      case "json":
        JSON.parse(code);
        return { stdout: "", stderr: "", code: 0 };
    }
  }

  /** Stops the emulator and removes the folder. */
  async close(): Promise<void> {
    await this.stopServer();
    rmSync(this.cwd, { recursive: true, force: true });
  }

  private onServerPort(block: ReadmeBlock): string {
    if (!README_PORT.test(block.code)) return block.code;
    if (!this.server) throw new Error("the block talks to port 8000, but no block before it started an emulator (mark one with <!-- readme-test: serve -->)");
    return block.code.replaceAll(new RegExp(README_PORT, "g"), `:${this.server.port}`);
  }

  private spawn(file: string, args: string[], input?: string): Promise<BlockRun> {
    const child = spawn(file, args, { cwd: this.cwd, env: this.env, detached: true, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    child.stdin?.end(input);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (data: Buffer) => (stdout += data.toString()));
    child.stderr?.on("data", (data: Buffer) => (stderr += data.toString()));
    return new Promise((resolve) => {
      const timer = setTimeout(() => signalGroup(child, "SIGKILL"), BLOCK_TIMEOUT_MS);
      child.once("error", (error) => {
        clearTimeout(timer);
        resolve({ stdout, stderr: `${stderr}${error.message}`, code: null });
      });
      child.once("close", (code) => {
        clearTimeout(timer);
        // Whatever the block left running in its group goes with it.
        signalGroup(child, "SIGKILL");
        resolve({ stdout, stderr, code });
      });
    });
  }

  private async stopServer(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
    const exited = new Promise((resolve) => server.child.once("exit", resolve));
    signalGroup(server.child, "SIGTERM");
    const timer = setTimeout(() => signalGroup(server.child, "SIGKILL"), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** Type errors of a `ts` block, checked as a file at the repository's root against the built package. */
function typeProblems(code: string, line: number): string[] {
  const file = join(ROOT, `readme-block-${line}.ts`);
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  const options = { ...config?.options, noEmit: true, rootDir: undefined, outDir: undefined, declaration: false };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, ...rest) => (name === file ? ts.createSourceFile(name, code, ts.ScriptTarget.ES2022, true) : getSourceFile.call(host, name, ...rest));
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? code : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const where = diagnostic.file && diagnostic.start !== undefined ? `line ${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1}: ` : "";
    return `${where}${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`;
  });
}
