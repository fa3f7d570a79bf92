import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { call, runToEnd, startEmulator } from "../helpers/emulator.js";

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.closeAllConnections(), server.close();
});

/** A webhook receiver on loopback that answers with `answer(n)` for its n-th request (or never, for 0). */
async function receiver(answer: (n: number) => number) {
  const received: { body: any; at: number }[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => {
      received.push({ body: JSON.parse(text), at: Date.now() });
      waiters.splice(0).forEach((wake) => wake());
      const status = answer(received.length);
      if (status) res.writeHead(status).end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const count = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (received.length >= n ? resolve() : waiters.push(check));
      check();
    });
  return { url, received, count };
}

describe("webhooks", () => {
  it("posts the status object of COMPLETED and FAILED jobs", async () => {
    const hook = await receiver(() => 200);
    const emu = await startEmulator({ mock: true });
    const ok = await runToEnd(emu, { n: 1 }, { webhook: hook.url });
    const bad = await runToEnd(emu, { mock: { error: "nope" } }, { webhook: hook.url });
    await hook.count(2);
    expect(hook.received.map((r) => r.body)).toEqual([ok, bad]);
  });

  it("retries a failing receiver twice and records each attempt with the job", async () => {
    const hook = await receiver((n) => (n <= 2 ? 500 : 200));
    const emu = await startEmulator({ mock: true, webhookRetryDelay: 50 });
    const job = await runToEnd(emu, 1, { webhook: hook.url });
    await hook.count(3);
    expect(hook.received).toHaveLength(3);
    // The third answer is recorded once the emulator has read it.
    await expect.poll(() => emu.history(job.id)?.webhooks.length, { timeout: 5000 }).toBe(3);
    expect(emu.history(job.id)?.webhooks.map((d) => [d.attempt, d.status])).toEqual([[1, 500], [2, 500], [3, 200]]);
  });

  it("does not let a receiver that never answers slow other jobs", async () => {
    const hook = await receiver(() => 0);
    const emu = await startEmulator({ mock: true });
    await runToEnd(emu, 1, { webhook: hook.url });
    await hook.count(1);
    const next = await runToEnd(emu, 2);
    expect(next.status).toBe("COMPLETED");
    expect(hook.received).toHaveLength(1);
    expect((await call(emu, "GET", "/health")).body.jobs.completed).toBe(2);
  });
});
