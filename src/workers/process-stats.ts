import { readFileSync, readdirSync } from "node:fs";

/** What one process group uses, summed over the processes in it now. */
export interface GroupUsage {
  processes: number;
  /** CPU time, user and system, of its processes and of the children they waited for, in seconds. */
  cpuSeconds: number;
  /** Resident memory, in bytes. */
  rssBytes: number;
}

/**
 * The kernel reports CPU time in USER_HZ ticks, which Linux fixes at 100 for /proc on every architecture
 * Node runs on; Node has no sysconf(_SC_CLK_TCK) to ask.
 */
const TICKS_PER_SECOND = 100;

/**
 * The usage of each of `pgids`, in one pass over `/proc/<pid>/stat` (a process's group is its 5th field);
 * groups with no process left are absent. Undefined where there is no `/proc` (macOS, Windows).
 */
export function processGroupUsage(pgids: Iterable<number>, procRoot = "/proc"): Map<number, GroupUsage> | undefined {
  const wanted = new Set(pgids);
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch {
    return undefined;
  }
  const usage = new Map<number, GroupUsage>();
  if (wanted.size === 0) return usage;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcFile(`${procRoot}/${entry}/stat`);
    const fields = stat === undefined ? undefined : statFields(stat);
    if (!fields) continue;
    const pgid = Number(fields[STAT.pgrp]);
    // A zombie has ended: its time went to its parent's waited-for children, its memory is gone.
    if (!wanted.has(pgid) || fields[STAT.state] === "Z") continue;
    const ticks = [STAT.utime, STAT.stime, STAT.cutime, STAT.cstime].reduce((sum, field) => sum + Number(fields[field]), 0);
    const group = usage.get(pgid) ?? { processes: 0, cpuSeconds: 0, rssBytes: 0 };
    group.processes++;
    group.cpuSeconds += ticks / TICKS_PER_SECOND;
    group.rssBytes += residentBytes(readProcFile(`${procRoot}/${entry}/status`));
    usage.set(pgid, group);
  }
  return usage;
}

/** Indexes of /proc/<pid>/stat fields after the command name (field 3, the state, is index 0). */
const STAT = { state: 0, pgrp: 2, utime: 11, stime: 12, cutime: 13, cstime: 14 } as const;

/** The fields after `pid (comm)`: the command name may itself hold spaces and parentheses. */
function statFields(stat: string): string[] | undefined {
  const end = stat.lastIndexOf(")");
  if (end < 0) return undefined;
  const fields = stat.slice(end + 2).trim().split(" ");
  return fields.length > STAT.cstime ? fields : undefined;
}

/** VmRSS of /proc/<pid>/status, which is in kB whatever the page size (stat's rss counts pages). */
export function residentBytes(status: string | undefined): number {
  const kb = status?.match(/^VmRSS:\s+(\d+)\s+kB/m)?.[1];
  return kb === undefined ? 0 : Number(kb) * 1024;
}

/** A file of /proc, or undefined when its process is gone or not ours to read. */
export function readProcFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    // The process ended between the listing and the read, or is not ours to read.
    return undefined;
  }
}

/**
 * CPU use as a share of one core over the time between two readings of the same key, as `top` shows it;
 * the first reading of a key has no share yet.
 */
export class CpuMeter {
  private readonly last = new Map<string, { cpuSeconds: number; at: number }>();

  /** The share (100 = one core busy) since the previous reading of `key`, or undefined for its first. */
  read(key: string, cpuSeconds: number, at: number): number | undefined {
    const previous = this.last.get(key);
    this.last.set(key, { cpuSeconds, at });
    if (!previous || at <= previous.at) return undefined;
    // A process that ended takes its time with it: the group's total may fall, never the share below 0.
    return Math.max(0, ((cpuSeconds - previous.cpuSeconds) * 1000 * 100) / (at - previous.at));
  }

  /** Drops the readings of keys not in `keep` (workers that are gone). */
  retain(keep: ReadonlySet<string>): void {
    for (const key of this.last.keys()) if (!keep.has(key)) this.last.delete(key);
  }
}
