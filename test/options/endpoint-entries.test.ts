import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EmulatorError } from "../../src/errors.js";
import { endpointSettings } from "../../src/options/endpoint-entries.js";
import { resolveOptions } from "../../src/options.js";

const refusal = (options: unknown, commandLine = false) => {
  try {
    resolveOptions(options, { commandLine });
  } catch (error) {
    expect(error).toBeInstanceOf(EmulatorError);
    return (error as EmulatorError).message;
  }
  throw new Error("accepted");
};

describe("endpoint entries", () => {
  it("gives each entry the top-level endpoint options as defaults, its own on top", () => {
    const settings = resolveOptions({
      maxWorkers: 5,
      idleTimeout: 9,
      cwd: "/srv",
      env: { PATH: "/bin", A: "top" },
      endpoints: [
        { id: "embed", handler: "embed/handler.py", idleTimeout: "2s" },
        { id: "api", type: "load-balancing", command: "python3 server.py", cwd: "api", env: { A: "api" }, requestTimeout: 3 },
      ],
    });
    const [embed, api] = endpointSettings(settings);
    expect(embed).toMatchObject({ endpointId: "embed", type: "queue", handler: "embed/handler.py", maxWorkers: 5, idleTimeout: 2_000, cwd: "/srv" });
    expect(api).toMatchObject({ endpointId: "api", type: "load-balancing", maxWorkers: 5, idleTimeout: 9_000, requestTimeout: 3_000, cwd: join("/srv", "api") });
    expect(api?.env).toEqual({ PATH: "/bin", A: "api" });
    expect(endpointSettings(resolveOptions({ mock: true }))).toHaveLength(1);
  });

  it("refuses bad entries with the entry and the option named", () => {
    expect(refusal({ endpoints: [{ handler: "h.py" }] })).toBe('endpoints entry 1 needs an "id": the {endpoint} of its URLs');
    expect(refusal({ endpoints: [{ id: "a", mock: true }, { id: "a", mock: true }] })).toBe('endpoints entry "a": the id "a" is used twice in endpoints');
    expect(refusal({ endpoints: [{ id: "a", maxWorkers: 0 }] })).toBe('endpoints entry "a": maxWorkers must be at least 1, got 0');
    expect(refusal({ endpoints: [{ id: "a", port: 1 }] })).toBe('endpoints entry "a": option port is a server option; set it once, at the top level');
    expect(refusal({ endpoints: [{ id: "a", maxWorker: 1 }] })).toBe('endpoints entry "a": unknown option "maxWorker"; did you mean "maxWorkers"?');
    expect(refusal({ endpoints: [{ id: "a", type: "load-balancing" }] })).toMatch(/^endpoints entry "a": a load-balancing endpoint needs a command/);
    expect(refusal({ endpoints: [{ id: "a", type: "load-balancing", command: "x", handler: "h.py" }] })).toBe('endpoints entry "a": option handler does not apply to a load-balancing endpoint');
    expect(refusal({ endpoints: [{ id: "a", handler: "h.py", command: "x" }] })).toMatch(/^endpoints entry "a": option command does not apply to a queue endpoint/);
    expect(refusal({ handler: "h.py", endpoints: [{ id: "a", mock: true }] })).toBe("option handler cannot be combined with endpoints: each entry of endpoints names its own");
    expect(refusal({ endpoints: [] })).toMatch(/^option endpoints must be a list of endpoint declarations/);
    expect(refusal({ endpoints: [{ id: "a", handler: "h.py", env: { A: 1 } }] })).toBe('endpoints entry "a": env.A must be text, got 1');
    expect(refusal({ endpoints: [{ id: "a", handler: "h.py", onEvent: () => {} }] })).toBe('endpoints entry "a": option onEvent is a server option; set it once, at the top level');
  });

  it("refuses in the config file what only code can give, but takes an entry's folder and environment", () => {
    expect(resolveOptions({ endpoints: [{ id: "a", handler: "h.py", cwd: "x", env: { A: "1" } }] }, { commandLine: true }).endpoints).toHaveLength(1);
    expect(refusal({ endpoints: [{ id: "a", handler: "h.py", clock: {} }] }, true)).toBe('endpoints entry "a": option clock is a server option; set it once, at the top level');
  });

  it("names a volume from the emulator's folder, so a top-level volume is one folder for entries with folders of their own", () => {
    const settings = resolveOptions({
      cwd: "/srv",
      volume: "./volume",
      workerMemory: "24GB",
      gpuType: "H100 80GB, A100",
      endpoints: [
        { id: "a", handler: "h.py", cwd: "a" },
        { id: "b", type: "load-balancing", command: "serve", cwd: "b", volume: "data/b", workerMemory: 1024 ** 3, gpuType: ["L40S"] },
      ],
    });
    const [a, b] = endpointSettings(settings);
    expect(a).toMatchObject({ cwd: "/srv/a", volume: "/srv/volume", workerMemory: 24 * 1024 ** 3, gpuType: ["H100 80GB", "A100"] });
    expect(b).toMatchObject({ cwd: "/srv/b", volume: "/srv/data/b", workerMemory: 1024 ** 3, gpuType: ["L40S"] });
    expect(refusal({ endpoints: [{ id: "a", handler: "h.py", workerMemory: "24g" }] })).toMatch(/^endpoints entry "a": workerMemory must be a size such as 512MB or 24GB/);
  });

  it("describes a single load-balancing endpoint at the top level", () => {
    expect(endpointSettings(resolveOptions({ type: "load-balancing", command: "serve" }))[0]).toMatchObject({ type: "load-balancing", command: "serve" });
    expect(refusal({ type: "load-balancing", command: "serve", queueDelay: 1 })).toBe("option queueDelay does not apply to a load-balancing endpoint");
  });
});
