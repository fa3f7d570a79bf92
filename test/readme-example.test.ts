// app.test.ts — vitest, with the official JavaScript client
import runpodSdk from "runpod-sdk";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Emulator, createEmulator } from "runpod-serverless-emulator";

let emu: Emulator;
beforeAll(async () => {
  // A file path, "mock", or a function: it runs behind the same queue and protocol as a deployed worker.
  emu = await createEmulator({ handler: async (job) => ({ echo: job.input }), apiKey: "test-key" });
});
afterAll(() => emu.close());

it("gets a result", async () => {
  const endpoint = runpodSdk("test-key", { baseUrl: emu.baseUrl }).endpoint(emu.endpointId)!;
  const result = await endpoint.runSync({ input: { prompt: "hi" } });
  expect(result).toMatchObject({ status: "COMPLETED", output: { echo: { prompt: "hi" } } });
});
