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

/**
 * Whether a GPU's name is of a type, as the platform's GPU selection names types: each word of the type is
 * a word of the name, case aside, words being split at spaces, dashes and underscores. "A100" is
 * "NVIDIA A100-SXM4-80GB" and "NVIDIA A100 80GB PCIe"; "H100 80GB" is "NVIDIA H100 80GB HBM3"; "L40" is
 * not "NVIDIA L40S".
 */
export function isGpuType(name: string, type: string): boolean {
  const have = new Set(words(name));
  const wanted = words(type);
  return wanted.length > 0 && wanted.every((word) => have.has(word));
}

const words = (text: string) => text.toLowerCase().split(/[\s_-]+/).filter(Boolean);

/** GPUs as a list reads them: "NVIDIA A100-SXM4-80GB (GPU 0), NVIDIA H100 80GB HBM3 (GPUs 1, 2)". */
export function describeGpus(gpus: Gpu[]): string {
  const byName = new Map<string, number[]>();
  for (const gpu of gpus) byName.set(gpu.name, [...(byName.get(gpu.name) ?? []), gpu.index]);
  return [...byName].map(([name, indices]) => `${name} (GPU${indices.length > 1 ? "s" : ""} ${indices.join(", ")})`).join(", ");
}

/**
 * Hands each worker its own disjoint set of GPUs; with none configured, every worker runs without. With
 * GPU types, a worker gets GPUs of the first type in the list that has enough free, all of one model, as
 * a worker gets on the platform (one machine's GPUs).
 */
export class GpuAllocator {
  /** The GPUs a worker may get, in sets to choose from in order: all of them, or by type and model. */
  private readonly choices: Gpu[][];

  /**
   * `free` is the machine's list of free GPU indices, shared by the allocators of every endpoint of one
   * emulator, so that no two workers of any endpoints get the same GPU.
   */
  constructor(
    readonly gpus: Gpu[],
    private readonly perWorker: number,
    private readonly free: number[] = gpus.map((g) => g.index),
    /** The endpoint's gpuType, in order of preference; none: any GPU. */
    private readonly types: string[] = [],
  ) {
    this.choices = types.length === 0 ? [gpus] : types.flatMap((type) => byModel(gpus.filter((gpu) => isGpuType(gpu.name, type))));
  }

  /** Indices for a new worker: [] without GPUs, null when none are free (the worker is throttled). */
  allocate(): number[] | null {
    if (this.gpus.length === 0) return [];
    for (const choice of this.choices) {
      const mine = this.free.filter((index) => choice.some((g) => g.index === index)).slice(0, this.perWorker);
      if (mine.length < this.perWorker) continue;
      for (const index of mine) this.free.splice(this.free.indexOf(index), 1);
      return mine;
    }
    return null;
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

  /**
   * Why no worker can ever get GPUs here, when the GPU types asked for are not among the GPUs (or not
   * enough of one model for a worker); undefined when a worker could, once GPUs are free.
   */
  typeProblem(): string | undefined {
    if (this.types.length === 0 || this.gpus.length === 0 || this.choices.some((choice) => choice.length >= this.perWorker)) return undefined;
    const asked = `gpuType asks for ${this.types.join(", then ")}${this.perWorker > 1 ? `, ${this.perWorker} of one model per worker` : ""}`;
    const matching = [...new Set(this.choices.flat())];
    const found = matching.length === 0 ? "no GPU here is of that type" : `only ${describeGpus(matching)} ${matching.length === 1 ? "is" : "are"}`;
    return `${asked}, and ${found}; GPUs here: ${describeGpus(this.gpus)}`;
  }

  /** What to say at start about the GPU types: none here fits, or, without GPUs, they cannot be checked. */
  typeWarning(): string | undefined {
    if (this.types.length > 0 && this.gpus.length === 0) {
      return `gpuType ${this.types.join(", ")} is not checked: there are no GPUs here (no nvidia-smi, or --gpus none), so workers run without one`;
    }
    const problem = this.typeProblem();
    return problem && `${problem}; its workers will be throttled`;
  }
}

/** GPUs grouped by model name, in the order of their first index. */
function byModel(gpus: Gpu[]): Gpu[][] {
  const groups = new Map<string, Gpu[]>();
  for (const gpu of gpus) groups.set(gpu.name, [...(groups.get(gpu.name) ?? []), gpu]);
  return [...groups.values()];
}
