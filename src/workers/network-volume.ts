import { mkdirSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { userError } from "../errors.js";
import { createWorkerFolder, type WorkerFolder } from "./worker-folder.js";
import type { ProcessSpec } from "./worker-process.js";

/** Where the platform mounts an endpoint's network volume in each of its serverless workers. */
export const MOUNT_POINT = "/runpod-volume";

/**
 * Run by `sh` inside a fresh mount namespace (made by `unshare`): binds the volume and every top-level
 * entry of `/` onto a skeleton of `/` that has a `runpod-volume` folder, then execs the rest of its
 * arguments, an `unshare` that makes that skeleton the root and runs the worker's command in its working
 * folder. Every step is an exec, so the worker keeps its pid, its process group, its inherited fd 3 (the
 * watchdog's pipe, RUNPOD_EMULATOR_PARENT_FD) and its signals. `mount -a` binds the whole list in one
 * process; its status 64 means some entries failed (a top-level entry this user cannot bind), which
 * leaves those out rather than the worker.
 */
const SCRIPT = `fstab=$1 root=$2 volume=$3
shift 3
mount -n --bind "$volume" "$root${MOUNT_POINT}" || exit 1
mount -n -a -T "$fstab"
status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 64 ] || exit 1
exec unshare "$@"`;

/** How a worker's command is made to see the volume at /runpod-volume. */
interface Namespace {
  /** unshare's options for the namespace in which the mounts are made. */
  outer: string[];
  /** unshare's options after the mounts, before the skeleton becomes the root. */
  inner: string[];
}

/** An empty copy of `/`'s top level, and the fstab that binds the real entries onto it. */
interface Skeleton {
  folder: WorkerFolder;
  root: string;
  fstab: string;
}

/**
 * A folder shared by workers as their network volume, as the platform mounts one at /runpod-volume in
 * every worker of the endpoints that attach it; kept across restarts, since it is an ordinary folder.
 *
 * On Linux, where unprivileged user namespaces are allowed (or the emulator runs as root), each worker
 * process runs in a mount namespace of its own, whose root is a skeleton of the real one: every top-level
 * entry bound back in place, plus `runpod-volume`, the shared folder. Nothing is written outside the
 * emulator's temporary folder and the volume; the worker's user stays the same (a second user namespace
 * maps it back). Where namespaces are refused (macOS, containers without them, hardened kernels), workers
 * run as usual and find the folder through RUNPOD_VOLUME_PATH alone. Every worker gets RUNPOD_VOLUME_PATH,
 * the path at which it sees the volume, so code can read `os.environ.get("RUNPOD_VOLUME_PATH",
 * "/runpod-volume")` and run unchanged in both places.
 */
export class NetworkVolume {
  private constructor(
    /** The folder, absolute. */
    readonly path: string,
    /** How workers see it at /runpod-volume; undefined where the system does not allow it. */
    private readonly mount: { skeleton: Skeleton; namespace: Namespace } | undefined,
    /** Why workers cannot see the folder at /runpod-volume here; undefined when they can. */
    readonly unavailable?: string,
  ) {}

  /**
   * Makes the folder at `path` (absolute) if missing and finds out, by starting one command the way a
   * worker would be started, whether workers can see it at /runpod-volume. `env` is the workers'
   * environment (its PATH finds `unshare`); `user` is who workers are, this process's user unless a test
   * running as root asks for the unprivileged way.
   */
  static async open(path: string, env: Record<string, string>, user = { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1 }): Promise<NetworkVolume> {
    try {
      mkdirSync(path, { recursive: true });
    } catch (error) {
      throw userError("ERR_BAD_OPTION", `volume ${path} cannot be used as a folder: ${(error as Error).message}`, { cause: error });
    }
    if (process.platform !== "linux") return new NetworkVolume(path, undefined, `${process.platform} has no mount namespaces`);
    let skeleton: Skeleton;
    try {
      skeleton = makeSkeleton();
    } catch (error) {
      return new NetworkVolume(path, undefined, `the skeleton of / could not be made: ${(error as Error).message}`);
    }
    let refusal = "";
    for (const namespace of namespaces(user)) {
      const probe = await execa("unshare", command(namespace, skeleton, path, { file: "true", args: [], cwd: "/", env }), {
        env, extendEnv: false, timeout: 10_000, reject: false, stdin: "ignore",
      });
      if (probe.exitCode === 0) return new NetworkVolume(path, { skeleton, namespace });
      refusal ||= probe.stderr.trim().split("\n").at(-1) || (probe.shortMessage ?? `unshare exited with code ${probe.exitCode}`);
    }
    skeleton.folder.remove();
    return new NetworkVolume(path, undefined, refusal);
  }

  /** Whether worker processes see the folder at /runpod-volume. */
  get mounted(): boolean {
    return this.mount !== undefined;
  }

  /** A worker process's command, made to run where the volume is at /runpod-volume when it can be, with RUNPOD_VOLUME_PATH set. */
  wrap(spec: ProcessSpec): ProcessSpec {
    if (!this.mount) return { ...spec, env: { ...spec.env, ...this.environment() } };
    const env = { ...spec.env, RUNPOD_VOLUME_PATH: MOUNT_POINT };
    return { file: "unshare", args: command(this.mount.namespace, this.mount.skeleton, this.path, { ...spec, env }), env, cwd: spec.cwd };
  }

  /** The variables of a worker that runs without a namespace (a function handler, in this process): the real path. */
  environment(): Record<string, string> {
    return { RUNPOD_VOLUME_PATH: this.path };
  }

  /** Removes the skeleton of `/`; the volume itself stays. */
  close(): void {
    this.mount?.skeleton.folder.remove();
  }
}

/** The namespaces to try: as root, a mount namespace alone, then the unprivileged way, which a container may allow instead. */
function namespaces({ uid, gid }: { uid: number; gid: number }): Namespace[] {
  const unprivileged = { outer: ["--user", "--map-root-user", "--mount"], inner: ["--user", `--map-user=${uid}`, `--map-group=${gid}`] };
  return uid === 0 ? [{ outer: ["--mount"], inner: [] }, unprivileged] : [unprivileged];
}

/** unshare's arguments that run `spec` in its working folder, in a namespace where `volume` is at /runpod-volume. */
function command(namespace: Namespace, skeleton: Skeleton, volume: string, spec: ProcessSpec): string[] {
  return [
    ...namespace.outer, "--", "/bin/sh", "-c", SCRIPT, "sh", skeleton.fstab, skeleton.root, volume,
    ...namespace.inner, `--root=${skeleton.root}`, `--wd=${spec.cwd}`, "--", spec.file, ...spec.args,
  ];
}

/**
 * An empty copy of `/`'s top level in a folder of this emulator's (removed with it, or by the next emulator
 * if this one is killed): a folder for each folder, an empty file for each file, the same symbolic links,
 * and `runpod-volume`; and the fstab that binds each real entry onto its copy. Made once, shared by every
 * worker, since each binds onto it in its own namespace.
 */
function makeSkeleton(): Skeleton {
  const folder = createWorkerFolder("volume-root");
  try {
    const root = join(folder.path, "root");
    mkdirSync(root);
    const lines: string[] = [];
    for (const entry of readdirSync("/", { withFileTypes: true })) {
      const real = `/${entry.name}`;
      const copy = join(root, entry.name);
      if (real === MOUNT_POINT) continue;
      if (entry.isSymbolicLink()) symlinkSync(readlinkSync(real), copy);
      else if (entry.isDirectory()) {
        mkdirSync(copy);
        lines.push(`${fstabPath(real)} ${fstabPath(copy)} none rbind 0 0`);
      } else {
        writeFileSync(copy, "");
        lines.push(`${fstabPath(real)} ${fstabPath(copy)} none bind 0 0`);
      }
    }
    mkdirSync(join(root, MOUNT_POINT));
    const fstab = join(folder.path, "fstab");
    writeFileSync(fstab, `${lines.join("\n")}\n`);
    return { folder, root, fstab };
  } catch (error) {
    folder.remove();
    throw error;
  }
}

/** A path as fstab writes it: spaces, tabs, newlines and backslashes as octal escapes. */
export function fstabPath(path: string): string {
  return path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}
