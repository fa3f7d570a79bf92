import { afterEach } from "vitest";
import type { Emulator, EmulatorEvent, EmulatorOptions } from "../../src/index.js";
import { type Internals, RunningEmulator } from "../../src/internal.js";

const running = new Set<RunningEmulator>();

afterEach(async () => {
  await Promise.all([...running].map((emu) => emu.close()));
  running.clear();
});

/**
 * Starts an emulator as createEmulator() does (in memory, on a free port), closed after the test whatever
 * happens; with the internal type, so that tests can reach its endpoint, pool and event bus.
 */
export async function startEmulator(options: EmulatorOptions, internals?: Internals): Promise<RunningEmulator> {
  const emu = await RunningEmulator.create({ stopGrace: 2_000, releaseGrace: 2_000, ...options }, internals);
  running.add(emu);
  return emu;
}

/** The answer of one HTTP request to the emulator, with its parsed JSON body. */
export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** Calls `path` under the emulator's endpoint URL (`/run`, `/status/ID`, …). */
export async function call<T = any>(emu: Emulator | string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const base = typeof emu === "string" ? emu : emu.url;
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" || body instanceof Uint8Array ? (body as string) : JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] ??= "application/json";
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

/** Submits a job with /run and follows it with /status-sync to its end. */
export async function runToEnd(emu: Emulator, input: unknown, extra: Record<string, unknown> = {}): Promise<any> {
  const { body } = await call(emu, "POST", "/run", { input, ...extra });
  const { body: status } = await call(emu, "POST", `/status-sync/${body.id}?wait=60000`);
  return status;
}

/** Resolves with the first event that `match` accepts; rejects after `timeoutMs` (a hang, not a timing). */
export function nextEvent<E extends EmulatorEvent>(emu: RunningEmulator, match: (event: EmulatorEvent) => event is E, timeoutMs?: number): Promise<E>;
export function nextEvent(emu: RunningEmulator, match: (event: EmulatorEvent) => boolean, timeoutMs?: number): Promise<EmulatorEvent>;
export function nextEvent(emu: RunningEmulator, match: (event: EmulatorEvent) => boolean, timeoutMs = 20_000): Promise<EmulatorEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = emu.events.on((event) => {
      if (!match(event)) return;
      clearTimeout(timer);
      off();
      resolve(event);
    });
  });
}

/** A fixture's path from the repository root. */
export function fixture(path: string): string {
  return new URL(`../../fixtures/${path}`, import.meta.url).pathname;
}
