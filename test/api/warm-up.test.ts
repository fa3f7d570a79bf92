// The requests sent through the app at start-up leave nothing behind: no job, no counted request.
import { describe, expect, it } from "vitest";
import { call, startEmulator } from "../helpers/emulator.js";

describe("the start-up warm-up", () => {
  it.each([["without an API key", undefined], ["with an API key", "KEY"]])("leaves no job and no trace %s", async (_, apiKey) => {
    const emu = await startEmulator({ mock: true, apiKey });
    const auth = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
    const health = await call(emu, "GET", "/health", undefined, auth);
    expect(health.body.jobs).toEqual({ completed: 0, failed: 0, inProgress: 0, inQueue: 0, retried: 0 });
    // The first real job is the endpoint's first.
    const run = await call(emu, "POST", "/runsync", { input: { n: 1 } }, auth);
    expect(run.body).toMatchObject({ status: "COMPLETED" });
    expect((await call(emu, "GET", "/health", undefined, auth)).body.jobs).toMatchObject({ completed: 1, failed: 0 });
  });
});
