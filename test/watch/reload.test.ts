import { appendFileSync, cpSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { call, fixture, nextEvent, runToEnd, startEmulator } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";


const reloaded = (e: { type: string }) => e.type === "reload";

describe("hot reload", () => {
  it("runs the next job on the edited code, Node and Python, without a restart", async () => {
    for (const [source, name, edit] of [
      ["node/echo/handler.js", "handler.js", (text: string) => text.replace(/return job\.input;?/, "return { edited: true };")],
      ["python/echo/handler.py", "handler.py", (text: string) => text.replace('return job["input"]', 'return {"edited": True}')],
    ] as const) {
      const dir = scratchDir();
      const handler = join(dir, name);
      cpSync(fixture(source), handler);
      const emu = await startEmulator({ handler, watch: true, reloadDebounce: 50 });
      expect((await runToEnd(emu, { a: 1 })).output).toEqual({ a: 1 });
      const reload = nextEvent(emu, reloaded);
      const edited = edit(readFileSync(handler, "utf8"));
      expect(edited).toContain("edited");
      writeFileSync(handler, edited);
      await reload;
      expect((await runToEnd(emu, { a: 1 })).output, source).toEqual({ edited: true });
      await emu.close();
    }
  });

  it("loses no job and runs none twice or on stale code while the handler is saved 10 times under load", async () => {
    const dir = scratchDir();
    const handler = join(dir, "handler.mjs");
    const counter = join(dir, "invocations.txt");
    writeFileSync(counter, "");
    // Saved as editors that write atomically do: a whole new file renamed over the old one.
    const write = (mark: number) => {
      writeFileSync(`${handler}.tmp`, `import { appendFileSync } from "node:fs";
export default async function handler(job) {
  appendFileSync(${JSON.stringify(counter)}, job.id + "\\n");
  await new Promise((resolve) => setTimeout(resolve, 5));
  return { mark: ${mark} };
}
`);
      renameSync(`${handler}.tmp`, handler);
    };
    write(0);
    const emu = await startEmulator({ handler, watch: true, reloadDebounce: 30, maxWorkers: 2, queueDelay: 0 });
    const markOf = new Map<string, number>([[emu.pool.handlerVersion!, 0]]);
    const stale: string[] = [];
    emu.events.on((e) => {
      if (e.type === "status" && e.job.status === "IN_PROGRESS" && e.job.handlerVersion !== emu.pool.handlerVersion) stale.push(e.job.id);
    });
    const ids: string[] = [];
    let submitting = true;
    const load = (async () => {
      while (submitting) ids.push((await call(emu, "POST", "/run", { input: {} })).body.id);
    })();
    for (let mark = 1; mark <= 10; mark++) {
      const reload = nextEvent(emu, reloaded);
      write(mark);
      await reload;
      markOf.set(emu.pool.handlerVersion!, mark);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    submitting = false;
    await load;
    const finals = [];
    for (const id of ids) finals.push((await call(emu, "GET", `/status-sync/${id}?wait=60000`)).body);
    expect(finals.every((f) => f.status === "COMPLETED")).toBe(true);
    expect(stale).toEqual([]);
    for (const final of finals) expect(final.output.mark).toBe(markOf.get(emu.history(final.id)!.job.handlerVersion!));
    const invocations = readFileSync(counter, "utf8").split("\n").filter(Boolean);
    expect(invocations.length).toBe(ids.length);
    expect(new Set(invocations).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThan(20);
  }, 90_000);

  it("reports a broken save as unhealthy, keeps jobs queued, and recovers on the next good save", async () => {
    const dir = scratchDir();
    const handler = join(dir, "handler.py");
    cpSync(fixture("python/echo/handler.py"), handler);
    const emu = await startEmulator({ handler, watch: true, reloadDebounce: 50 });
    const good = readFileSync(handler, "utf8");
    const unhealthy = nextEvent(emu, (e) => e.type === "worker" && e.state === "unhealthy");
    appendFileSync(handler, "\ndef broken(:\n");
    await nextEvent(emu, reloaded);
    const { body: run } = await call(emu, "POST", "/run", { input: { after: "fix" } });
    const event = await unhealthy;
    expect(event.type === "worker" && event.detail).toMatch(/SyntaxError/);
    expect((await call(emu, "GET", "/health")).body.workers.unhealthy).toBe(1);
    expect((await call(emu, "GET", `/status/${run.id}`)).body.status).toBe("IN_QUEUE");
    writeFileSync(handler, good);
    const { body } = await call(emu, "GET", `/status-sync/${run.id}?wait=30000`);
    expect(body).toMatchObject({ status: "COMPLETED", output: { after: "fix" } });
    expect((await call(emu, "GET", "/health")).body.workers.unhealthy).toBe(0);
  });
});
