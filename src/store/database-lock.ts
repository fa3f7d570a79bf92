import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { userError } from "../errors.js";
import { type Database, openDatabase } from "./database.js";
import { readServerInfo, removeServerInfo, writeServerInfo } from "./server-info.js";

/** The folder of the default database: the emulator's own, kept out of version control. */
const STATE_FOLDER = ".runpod-emulator";

/**
 * One emulator per database: two emulators on one file would both recover and hand out the same
 * queued jobs, and run them twice.
 *
 * The lock is SQLite's own, taken on a file beside the database (`emulator.db.lock`) by an exclusive
 * transaction that stays open while the emulator runs. Node has no flock(), and what a lock must do
 * here is die with its process, so that even a `kill -9` leaves nothing stale: the operating system
 * drops SQLite's fcntl() lock with the process, and a second process asking for it hears SQLITE_BUSY
 * at once. A pid file or a port file would outlive a killed emulator and need a staleness check that
 * two starting emulators could both pass; better-sqlite3 is already here. The database itself stays
 * unlocked, so `emulator jobs` reads it while the emulator runs.
 */
export class DatabaseLock {
  private constructor(private readonly connection: BetterSqlite3.Database) {}

  /**
   * Takes the lock of the database at `databasePath` (absolute), creating its folder, and announces
   * this process as its holder; a user error names the emulator that holds it, or what makes the
   * database unwritable.
   */
  static acquire(databasePath: string): DatabaseLock {
    prepareFolder(databasePath);
    let connection: BetterSqlite3.Database | undefined;
    try {
      connection = new BetterSqlite3(`${databasePath}.lock`, { timeout: 0 });
      // The journal in memory: an open transaction would otherwise leave a -journal file beside it.
      connection.pragma("journal_mode = MEMORY");
      connection.exec("BEGIN EXCLUSIVE");
    } catch (error) {
      connection?.close();
      if ((error as { code?: string }).code === "SQLITE_BUSY") throw inUse(databasePath);
      throw unwritable(databasePath, error);
    }
    try {
      writeServerInfo(databasePath, { pid: process.pid });
    } catch {
      // Only a courtesy to a second emulator's message; the emulator writes the file again once it listens.
    }
    return new DatabaseLock(connection);
  }

  /** Lets another emulator have the database. */
  release(): void {
    if (this.connection.open) this.connection.close();
  }
}

/**
 * Opens the database an emulator serves: a file is locked first, since recovering another emulator's
 * running jobs would run them twice; null is a database in memory, which needs no lock.
 */
export function openOwnDatabase(databasePath: string | null): { db: Database; lock?: DatabaseLock } {
  const lock = databasePath === null ? undefined : DatabaseLock.acquire(databasePath);
  try {
    return { db: openDatabase(databasePath), lock };
  } catch (error) {
    lock?.release();
    if (databasePath !== null) removeServerInfo(databasePath);
    throw error;
  }
}

/** Creates the database's folder (with a .gitignore in the emulator's own) and checks that it can be written. */
function prepareFolder(databasePath: string): void {
  const folder = dirname(databasePath);
  try {
    mkdirSync(folder, { recursive: true });
    if (basename(folder) === STATE_FOLDER && !existsSync(`${folder}/.gitignore`)) {
      writeFileSync(`${folder}/.gitignore`, "# The emulator's job database: local state, never committed.\n*\n");
    }
    // SQLite opens a read-only file for reading without a word, and fails at the first write: say it now.
    accessSync(folder, constants.W_OK);
    if (existsSync(databasePath)) accessSync(databasePath, constants.W_OK);
  } catch (error) {
    throw unwritable(databasePath, error);
  }
}

function inUse(databasePath: string): Error {
  const holder = readServerInfo(databasePath);
  const who = holder ? `pid ${holder.pid}${holder.url ? `, ${holder.url}` : ", still starting"}` : "another process";
  return userError(
    "ERR_DATABASE_IN_USE",
    `the database ${databasePath} is in use by another emulator (${who}); stop it, or pass another --db PATH, or --in-memory`,
  );
}

function unwritable(databasePath: string, error: unknown): Error {
  const { code, message } = error as NodeJS.ErrnoException;
  const reason = code === "EROFS" ? "it is on a read-only file system" : code === "EACCES" || code === "EPERM" ? "permission denied" : message;
  return userError(
    "ERR_DATABASE",
    `cannot write the database ${databasePath}: ${reason}; pass --db PATH to a writable place, or --in-memory`,
    { cause: error },
  );
}
