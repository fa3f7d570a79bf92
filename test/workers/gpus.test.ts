// GPU types as the platform's GPU selection names them, matched against nvidia-smi's names, and the
// allocation that follows them.
import { describe, expect, it } from "vitest";
import { type Gpu, GpuAllocator, describeGpus, isGpuType } from "../../src/workers/gpus.js";

const gpu = (index: number, name: string): Gpu => ({ index, uuid: `GPU-${index}`, name, memory: "81559 MiB" });
const A100 = "NVIDIA A100-SXM4-80GB";
const H100 = "NVIDIA H100 80GB HBM3";

describe("GPU types", () => {
  it("match when every word of the type is a word of the name, case aside", () => {
    expect(isGpuType(A100, "A100")).toBe(true);
    expect(isGpuType(A100, "a100 80gb")).toBe(true);
    expect(isGpuType("NVIDIA A100 80GB PCIe", "A100 PCIe")).toBe(true);
    expect(isGpuType(H100, "H100 80GB")).toBe(true);
    expect(isGpuType(H100, "NVIDIA H100 80GB HBM3")).toBe(true);
    expect(isGpuType("NVIDIA GeForce RTX 4090", "RTX 4090")).toBe(true);
    // A word is a word: an L40 is not an L40S, nor an A10 an A100.
    expect(isGpuType("NVIDIA L40S", "L40")).toBe(false);
    expect(isGpuType(A100, "A10")).toBe(false);
    expect(isGpuType(H100, "A100")).toBe(false);
    expect(isGpuType(H100, " ")).toBe(false);
  });

  it("are listed by model with their indices", () => {
    expect(describeGpus([gpu(0, A100), gpu(1, H100), gpu(2, H100)])).toBe(`${A100} (GPU 0), ${H100} (GPUs 1, 2)`);
  });
});

describe("the GPU allocator", () => {
  const machine = [gpu(0, A100), gpu(1, H100), gpu(2, H100)];

  it("hands out only GPUs of the types asked for, in order of preference, then throttles", () => {
    const allocator = new GpuAllocator(machine, 1, undefined, ["H100", "A100"]);
    expect([allocator.allocate(), allocator.allocate(), allocator.allocate(), allocator.allocate()]).toEqual([[1], [2], [0], null]);
    allocator.release([2]);
    expect(allocator.allocate()).toEqual([2]);
    expect(allocator.typeProblem()).toBeUndefined();
  });

  it("gives a worker several GPUs of one model only, as one machine of the platform has", () => {
    const allocator = new GpuAllocator(machine, 2, undefined, ["NVIDIA"]);
    expect(allocator.allocate()).toEqual([1, 2]);
    expect(allocator.allocate()).toBeNull();
    // Without a type, any free GPUs, as before.
    expect(new GpuAllocator(machine, 2).allocate()).toEqual([0, 1]);
  });

  it("says which types were asked for and which GPUs exist when none fits", () => {
    const none = new GpuAllocator(machine, 1, undefined, ["L40S"]);
    expect(none.allocate()).toBeNull();
    expect(none.typeProblem()).toBe(`gpuType asks for L40S, and no GPU here is of that type; GPUs here: ${A100} (GPU 0), ${H100} (GPUs 1, 2)`);
    expect(none.typeWarning()).toMatch(/; its workers will be throttled$/);
    const tooFew = new GpuAllocator(machine, 2, undefined, ["A100"]);
    expect(tooFew.typeProblem()).toBe(`gpuType asks for A100, 2 of one model per worker, and only ${A100} (GPU 0) is; GPUs here: ${A100} (GPU 0), ${H100} (GPUs 1, 2)`);
  });

  it("shares the machine's free GPUs between endpoints", () => {
    const free = machine.map((g) => g.index);
    const h100s = new GpuAllocator(machine, 1, free, ["H100"]);
    const any = new GpuAllocator(machine, 1, free);
    expect([h100s.allocate(), any.allocate(), any.allocate(), h100s.allocate()]).toEqual([[1], [0], [2], null]);
  });

  it("runs workers without GPUs when there are none, saying that the type is not checked", () => {
    const allocator = new GpuAllocator([], 1, undefined, ["H100"]);
    expect(allocator.allocate()).toEqual([]);
    expect(allocator.environment([])).toEqual({});
    expect(allocator.typeProblem()).toBeUndefined();
    expect(allocator.typeWarning()).toBe("gpuType H100 is not checked: there are no GPUs here (no nvidia-smi, or --gpus none), so workers run without one");
  });
});
