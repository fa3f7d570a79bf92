// The web console in a real browser (Debian's chromium, driven by playwright-core): it shows a Python
// handler's endpoint, workers and jobs live, reads a failure, acts on jobs through the client API, and
// loads nothing from anywhere but the emulator. Screenshots of each page go to test-output/console/.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContextOptions, type Page, chromium } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningEmulator } from "../../src/internal.js";
import { call, fixture, startEmulator } from "../helpers/emulator.js";
import { scratchDir } from "../helpers/scratch.js";

const CHROMIUM = "/usr/bin/chromium";
const missing = existsSync(CHROMIUM) ? "" : ` (skipped: ${CHROMIUM} is not installed; apt-get install -y chromium)`;
if (missing) console.warn(`browser tests${missing}`);

const SHOTS = fileURLToPath(new URL("../../test-output/console", import.meta.url));
/** Bounds that only catch a hang: Python workers start in well under a second here. */
const LIVE_MS = 20_000;

let browser: Browser;
/** Per page opened: requests to another origin, and script errors. Checked after each test. */
const watched: { page: Page; foreign: string[]; errors: string[] }[] = [];

beforeAll(async () => {
  if (missing) return;
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  const pages = watched.splice(0);
  for (const { page } of pages) await page.context().close();
  // Nothing in the console may come from outside the emulator, and no script of it may fail.
  for (const { foreign, errors } of pages) {
    expect(foreign, "requests to another origin").toEqual([]);
    expect(errors, "errors in the page").toEqual([]);
  }
});

/**
 * Opens the console of `emu` in a fresh browser context in which every request is routed: one to
 * another origin is recorded and refused.
 */
async function openConsole(emu: RunningEmulator, options: BrowserContextOptions & { hash?: string } = {}): Promise<Page> {
  const { hash = "", ...contextOptions } = options;
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
  const page = await context.newPage();
  const origin = new URL(emu.consoleUrl).origin;
  const entry = { page, foreign: [] as string[], errors: [] as string[] };
  watched.push(entry);
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("blob:") || url.startsWith("data:") || new URL(url).origin === origin) return route.continue();
    entry.foreign.push(url);
    return route.abort();
  });
  // A WebSocket is not a routed request: its address is checked as it opens.
  page.on("websocket", (ws) => {
    if (new URL(ws.url()).host !== new URL(origin).host) entry.foreign.push(ws.url());
  });
  page.on("pageerror", (error) => entry.errors.push(error.message));
  // The page's Content-Security-Policy refuses other origins before any request leaves: a refusal is one too.
  page.on("console", (message) => {
    if (message.type() === "error" && message.text().includes("Content Security Policy")) entry.foreign.push(message.text());
  });
  await page.goto(`${emu.consoleUrl}${hash}`);
  return page;
}

