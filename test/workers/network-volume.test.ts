// The network volume: a folder shared by the workers of the endpoints that name it, at /runpod-volume
// where the system allows a mount namespace, and always at RUNPOD_VOLUME_PATH; the namespace changes
// nothing else about the worker's process.
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { MOUNT_POINT, NetworkVolume, fstabPath } from "../../src/workers/network-volume.js";
import { WorkerProcess } from "../../src/workers/worker-process.js";
import { readyUrl, startCli } from "../helpers/cli.js";
import { call, fixture, nextEvent, startEmulator } from "../helpers/emulator.js";
import { workerProcesses } from "../helpers/global-setup.js";
import { scratchDir } from "../helpers/scratch.js";

const HANDLER = fixture("python/volume/handler.py");

/** An environment whose `unshare` refuses, as in a container that allows no user namespaces. */
function refusingUnshare(): Record<string, string> {
  const bin = scratchDir();
  writeFileSync(join(bin, "unshare"), "#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n");
  chmodSync(join(bin, "unshare"), 0o755);
  return { ...(process.env as Record<string, string>), PATH: `${bin}:${process.env.PATH}` };
}

/** Opens a volume, closed after the test. */
async function openVolume(...args: Parameters<typeof NetworkVolume.open>): Promise<NetworkVolume> {
  const volume = await NetworkVolume.open(...args);
  onTestFinished(() => volume.close());
  return volume;
}

