import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { DatabaseLock, openOwnDatabase } from "../../src/store/database-lock.js";
import { markStopping, writeServerInfo } from "../../src/store/server-info.js";
import { readyUrl, startCli } from "../helpers/cli.js";
import { call, startEmulator } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

const MAIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

/** Takes the lock, and gives it back after the test. */
async function acquire(path: string): Promise<DatabaseLock> {
  const lock = await DatabaseLock.acquire(path);
  onTestFinished(() => lock.release());
  return lock;
}

describe("one emulator per database", () => {
  it("refuses a second holder naming the first, also within one process, until the first lets go", async () => {
    const path = join(scratchDir(), "jobs.db");
    const first = await acquire(path);
    await expect(DatabaseLock.acquire(path)).rejects.toThrow(
      `the database ${path} is in use by another emulator (pid ${process.pid}, still starting); stop it, or pass another --db PATH, or --in-memory`,
    );
    writeServerInfo(path, { pid: process.pid, url: "http://127.0.0.1:4321/v2/local" });
    await expect(DatabaseLock.acquire(path)).rejects.toThrow(expect.objectContaining({ code: "ERR_DATABASE_IN_USE", message: expect.stringContaining(`(pid ${process.pid}, http://127.0.0.1:4321/v2/local)`) }));
    first.release();
    (await acquire(path)).release();
  });

  it("waits for a holder that is stopping, and takes the database once it lets go", async () => {
    const path = join(scratchDir(), "jobs.db");
    const first = await acquire(path);
    writeServerInfo(path, { pid: process.pid, url: "http://127.0.0.1:4321/v2/local" });
    markStopping(path);
    let taken = false;
    const second = DatabaseLock.acquire(path).then((lock) => {
      taken = true;
      return lock;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(taken).toBe(false);
    first.release();
    (await second).release();
    expect(taken).toBe(true);
  });

  it("keeps the emulator's own folder out of git, and leaves other folders alone", async () => {
    const project = scratchDir();
    const { db, lock } = await openOwnDatabase(join(project, ".runpod-emulator", "emulator.db"));
    db.close();
    lock?.release();
    expect(readFileSync(join(project, ".runpod-emulator", ".gitignore"), "utf8")).toMatch(/^\*$/m);
    await acquire(join(project, "data", "jobs.db"));
    expect(readdirSync(join(project, "data"))).not.toContain(".gitignore");
  });

  it("lets a second emulator start after the first was killed with SIGKILL", async () => {
    const db = join(scratchDir(), "jobs.db");
    const first = startCli(["--mock", "--port", "0", "--db", db]);
    await readyUrl(first);
    first.child.kill("SIGKILL");
    await first.exit();
    const second = startCli(["--mock", "--port", "0", "--db", db]);
    const url = await readyUrl(second);
    expect((await call(url, "POST", "/runsync", { input: 1 })).body).toMatchObject({ status: "COMPLETED", output: 1 });
    second.child.kill("SIGTERM");
    expect(await second.exit()).toBe(0);
  });

  it("refuses a second emulator on the database in one line naming the first; the first keeps its server file, and the history stays readable", async () => {
    const db = join(scratchDir(), "jobs.db");
    const first = startCli(["--mock", "--port", "0", "--db", db]);
    const url = await readyUrl(first);
    const { body: job } = await call(url, "POST", "/runsync", { input: { n: 1 } });
    const second = startCli(["--mock", "--port", "0", "--db", db]);
    expect(await second.exit()).toBe(1);
    expect(second.output.filter(Boolean)).toEqual([
      `error: the database ${db} is in use by another emulator (pid ${first.child.pid}, ${url}); stop it, or pass another --db PATH, or --in-memory`,
    ]);
    expect(JSON.parse(readFileSync(`${db}.server.json`, "utf8"))).toMatchObject({ pid: first.child.pid, url });
    // createEmulator() says the same, with a code.
    await expect(startEmulator({ mock: true, db })).rejects.toMatchObject({ code: "ERR_DATABASE_IN_USE" });
    const jobs = startCli(["jobs", "show", job.id, "--db", db]);
    expect(await jobs.exit()).toBe(0);
    expect(jobs.output[0]).toBe(`job ${job.id}  COMPLETED`);
    first.child.kill("SIGTERM");
    expect(await first.exit()).toBe(0);
    expect(existsSync(`${db}.server.json`)).toBe(false);
  });

  it("says in one line that a database it cannot write is read-only, rather than failing with a stack", async (context) => {
    const dir = scratchDir();
    const db = join(dir, "jobs.db");
    const made = await startEmulator({ mock: true, db });
    await made.close();
    let cli: ReturnType<typeof startCli>;
    let file = db;
    let reason: string;
    if (process.getuid?.() !== 0) {
      // An unprivileged user cannot write a file without write permission.
      chmodSync(db, 0o444);
      onTestFinished(() => chmodSync(db, 0o644));
      cli = startCli(["--mock", "--port", "0", "--db", db]);
      reason = "permission denied";
    } else {
      // Root writes any file, but not on a read-only mount: one made in a user namespace, when allowed.
      try {
        execFileSync("unshare", ["-rm", "true"], { stdio: "ignore" });
      } catch {
        context.skip("running as root without user namespaces: no read-only mount to try");
      }
      const mount = join(dir, "ro");
      file = join(mount, "jobs.db");
      const script = `mkdir -p "$1" && mount -t tmpfs tmpfs "$1" && cp "$2" "$1/" && mount -o remount,ro "$1" && exec "$3" "$4" --mock --port 0 --db "$1/jobs.db"`;
      cli = startCli(["-rm", "sh", "-c", script, "sh", mount, db, process.execPath, MAIN], { command: "unshare" });
      reason = "it is on a read-only file system";
    }
    expect(await cli.exit()).toBe(1);
    expect(cli.output.filter(Boolean)).toEqual([`error: cannot write the database ${file}: ${reason}; pass --db PATH to a writable place, or --in-memory`]);
  });
});
