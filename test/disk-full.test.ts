import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { call, fixture, nextEvent, startEmulator } from "./helpers/emulator.js";
import { scratchDir } from "./helpers/scratch.js";

const BIG = "x".repeat(300_000);

describe("a full disk", () => {
  it("refuses new jobs with a 503 naming the database, keeps serving and finishing accepted ones, and recovers by itself", async () => {
    const path = join(scratchDir(), "jobs.db");
    const emu = await startEmulator({ handler: fixture("node/echo/handler.js"), db: path });
    const warnings: string[] = [];
    emu.on("warning", (event) => warnings.push(event.message));
    const db = emu.database;

    const { body: accepted } = await call(emu, "POST", "/run", { input: { text: BIG } });
    // From here the database cannot grow, as on a full disk; the job's result needs room.
    db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true })}`);
    const finished = await call(emu, "POST", `/status-sync/${accepted.id}?wait=20000`);
    expect(finished).toMatchObject({ status: 200, body: { status: "COMPLETED", output: { text: BIG } } });

    const refused = await call(emu, "POST", "/run", { input: { text: BIG } });
    expect(refused).toEqual({
      status: 503,
      headers: expect.anything(),
      body: { error: `the disk holding the job database ${path} is full: new jobs are refused until space is freed` },
    });
    expect((await call(emu, "GET", "/health")).body.jobs).toMatchObject({ completed: 1, inQueue: 0, inProgress: 0 });
    expect(warnings.filter((w) => w.includes("is full"))).toHaveLength(1);

    db.pragma("max_page_count = 1073741823");
    await nextEvent(emu, (e) => e.type === "warning" && e.message.startsWith("space returned"), 5000);
    const reader = new BetterSqlite3(path, { readonly: true });
    const row = reader.prepare("SELECT status FROM jobs WHERE id = ?").get(accepted.id);
    reader.close();
    expect(row).toEqual({ status: "COMPLETED" });
    const next = await call(emu, "POST", "/runsync", { input: { text: BIG } });
    expect(next.body).toMatchObject({ status: "COMPLETED", output: { text: BIG } });
  });
});
