import { readFileSync } from "node:fs";
import { execaSync } from "execa";
import { isRunning } from "../workers/process-alive.js";

/**
 * Calls `stop` once the process that started the emulator has exited, checked once a second. Under `npx`
 * that process is npm, which runs the command through `sh -c` and does not pass a SIGTERM on: the shell
 * lives as long as the emulator does, so npm itself — the shell's parent — is watched too.
 */
export function whenOrphaned(stop: () => void, env: NodeJS.ProcessEnv = process.env): void {
  const parent = process.ppid;
  const npm = env.npm_command === "exec" ? parentOf(parent) : undefined;
  const timer = setInterval(() => {
    if (process.ppid === parent && (npm === undefined || isRunning(npm))) return;
    clearInterval(timer);
    stop();
  }, 1000);
  timer.unref();
}

/** A process's parent: from /proc where there is one, else from `ps`. */
export function parentOf(pid: number): number | undefined {
  try {
    // The command name, in parentheses, may hold spaces: the fields that follow come after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    try {
      return Number(execaSync("ps", ["-o", "ppid=", "-p", String(pid)]).stdout.trim()) || undefined;
    } catch {
      return undefined;
    }
  }
}
