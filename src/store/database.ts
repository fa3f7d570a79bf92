import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { userError } from "../errors.js";
import { isDiskFull } from "./disk-space.js";
import { migrations } from "./migrations.js";

export type Database = BetterSqlite3.Database;

/** Opens (creating if needed) the job database and brings its schema up to date. `path` null = in memory. */
export function openDatabase(path: string | null): Database {
  let db: Database;
  try {
    if (path) mkdirSync(dirname(path), { recursive: true });
    db = new BetterSqlite3(path ?? ":memory:");
  } catch (error) {
    throw userError("ERR_DATABASE", `cannot open the database ${path}: ${(error as Error).message}`);
  }
  try {
    db.pragma("journal_mode = WAL");
    // NORMAL in WAL mode survives a crash of the process (only a power loss may lose the last commits).
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    // Fewer, larger checkpoints: each one syncs the database file.
    db.pragma("wal_autocheckpoint = 4000");
    migrate(db);
  } catch (error) {
    db.close();
    if (!isDiskFull(error)) throw error;
    throw userError("ERR_DISK_FULL", `cannot open the database ${path}: the disk holding it is full`);
  }
  return db;
}

function migrate(db: Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > migrations.length) {
    throw userError(
      "ERR_DATABASE",
      `the database ${db.name} was written by a newer emulator (schema ${current}, this one knows ${migrations.length})`,
    );
  }
  for (let version = current; version < migrations.length; version++) {
    db.transaction(() => {
      db.exec(migrations[version]);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
