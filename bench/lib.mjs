// Shared pieces of the benchmarks: a keep-alive HTTP client, percentiles, and child processes that are
// always cleaned up.
import { spawn } from "node:child_process";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));
/** The build measured: this checkout, or another one's (BENCH_BUILD, see compare.mjs) with the same fixtures. */
export const build = process.env.BENCH_BUILD ? resolve(process.env.BENCH_BUILD) : root;
export const cli = join(build, "dist/cli/main.js");

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const children = new Set();
const scratch = [];

/** One HTTP request with a JSON body; resolves with { status, body } (parsed JSON or undefined). */
export function request(url, method = "GET", body) {
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: payload ? { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload) } : {} }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** p50 and p99 of a list of milliseconds. */
export function percentiles(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

/** Milliseconds since `start` (a process.hrtime.bigint()). */
export const since = (start) => Number(process.hrtime.bigint() - start) / 1e6;

/** Starts the emulator CLI; resolves once its ready line names the URL. `lines` sees every event it prints. */
export function startEmulator(args, { cwd = root, env = {}, lines } = {}) {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [cli, ...args, "--port", "0", "--log-format", "json"], {
    cwd, env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return new Promise((resolve, reject) => {
    let buffer = "";
    let ready = false;
    child.stdout.on("data", (data) => {
      buffer += data;
      const parts = buffer.split("\n");
      buffer = parts.pop();
      for (const line of parts) {
        // The ready line: `{"type":"ready","url":…}` with --log-format json (earlier builds: `ready: URL`).
        const url = ready ? undefined : line.startsWith("ready: ") ? line.slice(7) : line.startsWith('{"type":"ready"') ? JSON.parse(line).url : undefined;
        if (url) {
          ready = true;
          resolve({ url, child, readyMs: since(started), stop: () => stop(child) });
        } else if (lines && ready && line.startsWith("{")) {
          // Parsed only for a figure that reads them: the client's CPU is not the emulator's cost.
          lines(JSON.parse(line));
        }
      }
    });
    child.once("exit", (code) => reject(new Error(`emulator exited with ${code} before it was ready:\n${buffer}`)));
  });
}

/**
 * Starts another server than the CLI, cleaned up as the emulator is: a Node module's `source` (which
 * prints its URL as its first line), or `command` with `args`, ready when `ready()` names its URL (polled,
 * for at most a minute).
 */
export function startServer(source, { command = process.execPath, args = ["--input-type=module", "-e", source], env = process.env, ready } = {}) {
  const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "inherit"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const done = (url) => resolve({ url, child, stop: () => stop(child) });
    child.once("exit", (code) => reject(new Error(`${command} exited with ${code} before it was ready`)));
    if (ready) {
      child.stdout.resume();
      const poll = async () => {
        const url = await ready();
        if (url) done(url);
        else if (Date.now() - started > 60_000) reject(new Error(`${command} was not ready within a minute`));
        else setTimeout(poll, 200);
      };
      void poll();
    } else {
      let buffer = "";
      child.stdout.on("data", (data) => {
        buffer += data;
        if (buffer.includes("\n")) done(buffer.slice(0, buffer.indexOf("\n")).trim());
      });
    }
  });
}

/** SIGTERM, and a bounded wait for the exit. */
export function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Resident memory of a process in MB. */
export async function rssMB(pid) {
  const { readFileSync } = await import("node:fs");
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Math.round(Number(line.split(/\s+/)[1]) / 1024);
}

/** A temporary folder, removed at exit. */
export function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), "emulator-bench-"));
  scratch.push(dir);
  return dir;
}

// Interrupted or killed by a time limit: still leave nothing behind.
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    cleanUp();
    process.exit(1);
  });
}

/** Kills every child still running and removes the temporary folders. */
export function cleanUp() {
  for (const child of children) child.kill("SIGKILL");
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  agent.destroy();
}
