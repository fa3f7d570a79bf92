// A real browser calling the emulator from web pages on other loopback origins: Debian's chromium,
// driven by playwright-core (never a downloaded browser).
import { existsSync } from "node:fs";
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Emulator } from "../../src/index.js";
import { call, startEmulator } from "../helpers/emulator.js";

const CHROMIUM = "/usr/bin/chromium";
const missing = existsSync(CHROMIUM) ? "" : ` (skipped: ${CHROMIUM} is not installed; apt-get install -y chromium)`;
if (missing) console.warn(`browser tests${missing}`);

let browser: Browser;
const pages: Server[] = [];

beforeAll(async () => {
  if (missing) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
  for (const server of pages) server.closeAllConnections(), server.close();
});

/** Serves an empty page on `host` (a loopback address or name) and returns its URL: the origin a script runs in. */
async function pageOrigin(host: string): Promise<string> {
  const server = createServer((_req, res) => res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>app</title>"));
  pages.push(server);
  await new Promise<void>((resolve) => server.listen(0, host === "localhost" ? "127.0.0.1" : host, resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}/`;
}

/**
 * Runs `script` in a page loaded from `origin`, with the emulator's endpoint URL as its argument; also
 * returns the answers the browser received from the emulator, as "METHOD /route STATUS".
 */
async function inPage<T>(origin: string, emu: Emulator, script: (url: string) => Promise<T>): Promise<{ result: T; answers: string[] }> {
  const page = await browser.newPage();
  const answers: string[] = [];
  page.on("response", (response) => {
    const url = new URL(response.url());
    if (response.url().startsWith(emu.url)) answers.push(`${response.request().method()} ${url.pathname.slice(new URL(emu.url).pathname.length)} ${response.status()}`);
  });
  try {
    await page.goto(origin);
    return { result: await page.evaluate(script, emu.url), answers };
  } finally {
    await page.close();
  }
}

describe(`a web page calling the emulator${missing}`, () => {
  it.skipIf(missing)("runs a job from a page on another local origin: /run, then /status until it completes", async () => {
    const emu = await startEmulator({ mock: true });
    const { result } = await inPage(await pageOrigin("localhost"), emu, async (url) => {
      const run = await fetch(`${url}/run`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ input: { hi: 1 } }) });
      const { id } = await run.json();
      let status = await (await fetch(`${url}/status/${id}`)).json();
      // Bounded: the job is held by /status-sync until it ends.
      for (let i = 0; i < 3 && status.status !== "COMPLETED"; i++) status = await (await fetch(`${url}/status-sync/${id}?wait=10000`, { method: "POST" })).json();
      return status;
    });
    expect(result).toMatchObject({ status: "COMPLETED", output: { hi: 1 } });
  });

  it.skipIf(missing)("refuses a page from an origin the cors setting does not allow, creating no job", async () => {
    const emu = await startEmulator({ mock: true });
    const { result, answers } = await inPage(await pageOrigin("127.0.0.2"), emu, async (url) => {
      const body = JSON.stringify({ input: 1 });
      const preflighted = await fetch(`${url}/run`, { method: "POST", headers: { "Content-Type": "application/json" }, body }).then(
        () => "answered",
        (error: Error) => error.name,
      );
      // A "simple" request goes out without a preflight; its answer stays opaque to the page.
      await fetch(`${url}/run`, { method: "POST", mode: "no-cors", headers: { "Content-Type": "text/plain" }, body });
      return preflighted;
    });
    expect(result).toBe("TypeError");
    // The simple request did reach the emulator, and was refused.
    expect(answers).toContain("POST /run 403");
    expect((await call(emu, "GET", "/health")).body.jobs).toMatchObject({ inQueue: 0, inProgress: 0, completed: 0 });
  });
});
