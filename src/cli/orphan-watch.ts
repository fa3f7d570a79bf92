import { readFileSync } from "node:fs";
import { execaSync } from "execa";
import { isRunning } from "../workers/process-alive.js";

/** The processes whose exit means that whoever started the emulator is gone. */
export interface Parents {
  parent: number;
  /** Under `npx`: npm, the parent of the shell that runs the command. */
  npm?: number;
}

/**
 * The processes that started this one, read as it starts: read later, they could already be gone (npx stopped
 * while the emulator was starting), and the emulator would watch whatever adopted it, forever. Under `npx`
 * the parent is a shell run by npm, which does not pass a SIGTERM on: that shell lives as long as the
 * emulator does, so npm itself is watched too.
 */
export function startingParents(env: NodeJS.ProcessEnv = process.env): Parents {
  const parent = process.ppid;
  const npm = env.npm_command === "exec" ? parentOf(parent) : undefined;
  // Process 1 (init, or a container's first process) is never watched: it outlives everything.
  return npm !== undefined && npm > 1 ? { parent, npm } : { parent };
}

/** Calls `stop` once one of `parents` has exited (before this call too), checked once a second. */
export function whenOrphaned(parents: Parents, stop: () => void): void {
  const { parent, npm } = parents;
  const timer = setInterval(() => {
    if (process.ppid === parent && (npm === undefined || isRunning(npm))) return;
    clearInterval(timer);
    stop();
  }, 1000);
  timer.unref();
}

/** A process's parent: from /proc where there is one, else from `ps`. */
export function parentOf(pid: number): number | undefined {
  let parent: number;
  try {
    // The command name, in parentheses, may hold spaces: the fields that follow come after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    try {
      parent = Number(execaSync("ps", ["-o", "ppid=", "-p", String(pid)]).stdout.trim());
    } catch {
      return undefined;
    }
  }
  return Number.isInteger(parent) && parent > 0 ? parent : undefined;
}
