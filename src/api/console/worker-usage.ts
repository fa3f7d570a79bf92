import type { WorkerInfo } from "../../core/worker-registry.js";
import { CpuMeter, processGroupUsage } from "../../workers/process-stats.js";

/** A worker's processes' use of the machine, as the console shows it. */
export interface WorkerUsage {
  /** CPU share since the previous reading (100 = one core busy); undefined at a worker's first reading. */
  cpuPercent?: number;
  /** CPU time its processes used, in seconds. */
  cpuSeconds: number;
  /** Resident memory of its processes, in bytes. */
  rssBytes: number;
  processes: number;
}

/**
 * Reads the CPU and memory of workers' process groups from /proc (each worker leads its own group), the
 * CPU share measured between one reading and the next, as `top` does. Nothing where /proc is missing.
 */
export class WorkerUsageMeter {
  private readonly cpu = new CpuMeter();

  /** Usage by worker id, for the workers that have a process; empty without /proc. */
  read(workers: readonly Pick<WorkerInfo, "id" | "pid">[], now: number): Map<string, WorkerUsage> {
    const usage = new Map<string, WorkerUsage>();
    const withPid = workers.filter((worker) => worker.pid !== undefined);
    const groups = processGroupUsage(withPid.map((worker) => worker.pid as number));
    if (!groups) return usage;
    for (const worker of withPid) {
      const group = groups.get(worker.pid as number);
      if (!group) continue;
      const share = this.cpu.read(worker.id, group.cpuSeconds, now);
      usage.set(worker.id, { ...(share === undefined ? {} : { cpuPercent: Math.round(share * 10) / 10 }), cpuSeconds: group.cpuSeconds, rssBytes: group.rssBytes, processes: group.processes });
    }
    this.cpu.retain(new Set(withPid.map((worker) => worker.id)));
    return usage;
  }
}
