import { mkdirSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { type Server, connect, createServer } from "node:net";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { EventBus } from "../src/core/events.js";
import { Lifetimes } from "../src/core/lifetimes.js";
import { JobStates } from "../src/core/job-state.js";
import { systemClock } from "../src/core/clock.js";
import { RunningEmulator } from "../src/internal.js";
import type { EmulatorOptions } from "../src/options.js";
import { openDatabase } from "../src/store/database.js";
import { JobStore } from "../src/store/jobs.js";
import { call, startEmulator } from "./helpers/emulator.js";
import { scratchDir } from "./helpers/scratch.js";

/** Files this process holds open under `dir` (the database, its WAL and shared-memory files). */
function openFilesUnder(dir: string): string[] {
  return readdirSync("/proc/self/fd").flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return [];
    }
  });
}

function listening(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
const portOf = (server: Server) => (server.address() as { port: number }).port;

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = await listening();
  const port = portOf(server);
  await closeServer(server);
  return port;
}

/** Starts an emulator that must fail; closes it should it start after all. */
async function failingStart(options: EmulatorOptions): Promise<unknown> {
  try {
    const emu = await RunningEmulator.create({ mock: true, ...options });
    await emu.close();
  } catch (error) {
    return error;
  }
  throw new Error("the emulator started");
}

describe("starting an emulator", () => {
  it("closes the database when the port is in use, so the same file starts again", async () => {
    const dir = scratchDir();
    const db = join(dir, "emulator.db");
    const taken = await listening();
    onTestFinished(() => closeServer(taken));
    const error = await failingStart({ db, port: portOf(taken) });
    expect(error).toMatchObject({ code: "ERR_PORT_IN_USE", message: `port ${portOf(taken)} is in use; pass --port 0 or another port` });
    expect(openFilesUnder(dir)).toEqual([]);
    const emu = await startEmulator({ mock: true, db });
    expect((await runOne(emu)).status).toBe("COMPLETED");
  });

  it("releases the port and the database when something fails after it listens", async () => {
    const dir = scratchDir();
    const db = join(dir, "emulator.db");
    // The file that announces the running emulator cannot be written: a folder stands in its way.
    mkdirSync(`${db}.server.json`);
    const port = await freePort();
    const error = await failingStart({ db, port, minWorkers: 1 });
    expect(error).toMatchObject({ code: "EISDIR" });
    expect(openFilesUnder(dir)).toEqual([]);
    await closeServer(await listening(port));
    rmSync(`${db}.server.json`, { recursive: true });
    const emu = await startEmulator({ mock: true, db, port });
    expect(emu.port).toBe(port);
    expect((await runOne(emu)).status).toBe("COMPLETED");
  });

  it("recovers what an earlier run left before the server listens", async () => {
    const dir = scratchDir();
    const db = join(dir, "emulator.db");
    // An earlier run died with one job running and one queued.
    const earlier = openDatabase(db);
    const jobs = new JobStates("local", { run: 60_000, runsync: 60_000 }, new JobStore(earlier), new EventBus(), systemClock,
      new Lifetimes(systemClock, { executionTimeout: 600_000, ttl: 86_400_000 }, () => {}));
    const running = jobs.submit({ input: { n: 1 }, policy: {} }, "run");
    const queued = jobs.submit({ input: { n: 2 }, policy: {} }, "run");
    jobs.take(1, "w0", undefined);
    earlier.close();

    const port = await freePort();
    let probe: Promise<string> | undefined;
    const emu = await startEmulator({
      mock: true,
      db,
      port,
      onEvent: (event) => {
        // At the moment of recovery, a client trying to connect finds nobody listening yet.
        if (event.type === "warning" && event.jobId === running.id) probe ??= connectOutcome(port);
      },
    });
    expect(await probe).toBe("refused");
    for (const job of [running, queued]) {
      expect((await call(emu, "GET", `/status-sync/${job.id}?wait=20000`)).body).toMatchObject({ status: "COMPLETED", output: job.input });
    }
    expect((await call(emu, "GET", `/status/${running.id}`)).body.retries).toBe(1);
  });
});

function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED" ? "refused" : String(error.code)));
  });
}

async function runOne(emu: Emulator) {
  return (await call(emu, "POST", "/runsync", { input: { hello: 1 } })).body;
}
