import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isRunning } from "./process-alive.js";

/**
 * The private disk a container gives its worker on the platform, which workers of one endpoint here would
 * otherwise share: a temporary folder (TMPDIR) and a folder for the SDK's own bookkeeping
 * (RUNPOD_EMULATOR_STATE_DIR, used by the Python start-up hook). It lives under the OS temporary folder
 * (/tmp where that one's path is too long, as on macOS), never in the user's project, and goes when the
 * worker goes.
 */
export interface WorkerFolder {
  readonly path: string;
  /** The variables that point the worker at its folder. */
  readonly env: Record<string, string>;
  /** Removes the folder with whatever the worker left in it; never throws. */
  remove(): void;
}

const PREFIX = "runpod-emulator-";
const swept = new Set<string>();

/**
 * Unix socket paths hold 104 bytes on macOS, and a multiprocessing listener in TMPDIR adds 32 to it
 * (`/pymp-XXXXXXXX/listener-XXXXXXXX`): a worker's TMPDIR must stay shorter than this.
 */
const MAX_TMPDIR = 72;

/** A new private folder for worker `workerId` of this emulator process. */
export function createWorkerFolder(workerId: string, parent = tmpdir()): WorkerFolder {
  const name = `${PREFIX}${process.pid}-${workerId.replace(/[^\w.-]/g, "_")}-`;
  // The name gets 6 random characters, and the temporary folder is "/tmp" inside it.
  if (join(parent, name).length + 10 > MAX_TMPDIR && parent !== "/tmp" && existsSync("/tmp")) parent = "/tmp";
  sweepOnce(parent);
  // mkdtemp: a name no one can guess and occupy first, readable by this user only.
  const path = mkdtempSync(join(parent, name));
  const env = { TMPDIR: join(path, "tmp"), RUNPOD_EMULATOR_STATE_DIR: join(path, "state") };
  for (const folder of Object.values(env)) mkdirSync(folder);
  return {
    path,
    env,
    remove() {
      try {
        rmSync(path, { recursive: true, force: true, maxRetries: 2 });
      } catch {
        // Something the worker made unremovable stays in the temporary folder, which the OS cleans.
      }
    },
  };
}

/**
 * Removes dead emulators' worker folders from the folders this process's workers will use, ahead of its
 * first worker, whose start would otherwise wait for that.
 */
export function sweepWorkerFolders(): void {
  sweepOnce(tmpdir());
  if (existsSync("/tmp")) sweepOnce("/tmp");
}

function sweepOnce(parent: string): void {
  if (swept.has(parent)) return;
  swept.add(parent);
  removeFoldersOfDeadEmulators(parent);
}

/**
 * An emulator killed by SIGKILL cannot remove its workers' folders; the next one to start in any folder
 * does, for every emulator process that no longer exists.
 */
export function removeFoldersOfDeadEmulators(parent = tmpdir()): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  const emulatorPid = new RegExp(`^${PREFIX}(\\d+)-`);
  for (const name of names) {
    const pid = Number(emulatorPid.exec(name)?.[1]);
    if (!pid || isRunning(pid)) continue;
    try {
      rmSync(join(parent, name), { recursive: true, force: true });
    } catch {
      // Another user's, or in use after all: not ours to remove.
    }
  }
}
