import { type ApiOptions, createApiApp } from "../../src/api/app.js";
import type { RunningEmulator } from "../../src/internal.js";

/** An API app over a running emulator's endpoint and events, with the emulator's defaults unless told otherwise. */
export function apiAppOf(emu: RunningEmulator, options: Partial<ApiOptions> = {}) {
  return createApiApp({
    endpoints: new Map([[emu.endpointId, emu.endpoint]]),
    bus: emu.events,
    apiKey: undefined,
    limits: { run: 10_000_000, runsync: 20_000_000 },
    cors: undefined,
    boundHost: "127.0.0.1",
    allowedHosts: [],
    allowWebhookHosts: [],
    onInternalError: (error) => {
      throw error;
    },
    ...options,
  });
}
