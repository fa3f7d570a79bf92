import { readFileSync, rmSync, writeFileSync } from "node:fs";

/** How a running emulator can be reached by commands that open its database (`emulator jobs replay`). */
export interface ServerInfo {
  pid: number;
  /** Absent while the emulator is starting: it holds the database but does not listen yet. */
  url?: string;
  apiKey?: string;
  /** The handler file each endpoint serves (absolute), by endpoint id. */
  handlers?: Record<string, string>;
  /** Every endpoint's id, in the order they were declared. */
  endpoints?: string[];
  /** The key of the route that tells a running worker's environment (`emulator shell`). */
  controlKey?: string;
  /** It is stopping: it lets go of the database within moments. */
  stopping?: boolean;
}

const pathFor = (databasePath: string) => `${databasePath}.server.json`;

/** Announces the emulator that serves `databasePath` (readable by the owner only: it may hold the API key). */
export function writeServerInfo(databasePath: string, info: ServerInfo): void {
  writeFileSync(pathFor(databasePath), JSON.stringify(info), { mode: 0o600 });
}

/** Tells whoever waits for the database that the emulator serving it is stopping. */
export function markStopping(databasePath: string): void {
  const info = readServerInfo(databasePath);
  if (info?.pid === process.pid) writeServerInfo(databasePath, { ...info, stopping: true });
}

export function removeServerInfo(databasePath: string): void {
  rmSync(pathFor(databasePath), { force: true });
}

/** The emulator serving `databasePath`, if one is running (a file left by a killed one is ignored). */
export function readServerInfo(databasePath: string): ServerInfo | undefined {
  let info: ServerInfo;
  try {
    info = JSON.parse(readFileSync(pathFor(databasePath), "utf8")) as ServerInfo;
  } catch {
    return undefined;
  }
  try {
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}
