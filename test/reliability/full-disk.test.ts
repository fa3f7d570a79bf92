import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { startCli } from "../helpers/cli.js";
import { scratchDir } from "../helpers/scratch.js";
import { send, startEmulatorProcess } from "./emulator-process.js";
import { record } from "./figures.js";

const MAIN = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const handler = new URL("../../fixtures/node/echo/handler.js", import.meta.url).pathname;

/** Whether this machine lets an unprivileged user mount a tmpfs in a namespace of its own. */
const canMount = spawnSync("unshare", ["-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /tmp && true"], { stdio: "ignore" }).status === 0;

it.skipIf(!canMount)("on a small tmpfs that fills up: refuses new jobs with 503, keeps and finishes accepted ones, and recovers once space returns (skipped where unshare cannot mount a tmpfs)", async () => {
  const disk = join(scratchDir(), "disk");
  mkdirSync(disk);
  // The emulator runs in a mount namespace of its own, its database on a 4 MB tmpfs mostly taken by a filler.
  const script = `mount -t tmpfs -o size=4m tmpfs "$0" && head -c 3000k /dev/zero > "$0/filler" && exec "$@"`;
  const emu = await startEmulatorProcess(
    ["-rm", "sh", "-c", script, disk, process.execPath, MAIN, handler, "--db", join(disk, "jobs.db"), "--no-watch"],
    { command: "unshare" },
  );
  const input = { text: "x".repeat(50_000) };
  const acknowledged: string[] = [];
  let refusal: { status: number; body: any } | null = null;
  let requests = 0;
  for (let n = 0; n < 200 && !refusal; n++) {
    requests++;
    const answer = await send(`${emu.url}/run`, "POST", { input });
    if (answer?.status === 200) acknowledged.push(answer.body.id);
    else refusal = answer;
  }
  expect(refusal).toEqual({ status: 503, body: { error: `the disk holding the job database ${join(disk, "jobs.db")} is full: new jobs are refused until space is freed` } });
  expect(acknowledged.length).toBeGreaterThan(0);
  // Accepted jobs finish, their results kept in memory; reads go on.
  for (const id of acknowledged) {
    requests++;
    const status = await send(`${emu.url}/status-sync/${id}?wait=20000`, "POST");
    expect(status?.body).toMatchObject({ status: "COMPLETED", output: input });
  }
  expect((await send(`${emu.url}/health`))?.status).toBe(200);

  // Space returns: the filler goes (seen through the emulator's own view of its mounts).
  rmSync(`/proc/${emu.pid}/root${disk}/filler`);
  let accepted: { status: number; body: any } | null = null;
  for (let tries = 0; tries < 20 && accepted?.status !== 200; tries++) {
    requests++;
    accepted = await send(`${emu.url}/run`, "POST", { input: { small: true } });
    if (accepted?.status !== 200) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  expect(accepted?.status).toBe(200);
  for (const id of acknowledged) expect((await send(`${emu.url}/status/${id}`))?.body.status).toBe("COMPLETED");
  expect(emu.alive()).toBe(true);
  await emu.stop();
  record({ requests, acknowledged: acknowledged.length });
});

it.skipIf(!canMount)("refuses to start on a full disk in one line that says so (skipped where unshare cannot mount a tmpfs)", async () => {
  const disk = join(scratchDir(), "disk");
  mkdirSync(disk);
  const script = `mount -t tmpfs -o size=1m tmpfs "$0" && (head -c 2000k /dev/zero > "$0/filler" 2>/dev/null; true) && exec "$@"`;
  const cli = startCli(["-rm", "sh", "-c", script, disk, process.execPath, MAIN, handler, "--db", join(disk, "jobs.db"), "--no-watch", "--port", "0"], { command: "unshare" });
  expect(await cli.exit(30_000)).toBe(1);
  expect(cli.output).toEqual([`error: cannot open the database ${join(disk, "jobs.db")}: the disk holding it is full`]);
});
