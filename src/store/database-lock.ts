import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import BetterSqlite3 from "better-sqlite3";
import { userError } from "../errors.js";
import { type Database, openDatabase } from "./database.js";
import { readServerInfo, removeServerInfo, writeServerInfo } from "./server-info.js";

/** The folder of the default database: the emulator's own, kept out of version control. */
const STATE_FOLDER = ".runpod-emulator";
/**
 * How long a start waits for an emulator that holds the database but is stopping (Ctrl-C, then the
 * same command again at once: the terminal's prompt is back before the old emulator's workers are).
 */
const STOPPING_HOLDER_WAIT_MS = 10_000;
const RETRY_MS = 50;

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
   * database unwritable. An emulator that holds it while stopping is waited for.
   */
  static async acquire(databasePath: string): Promise<DatabaseLock> {
    prepareFolder(databasePath);
    const deadline = Date.now() + STOPPING_HOLDER_WAIT_MS;
    let connection: BetterSqlite3.Database | undefined;
    while (!connection) {
      connection = tryLock(databasePath);
      if (connection) break;
      if (!readServerInfo(databasePath)?.stopping || Date.now() >= deadline) throw inUse(databasePath);
      await sleep(RETRY_MS);
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
export async function openOwnDatabase(databasePath: string | null): Promise<{ db: Database; lock?: DatabaseLock }> {
  const lock = databasePath === null ? undefined : await DatabaseLock.acquire(databasePath);
  try {
    return { db: openDatabase(databasePath), lock };
  } catch (error) {
    lock?.release();
    if (databasePath !== null) removeServerInfo(databasePath);
    throw error;
  }
}

/** SQLite's exclusive lock on the file beside the database, or undefined while another process holds it. */
function tryLock(databasePath: string): BetterSqlite3.Database | undefined {
  let connection: BetterSqlite3.Database | undefined;
  try {
    connection = new BetterSqlite3(`${databasePath}.lock`, { timeout: 0 });
    // The journal in memory: an open transaction would otherwise leave a -journal file beside it.
    connection.pragma("journal_mode = MEMORY");
    connection.exec("BEGIN EXCLUSIVE");
    return connection;
  } catch (error) {
    connection?.close();
    if ((error as { code?: string }).code === "SQLITE_BUSY") return undefined;
    throw unwritable(databasePath, error);
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