/** Runs `script` with sh as a worker process inside the volume's namespace; resolves with its output and the process. */
async function runWrapped(volume: NetworkVolume, script: string, cwd: string): Promise<{ lines: string[]; worker: WorkerProcess }> {
  const lines: string[] = [];
  let ready!: () => void;
  const readied = new Promise<void>((resolve) => (ready = resolve));
  const env = process.env as Record<string, string>;
  const worker = new WorkerProcess(volume.wrap({ file: "/bin/sh", args: ["-c", script], env, cwd }), (_stream, line) => {
    lines.push(line);
    if (line === "ready") ready();
  });
  onTestFinished(() => void worker.kill());
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    readied,
    worker.exited.then(() => Promise.reject(new Error(`exited before "ready": ${lines.join("\n")}`))),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no "ready" within 20 s: ${lines.join("\n")}`)), 20_000))),
  ]).finally(() => clearTimeout(timer));
  return { lines, worker };
}

// What a worker reports of itself: its pid, group, user, the watchdog's fd 3, where it runs and what the volume holds.
const SELF_REPORT = [
  'echo "pid=$$"',
  'echo "pgid=$(cut -d" " -f5 /proc/$$/stat)"',
  'echo "uid=$(id -u)"',
  '[ -e /proc/$$/fd/3 ] && echo "fd3=open"',
  'echo "cwd=$(pwd)"',
  'echo "volume=$RUNPOD_VOLUME_PATH"',
  'echo "listing=$(ls "$RUNPOD_VOLUME_PATH")"',
  "trap 'echo terminated; exit 0' TERM",
  "echo ready",
  "while :; do sleep 0.05; done",
].join("\n");

describe("the network volume's namespace", () => {
  it("writes fstab paths with their spaces and backslashes escaped", () => {
    expect(fstabPath("/a b/c\\d\te")).toBe("/a\\040b/c\\134d\\011e");
  });

  it("runs a worker where the volume is at /runpod-volume, keeping its pid, group, fd 3, user, folder and signals", async (context) => {
    const dir = scratchDir();
    writeFileSync(join(dir, "model.bin"), "weights");
    const volume = await openVolume(dir, process.env as Record<string, string>);
    if (!volume.mounted) context.skip(`no mount namespace here: ${volume.unavailable}`);
    const cwd = scratchDir();
    const { lines, worker } = await runWrapped(volume, SELF_REPORT, cwd);
    expect(lines).toEqual(expect.arrayContaining([
      `pid=${worker.pid}`, `pgid=${worker.pid}`, `uid=${process.getuid?.()}`, "fd3=open", `cwd=${cwd}`, `volume=${MOUNT_POINT}`, "listing=model.bin",
    ]));
    expect(await worker.stop(5_000)).toMatchObject({ code: 0 });
    expect(lines).toContain("terminated");
  });

  it.runIf(process.getuid?.() === 0)("takes the unprivileged way too: a user namespace that maps the worker's user back", async (context) => {
    const volume = await openVolume(scratchDir(), process.env as Record<string, string>, { uid: 65534, gid: 65534 });
    if (!volume.mounted) context.skip(`no user namespaces here: ${volume.unavailable}`);
    const { lines } = await runWrapped(volume, SELF_REPORT, scratchDir());
    expect(lines).toEqual(expect.arrayContaining(["uid=65534", "fd3=open", `volume=${MOUNT_POINT}`]));
  });

  it("falls back to the folder's real path where namespaces are refused, and says why", async () => {
    const dir = scratchDir();
    const volume = await openVolume(dir, refusingUnshare());
    expect(volume.mounted).toBe(false);
    expect(volume.unavailable).toBe(process.platform === "linux" ? "unshare: unshare failed: Operation not permitted" : `${process.platform} has no mount namespaces`);
    const spec = { file: "/bin/sh", args: ["-c", "true"], env: { A: "1" }, cwd: "/" };
    expect(volume.wrap(spec)).toEqual({ ...spec, env: { A: "1", RUNPOD_VOLUME_PATH: dir } });
  });
});

describe("endpoints sharing a network volume", () => {
  it("refuses a volume that is not a folder, naming it", async () => {
    const file = join(scratchDir(), "not-a-folder");
    writeFileSync(file, "");
    await expect(startEmulator({ handler: HANDLER, volume: file })).rejects.toMatchObject({
      code: "ERR_BAD_OPTION",
      message: expect.stringMatching(new RegExp(`^volume ${file} cannot be used as a folder: EEXIST`)),
    });
  });


  it("lets two workers of one endpoint and a worker of another see the same files", async () => {
    const dir = scratchDir();
    const emu = await startEmulator({
      volume: dir,
      endpoints: [
        { id: "py", handler: HANDLER, minWorkers: 2, maxWorkers: 2 },
        { id: "node", handler: fixture("node/volume/handler.mjs") },
      ],
    });
    const mounted = emu.volumes.get(dir)?.mounted;
    const base = `${emu.baseUrl}/py`;
    // The first job waits on one worker for a file that the second job writes on the other.
    const { body: waiting } = await call(base, "POST", "/run", { input: { wait_for: "shared.txt" } });
    await nextEvent(emu, (e) => e.type === "status" && e.job.id === waiting.id && e.job.status === "IN_PROGRESS");
    const writer = await call(base, "POST", "/runsync", { input: { write: { name: "shared.txt", text: "from another worker" } } });
    const reader = await call(base, "POST", `/status-sync/${waiting.id}?wait=60000`);
    expect(reader.body).toMatchObject({ status: "COMPLETED", output: { text: "from another worker", listing: ["shared.txt"] } });
    expect(writer.body.workerId).not.toBe(reader.body.workerId);
    const other = await call(`${emu.baseUrl}/node`, "POST", "/runsync", { input: { read: "shared.txt" } });
    expect(other.body).toMatchObject({ status: "COMPLETED", output: { text: "from another worker", listing: ["shared.txt"] } });
    // Where the system allows it, at /runpod-volume as on the platform; else at the folder's own path.
    for (const output of [reader.body.output, other.body.output]) {
      expect(output.volume).toBe(mounted ? MOUNT_POINT : dir);
      expect(output.mount_point ?? output.mountPoint).toBe(mounted);
    }
    expect(readFileSync(join(dir, "shared.txt"), "utf8")).toBe("from another worker");
  });

  it("keeps what a job wrote across a restart of the emulator", async () => {
    const dir = scratchDir();
    const first = await startEmulator({ handler: HANDLER, volume: dir });
    const wrote = await call(first, "POST", "/runsync", { input: { write: { name: "kept.txt", text: "still here" } } });
    expect(wrote.body.status).toBe("COMPLETED");
    await first.close();
    const second = await startEmulator({ handler: HANDLER, volume: dir });
    expect((await call(second, "POST", "/runsync", { input: { read: "kept.txt" } })).body.output).toMatchObject({ text: "still here", listing: ["kept.txt"] });
  });

  it("gives workers the folder's real path where namespaces are refused", async () => {
    const dir = scratchDir();
    const emu = await startEmulator({ handler: HANDLER, volume: dir, env: refusingUnshare() });
    expect(emu.volumes.get(dir)?.unavailable).toBeDefined();
    const answer = await call(emu, "POST", "/runsync", { input: { write: { name: "a.txt", text: "x" }, read: "a.txt" } });
    expect(answer.body.output).toMatchObject({ volume: dir, mount_point: false, text: "x" });
  });

  it("leaves no worker in a namespace behind when the emulator is killed, and names the volume in the banner", async () => {
    const dir = scratchDir();
    const cli = startCli([HANDLER, "--volume", dir, "--min-workers", "1", "--port", "0", "--in-memory", "--no-watch"]);
    const url = await readyUrl(cli);
    const banner = await cli.line(/^ {2}volume {4}/);
    expect(banner).toMatch(/RUNPOD_VOLUME_PATH says where a worker finds it$/);
    await cli.line(/worker w\d+-\w+ ready in/);
    expect(workerProcesses(url)).toHaveLength(1);
    cli.child.kill("SIGKILL");
    await cli.exit();
    await expect.poll(() => workerProcesses(url), { timeout: 10_000, interval: 50 }).toEqual([]);
    expect(existsSync(dir)).toBe(true);
  });
});
