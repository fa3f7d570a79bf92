import { readdirSync } from "node:fs";
import { readProcFile, residentBytes } from "./process-stats.js";

/** One process group's memory at a sample. */
export interface MemoryReading {
  /**
   * Resident memory summed over its processes. Over the limit, pages that processes share (a forked
   * child's copy-on-write pages) are counted once, by each process's share of them.
   */
  usedBytes: number;
  /** Over its limit, shared pages counted once: a container would be killed out of memory now. */
  overLimit: boolean;
}

interface Group {
  pids: Set<number>;
  /** How much the resident sum over-counted shared pages at the last proportional reading; 0 below the limit. */
  overCount: number;
  overCountAt: number;
}

/** How often /proc is listed for processes that joined a watched group since the last listing. */
const LIST_EVERY_MS = 1000;
/** How often the over-count is measured again while a group stays above its limit by the resident sum alone. */
const RECOUNT_EVERY_MS = 1000;

/**
 * The memory of worker process groups, read from /proc, cheaply enough to run several times a second.
 *
 * A sample reads `/proc/PID/status` (about 20 µs) of each process known to be in a group. Which processes
 * those are is learnt by listing /proc once a second and reading the status of processes not seen before
 * (a process's group rarely changes; a sample drops one that left). A process a handler starts is thus
 * counted within about a second; its parent's allocations at once.
 *
 * The resident sum counts a page shared by several processes once per process: the official SDK forks its
 * heartbeat process after the handler's module has loaded, so a model loaded at import counts twice. A
 * container's memory limit counts each page once. So only when the sum passes the limit is the group
 * measured again by proportional set size (PSS, /proc/PID/smaps_rollup, which walks the page tables and
 * costs milliseconds), and the group is over its limit only if that measure is. While the sum stays above
 * the limit and the proportional measure below, the difference is remembered and measured again each
 * second or when the sum grows past it.
 *
 * A cgroup's memory.max would have the kernel itself enforce the limit, but needs a delegated cgroup,
 * which an unprivileged process rarely has (no systemd user session in containers and CI); /proc is
 * there on every Linux.
 */
export class GroupMemory {
  private readonly groups = new Map<number, Group>();
  /** The group of every process seen in a listing: a listing reads only the processes new since the last. */
  private readonly groupOf = new Map<number, number>();
  private listedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly procRoot = "/proc") {}

  /** Whether this system has a /proc to read (Linux); elsewhere memory is not measured. */
  static available(procRoot = "/proc"): boolean {
    return readProcFile(`${procRoot}/self/status`) !== undefined;
  }

  /**
   * Reads each group of `limits` (process group id → its limit in bytes, or undefined for none) at time
   * `now` (ms); groups no longer asked about are forgotten. A group with no process left has no reading.
   */
  sample(limits: ReadonlyMap<number, number | undefined>, now: number): Map<number, MemoryReading> {
    for (const pgid of this.groups.keys()) if (!limits.has(pgid)) this.groups.delete(pgid);
    const readings = new Map<number, MemoryReading>();
    if (limits.size === 0) return readings;
    for (const pgid of limits.keys()) {
      if (!this.groups.has(pgid)) this.groups.set(pgid, { pids: new Set([pgid]), overCount: 0, overCountAt: Number.NEGATIVE_INFINITY });
    }
    if (now - this.listedAt >= LIST_EVERY_MS) this.list(now);
    for (const [pgid, limit] of limits) {
      const group = this.groups.get(pgid) as Group;
      const resident = this.resident(pgid, group);
      if (resident.size > 0) readings.set(pgid, this.judge(group, resident, limit, now));
    }
    return readings;
  }

  /** Finds the processes of watched groups among those new to /proc since the last listing. */
  private list(now: number): void {
    let entries: string[];
    try {
      entries = readdirSync(this.procRoot);
    } catch {
      return;
    }
    this.listedAt = now;
    const seen = new Set<number>();
    for (const entry of entries) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      seen.add(pid);
      if (!this.groupOf.has(pid)) {
        const pgid = groupOf(readProcFile(`${this.procRoot}/${pid}/status`));
        if (pgid === undefined) continue;
        this.groupOf.set(pid, pgid);
      }
      this.groups.get(this.groupOf.get(pid) as number)?.pids.add(pid);
    }
    for (const pid of this.groupOf.keys()) if (!seen.has(pid)) this.groupOf.delete(pid);
  }

  /** The resident bytes of each live process of the group; those gone or moved to another group drop out. */
  private resident(pgid: number, group: Group): Map<number, number> {
    const resident = new Map<number, number>();
    for (const pid of group.pids) {
      const status = readProcFile(`${this.procRoot}/${pid}/status`);
      const now = groupOf(status);
      if (now !== pgid) {
        group.pids.delete(pid);
        if (now === undefined) this.groupOf.delete(pid);
        else this.groupOf.set(pid, now);
        continue;
      }
      // A zombie has ended and holds no memory; it leaves once its parent has waited for it.
      if (/^State:\s+Z/m.test(status as string)) continue;
      resident.set(pid, residentBytes(status));
    }
    return resident;
  }

  private judge(group: Group, resident: Map<number, number>, limit: number | undefined, now: number): MemoryReading {
    let sum = 0;
    for (const bytes of resident.values()) sum += bytes;
    if (limit === undefined || sum <= limit) {
      group.overCount = 0;
      return { usedBytes: sum, overLimit: false };
    }
    if (sum - group.overCount > limit || now - group.overCountAt >= RECOUNT_EVERY_MS) {
      group.overCount = Math.max(0, sum - this.proportional(resident));
      group.overCountAt = now;
    }
    const used = sum - group.overCount;
    return { usedBytes: used, overLimit: used > limit };
  }

  /** The group's proportional set size: shared pages counted once; a process without a reading counts its resident size. */
  private proportional(resident: Map<number, number>): number {
    let sum = 0;
    for (const [pid, bytes] of resident) {
      const kb = readProcFile(`${this.procRoot}/${pid}/smaps_rollup`)?.match(/^Pss:\s+(\d+)\s+kB/m)?.[1];
      sum += kb === undefined ? bytes : Number(kb) * 1024;
    }
    return sum;
  }
}

/** The process group of a /proc/PID/status (NSpgid, as this process's pid namespace sees it). */
function groupOf(status: string | undefined): number | undefined {
  const pgid = status?.match(/^NSpgid:\s+(\d+)/m)?.[1];
  return pgid === undefined ? undefined : Number(pgid);
}
