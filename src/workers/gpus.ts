import { execa } from "execa";
import { userError } from "../errors.js";

export interface Gpu {
  index: number;
  uuid: string;
  name: string;
  memory: string;
}

/** The GPUs `nvidia-smi` lists; none when it is absent or fails (SPEC §3.5). */
export async function detectGpus(env: NodeJS.ProcessEnv): Promise<Gpu[]> {
  try {
    const { stdout } = await execa("nvidia-smi", ["--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader"], { env, extendEnv: false, timeout: 10_000, lines: true });
    return stdout
      .map((line) => line.split(",").map((field) => field.trim()))
      .filter((fields) => fields.length >= 4 && /^\d+$/.test(fields[0]))
      .map(([index, uuid, name, memory]) => ({ index: Number(index), uuid, name, memory }));
  } catch {
    return [];
  }
}

/** Applies `--gpus all|none|0,2` to the detected GPUs. */
export function selectGpus(detected: Gpu[], selection: string): Gpu[] {
  if (selection === "all") return detected;
  if (selection === "none") return [];
  const wanted = selection.split(",").map((part) => part.trim());
  return wanted.map((text) => {
    const gpu = /^\d+$/.test(text) ? detected.find((g) => g.index === Number(text)) : undefined;
    if (!gpu) {
      const known = detected.length ? detected.map((g) => g.index).join(", ") : "none detected";
      throw userError("ERR_BAD_OPTION", `--gpus ${selection}: there is no GPU ${text} (GPUs: ${known})`);
    }
    return gpu;
  });
}

/** Hands each worker its own disjoint set of GPUs; with none configured, every worker runs without. */
export class GpuAllocator {
  /**
   * `free` is the machine's list of free GPU indices, shared by the allocators of every endpoint of one
   * emulator, so that no two workers of any endpoints get the same GPU.
   */
  constructor(
    readonly gpus: Gpu[],
    private readonly perWorker: number,
    private readonly free: number[] = gpus.map((g) => g.index),
  ) {}

  /** Indices for a new worker: [] without GPUs, null when none are free (the worker is throttled). */
  allocate(): number[] | null {
    if (this.gpus.length === 0) return [];
    const mine = this.free.filter((index) => this.gpus.some((g) => g.index === index)).slice(0, this.perWorker);
    if (mine.length < this.perWorker) return null;
    for (const index of mine) this.free.splice(this.free.indexOf(index), 1);
    return mine;
  }

  release(indices: number[]): void {
    for (const index of indices) if (!this.free.includes(index)) this.free.push(index);
    this.free.sort((a, b) => a - b);
  }

  /** The variables that confine a worker to its GPUs; nothing when GPUs are not in play. */
  environment(indices: number[]): Record<string, string> {
    if (this.gpus.length === 0) return {};
    const list = indices.join(",");
    return { CUDA_VISIBLE_DEVICES: list, NVIDIA_VISIBLE_DEVICES: list, RUNPOD_GPU_COUNT: String(indices.length) };
  }
}
