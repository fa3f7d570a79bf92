import { describe, expect, it } from "vitest";
import { call, fixture, nextEvent, startEmulator } from "../helpers/emulator.js";

describe("output and results that are not UTF-8", () => {
  it("shows a Node handler's non-UTF-8 bytes as \\xNN in its job's log, and keeps a lone surrogate in its result faithfully", async () => {
    const emu = await startEmulator({ handler: fixture("node/non-utf8/handler.mjs") });
    const logged = nextEvent(emu, (e) => e.type === "log" && e.message.startsWith("caf"));
    const { body } = await call(emu, "POST", "/runsync", { input: {} });
    expect(body).toMatchObject({ status: "COMPLETED", output: { text: "lone \udc80 surrogate" } });
    expect(await logged).toMatchObject({ jobId: body.id, message: "caf\\xe9 in latin-1" });
    expect(emu.history(body.id)?.job.output).toEqual({ text: "lone \udc80 surrogate" });
  });

  it("shows a Python handler's non-UTF-8 bytes as \\xNN, and fails a result that UTF-8 cannot hold with a clear error", async () => {
    const emu = await startEmulator({ handler: fixture("python/non_utf8/handler.py") });
    const logged = nextEvent(emu, (e) => e.type === "log" && e.message.startsWith("caf"), 30_000);
    const { body } = await call(emu, "POST", "/runsync", { input: {} });
    expect(await logged).toMatchObject({ jobId: body.id, message: "caf\\xe9 in latin-1" });
    expect(body.status).toBe("FAILED");
    expect(JSON.parse(body.error)).toMatchObject({ error_type: "<class 'UnicodeEncodeError'>", error_message: expect.stringContaining("surrogates not allowed") });
  });
});
