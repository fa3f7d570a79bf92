// Written as an application's test would be: a fake endpoint from createEmulator(), called through the
// official RunPod JavaScript client.
import runpodSdk from "runpod-sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, type HandlerFunction, createEmulator } from "runpod-serverless-emulator";

const handler: HandlerFunction<{ words?: string[]; sleepMs?: number }> = (job, { signal }) => {
  const { words, sleepMs } = job.input;
  if (words) {
    return (async function* () {
      for (const word of words) yield word;
    })();
  }
  if (sleepMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => resolve("woke up"), sleepMs);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(signal.reason);
      });
    });
  }
  return { echo: job.input };
};

describe("an application's tests against the emulator", () => {
  let emu: Emulator;
  let endpoint: NonNullable<ReturnType<ReturnType<typeof runpodSdk>["endpoint"]>>;

  beforeAll(async () => {
    emu = await createEmulator({ handler, apiKey: "test-key" });
    endpoint = runpodSdk("test-key", { baseUrl: emu.baseUrl }).endpoint(emu.endpointId)!;
  });
  afterAll(() => emu.close());

  it("runSync returns the output", async () => {
    const result = await endpoint.runSync({ input: { prompt: "hi" } });
    expect(result).toMatchObject({ status: "COMPLETED", output: { echo: { prompt: "hi" } } });
  });

  it("run, then status until COMPLETED", async () => {
    const { id } = await endpoint.run({ input: { n: 1 } });
    const done = await endpoint.statusSync(id, 20_000);
    expect(done).toMatchObject({ id, status: "COMPLETED", output: { echo: { n: 1 } } });
    expect(await endpoint.status(id)).toMatchObject({ id, status: "COMPLETED" });
  });

  it("stream yields every chunk once, in order", async () => {
    const { id } = await endpoint.run({ input: { words: ["a", "b", "c"] } });
    const chunks = [];
    for await (const chunk of endpoint.stream(id)) chunks.push(chunk.output);
    expect(chunks).toEqual(["a", "b", "c"]);
  });

  it("cancel stops a running job", async () => {
    const { id } = await endpoint.run({ input: { sleepMs: 20_000 } });
    expect(await endpoint.cancel(id)).toMatchObject({ id, status: "CANCELLED" });
    expect(await endpoint.status(id)).toMatchObject({ status: "CANCELLED" });
  });

  it("health counts jobs and workers", async () => {
    const health = await endpoint.health();
    expect(health.jobs.completed).toBeGreaterThanOrEqual(3);
    expect(Object.keys(health.workers).sort()).toEqual(["idle", "initializing", "ready", "running", "throttled", "unhealthy"]);
  });
});