/** Resolves once the console's feed is open (its badge says live). */
async function live(page: Page): Promise<void> {
  await page.getByRole("status").filter({ hasText: "live" }).waitFor({ timeout: LIVE_MS });
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

/** Records, inside the page, every text the matched element shows as it changes, for a history of states. */
async function recordTexts(page: Page, selector: string): Promise<void> {
  await page.evaluate((selector) => {
    const seen: string[] = [];
    (window as unknown as { seen: string[] }).seen = seen;
    const note = () => {
      const text = document.querySelector(selector)?.textContent?.trim();
      if (text && seen.at(-1) !== text) seen.push(text);
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
    note();
  }, selector);
}

const recorded = (page: Page) => page.evaluate(() => (window as unknown as { seen: string[] }).seen);

/** A job's row in the jobs table. */
const row = (page: Page, id: string) => page.locator(`tr[data-job="${id}"]`);

describe(`the console${missing}`, () => {
  it.skipIf(missing)("shows the endpoint and its workers, and a job sent by a plain HTTP client going from IN_QUEUE to COMPLETED without a reload", async () => {
    // The first worker's simulated cold start keeps the job queued long enough to be seen queued.
    const emu = await startEmulator({ handler: fixture("python/echo/handler.py"), coldStart: 1500 });
    const page = await openConsole(emu);
    await live(page);
    const card = page.getByRole("region", { name: "local" });
    await expect.poll(() => card.getByRole("heading").textContent()).toContain("local");
    expect(await card.textContent()).toContain("handler.py");
    await page.getByRole("link", { name: "Jobs" }).click();
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));

    const { body } = await call(emu, "POST", "/run", { input: { hello: "console" } });
    await row(page, body.id).getByText("IN_QUEUE").waitFor({ timeout: LIVE_MS });
    await recordTexts(page, `tr[data-job="${body.id}"] .badge`);
    await shot(page, "jobs-queued");
    await row(page, body.id).getByText("COMPLETED").waitFor({ timeout: LIVE_MS });
    expect(await recorded(page)).toEqual(expect.arrayContaining(["IN_PROGRESS", "COMPLETED"]));
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await row(page, body.id).textContent()).toMatch(/w\d+-/);
    await shot(page, "jobs");

    await page.getByRole("link", { name: "Workers" }).click();
    const worker = page.locator("tr[data-worker]");
    await worker.first().waitFor();
    const text = await worker.first().textContent();
    expect(text).toContain("idle");
    expect(text).toMatch(/\d+(\.\d)? s|\d+ ms/);
    // Memory from /proc, in MiB.
    if (process.platform === "linux") expect(text).toMatch(/\d+(\.\d)? MiB/);
    await shot(page, "workers");

    await page.getByRole("link", { name: "Endpoints" }).click();
    await expect.poll(() => page.locator('[data-figure="completed"]').textContent()).toBe("1");
    await page.locator(".plot canvas").first().waitFor();
    await shot(page, "endpoints");
  });

  it.skipIf(missing)("reads a failed Python job: exception type, message and traceback lines; Retry requeues it and its row changes live", async () => {
    const emu = await startEmulator({ handler: fixture("python/error/handler.py") });
    const { body } = await call(emu, "POST", "/runsync", { input: { value: "x" } });
    expect(body.status).toBe("FAILED");
    const list = await openConsole(emu, { hash: "#/jobs" });
    await live(list);
    await row(list, body.id).getByText("FAILED").waitFor();
    await recordTexts(list, `tr[data-job="${body.id}"] [data-cell="status"]`);

    const detail = await list.context().newPage();
    await detail.goto(`${emu.consoleUrl}#/jobs/${body.id}`);
    const error = detail.getByRole("region", { name: "Error" });
    await error.waitFor();
    expect(await error.locator(".exception-type").textContent()).toBe("ValueError");
    expect(await error.locator(".exception-message").textContent()).toContain("invalid literal for int()");
    const traceback = await detail.getByRole("list", { name: "Traceback" }).locator("li").allTextContents();
    expect(traceback[0]).toMatch(/^Traceback/);
    expect(traceback.some((line) => /handler\.py", line \d+, in parse/.test(line))).toBe(true);
    expect(await detail.getByRole("region", { name: /^Logs \(\d+\)$/ }).textContent()).toContain(`plain print for ${body.id}`);
    await shot(detail, "job-failed");

    await detail.getByRole("button", { name: "Retry" }).click();
    // The list, in the other tab, follows the feed: back in the queue, run again, failed again.
    await expect.poll(() => recorded(list), { timeout: LIVE_MS }).toEqual(expect.arrayContaining(["FAILED", expect.stringMatching(/^(IN_QUEUE|IN_PROGRESS) retried 1×$/), "FAILED retried 1×"]));
    const states = await recorded(list);
    expect(states[0]).toBe("FAILED");
    expect((await call(emu, "GET", `/status/${body.id}`)).body).toMatchObject({ status: "FAILED", retries: 1 });
    await detail.locator(".job-title").getByText("FAILED").waitFor();
  });

  it.skipIf(missing)("cancels a long job with Cancel: it ends CANCELLED", async () => {
    const emu = await startEmulator({ handler: fixture("python/slow_async/handler.py") });
    const { body } = await call(emu, "POST", "/run", { input: { seconds: 60 } });
    const page = await openConsole(emu, { hash: `#/jobs/${body.id}` });
    await live(page);
    await page.locator(".job-title").getByText("IN_PROGRESS").waitFor({ timeout: LIVE_MS });
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.locator(".job-title").getByText("CANCELLED").waitFor({ timeout: LIVE_MS });
    expect((await call(emu, "GET", `/status/${body.id}`)).body.status).toBe("CANCELLED");
    expect(await page.getByRole("button", { name: "Cancel" }).isDisabled()).toBe(true);
    await shot(page, "job-cancelled");
  });

  it.skipIf(missing)("replays a job on the current code and opens the new one; exports its test_input.json; submits from the New job form", async () => {
    const emu = await startEmulator({ mock: true });
    const { body } = await call(emu, "POST", "/runsync", { input: { n: 1 } });
    const page = await openConsole(emu, { hash: `#/jobs/${body.id}` });
    await live(page);
    const download = page.waitForEvent("download");
    await page.getByRole("button", { name: "Export test_input.json" }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe("test_input.json");
    expect(JSON.parse(readFileSync(await file.path(), "utf8"))).toEqual({ input: { n: 1 } });

    await page.getByRole("button", { name: "Replay" }).click();
    await page.waitForURL((url) => url.hash.startsWith("#/jobs/") && !url.hash.endsWith(body.id));
    const replayed = decodeURIComponent(new URL(page.url()).hash.slice("#/jobs/".length));
    await page.locator(".job-title").getByText("COMPLETED").waitFor({ timeout: LIVE_MS });
    expect((await call(emu, "GET", `/status/${replayed}`)).body).toMatchObject({ status: "COMPLETED", output: { n: 1 } });

    await page.getByRole("button", { name: "New job" }).first().click();
    const form = page.getByRole("dialog", { name: "New job" });
    const editor = form.getByLabel("Request body (JSON)");
    await editor.fill('{"input": ');
    expect(await form.getByRole("alert").textContent()).toMatch(/^not JSON/);
    await editor.fill('{"nope": 1}');
    expect(await form.getByRole("alert").textContent()).toBe('the request body needs an "input" key');
    await editor.fill('{"input": {"from": "form"}}');
    await form.getByLabel("/runsync").check();
    await shot(page, "new-job");
    await form.getByRole("button", { name: "Submit job" }).click();
    // /runsync answers once the job is done; then the page opens it.
    await page.waitForURL(/#\/jobs\/sync-/, { timeout: LIVE_MS });
    const submitted = decodeURIComponent(new URL(page.url()).hash.slice("#/jobs/".length));
    await page.locator(".job-title").getByText(submitted).waitFor();
    await page.locator(".job-title").getByText("COMPLETED").waitFor();
    expect((await call(emu, "GET", `/status/${submitted}`)).body.output).toEqual({ from: "form" });
  });

  it.skipIf(missing)("shows a job's progress updates and stream chunks as they arrive, on the page opened by New job", async () => {
    // The first worker's simulated cold start lets the job's page open before the job runs.
    const emu = await startEmulator({ mock: true, coldStart: 1500 });
    const page = await openConsole(emu, { hash: "#/jobs" });
    await live(page);
    expect(await page.getByRole("link", { name: "Jobs" }).getAttribute("aria-current")).toBe("page");
    await page.getByRole("button", { name: "New job" }).first().click();
    const form = page.getByRole("dialog", { name: "New job" });
    await form.getByLabel("Request body (JSON)").fill(JSON.stringify({ input: { mock: { progress: [{ step: 1 }, { step: 2 }], delay_ms: 300, output: { done: true } } } }));
    await form.getByRole("button", { name: "Submit job" }).click();
    await page.waitForURL(/#\/jobs\/.+/);
    const progress = page.getByRole("region", { name: "Progress updates" });
    const updates = progress.locator('[data-list="progress"] > li');
    await expect.poll(() => updates.count(), { timeout: LIVE_MS }).toBe(2);
    expect((await updates.allTextContents()).map((text) => text.replace(/^\S+ /, ""))).toEqual([expect.stringContaining('"step": 1'), expect.stringContaining('"step": 2')]);
    await page.locator(".job-title").getByText("COMPLETED").waitFor({ timeout: LIVE_MS });
    // The state shows at once; the rest of the record follows from the history.
    await expect.poll(() => page.getByRole("region", { name: "Output" }).textContent()).toContain('"done": true');

    const { body } = await call(emu, "POST", "/run", { input: { mock: { stream: ["first", "second", "third"], delay_ms: 200 } } });
    await page.goto(`${emu.consoleUrl}#/jobs/${body.id}`);
    await page.locator(".job-title").getByText("COMPLETED").waitFor({ timeout: LIVE_MS });
    await expect.poll(() => page.locator('[data-list="chunks"] > li').allTextContents()).toEqual(['"first"', '"second"', '"third"']);
    await shot(page, "job-stream");
  });

  it.skipIf(missing)("purges the queue of an endpoint from its card", async () => {
    // Workers never come within the test: the jobs stay queued.
    const emu = await startEmulator({ mock: true, coldStart: 600_000 });
    for (let n = 0; n < 3; n++) await call(emu, "POST", "/run", { input: { n } });
    const page = await openConsole(emu);
    await live(page);
    await expect.poll(() => page.locator('[data-figure="in-queue"]').textContent()).toBe("3");
    await page.getByRole("button", { name: "Purge queue of local" }).click();
    await page.getByRole("alert").getByText("Purged 3 queued jobs of local.").waitFor();
    await expect.poll(() => page.locator('[data-figure="in-queue"]').textContent()).toBe("0");
    expect(emu.endpoint.health().jobs.inQueue).toBe(0);
  });

  it.skipIf(missing)("asks once for the API key when the emulator has one, then works live with it", async () => {
    const emu = await startEmulator({ mock: true, apiKey: "sesame" });
    const page = await openConsole(emu);
    const dialog = page.getByRole("dialog", { name: "API key" });
    await dialog.waitFor();
    await shot(page, "api-key");
    await dialog.getByLabel("API key").fill("wrong");
    await dialog.getByRole("button", { name: "Use key" }).click();
    await dialog.getByText("That key was refused").waitFor();
    await dialog.getByLabel("API key").fill("sesame");
    await dialog.getByRole("button", { name: "Use key" }).click();
    await live(page);
    await page.getByRole("link", { name: "Jobs" }).click();
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    const { body } = await call(emu, "POST", "/run", { input: 1 }, { Authorization: "Bearer sesame" });
    await row(page, body.id).getByText("COMPLETED").waitFor({ timeout: LIVE_MS });
    // Kept for the tab: a reload does not ask again.
    await page.reload();
    await live(page);
    expect(await dialog.isVisible()).toBe(false);
  });

  it.skipIf(missing)("reconnects by itself when the emulator restarts, and shows what the new one does", async () => {
    const db = join(scratchDir(), "emulator.db");
    const first = await startEmulator({ mock: true, db });
    const page = await openConsole(first, { hash: "#/jobs" });
    await live(page);
    const port = first.port;
    await first.close();
    await page.getByRole("status").filter({ hasText: "reconnecting" }).waitFor({ timeout: LIVE_MS });
    const second = await startEmulator({ mock: true, db, port });
    await live(page);
    const { body } = await call(second, "POST", "/run", { input: { again: true } });
    await row(page, body.id).getByText("COMPLETED").waitFor({ timeout: LIVE_MS });
  });

  it.skipIf(missing)("is usable from the keyboard, in dark mode and on a narrow window", async () => {
    const emu = await startEmulator({ mock: true });
    await call(emu, "POST", "/runsync", { input: { n: 1 } });
    const page = await openConsole(emu, { colorScheme: "dark", viewport: { width: 420, height: 800 } });
    await live(page);
    // Tab reaches the views and the New job button, each with a visible focus ring; Enter opens the form.
    const reached: string[] = [];
    while (reached.at(-1) !== "New job" && reached.length < 10) {
      await page.keyboard.press("Tab");
      const focused = await page.evaluate(() => {
        const element = document.activeElement as HTMLElement;
        return { name: element.textContent?.trim() ?? "", outline: getComputedStyle(element).outlineStyle };
      });
      reached.push(focused.name);
      expect(focused.outline, focused.name).not.toBe("none");
    }
    expect(reached).toEqual(expect.arrayContaining(["Endpoints", "Workers", "Jobs", "New job"]));
    await page.keyboard.press("Enter");
    const form = page.getByRole("dialog", { name: "New job" });
    await form.waitFor();
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("new-job-body");
    await page.keyboard.press("Escape");
    await form.waitFor({ state: "hidden" });
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(background).toBe("rgb(18, 19, 23)");
    for (const view of ["endpoints", "jobs", "workers"]) {
      await page.getByRole("link", { name: view.replace(/^./, (c) => c.toUpperCase()) }).click();
      await page.getByRole("heading", { level: 2 }).first().waitFor();
      // Nothing wider than the window: wide tables scroll inside their box.
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), view).toBe(true);
      await shot(page, `narrow-dark-${view}`);
    }
  });

  it.skipIf(missing)("shows a burst of jobs on the overview's plot and in the table (the README's picture)", async () => {
    const emu = await startEmulator({ mock: true, maxWorkers: 2 });
    const jobs = Array.from({ length: 12 }, (_, n) => ({ input: n === 7 ? { mock: { raise: "no model named tiny-llama", delay_ms: 40 } } : { mock: { delay_ms: 30 + ((n * 37) % 120), output: { n } } } }));
    const page = await openConsole(emu);
    await live(page);
    await Promise.all(jobs.map((job) => call(emu, "POST", "/runsync", job)));
    await expect.poll(() => page.locator('[data-figure="completed"]').textContent()).toBe("11");
    await expect.poll(() => page.locator('[data-figure="failed"]').textContent()).toBe("1");
    await shot(page, "readme-endpoints");
    await page.getByRole("link", { name: "Jobs" }).click();
    await expect.poll(() => page.locator("tr[data-job]").count()).toBe(12);
    await shot(page, "readme-jobs");
  });

  it.skipIf(missing)("keeps the table to a page or two under a burst, and pages back through every job by its cursor", async () => {
    const emu = await startEmulator({ mock: true });
    const page = await openConsole(emu, { hash: "#/jobs" });
    await live(page);
    const ids: string[] = [];
    for (let n = 0; n < 130; n++) ids.push((await call(emu, "POST", "/run", { input: { n } })).body.id);
    await row(page, ids.at(-1) as string).waitFor({ timeout: LIVE_MS });
    // Past 100 rows the newest page is read again (50 rows, and a way to the older ones); newer rows come on top.
    await expect.poll(() => page.locator("tr[data-job]").count(), { timeout: LIVE_MS }).toBeLessThanOrEqual(100);
    expect(await page.locator("tr[data-job]").count()).toBeGreaterThanOrEqual(50);
    const shown: string[] = [];
    for (;;) {
      const rows = await page.locator("tr[data-job]").evaluateAll((elements) => elements.map((element) => element.getAttribute("data-job") as string));
      shown.push(...rows);
      const older = page.getByRole("button", { name: "Older jobs" });
      if ((await older.count()) === 0) break;
      await older.click();
      await page.locator(`tr[data-job="${rows.at(-1)}"]`).waitFor({ state: "detached" });
    }
    expect(shown).toEqual([...ids].reverse());
  });
});
