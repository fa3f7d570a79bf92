import { Emulator } from "./emulator.js";
import type { EmulatorOptions } from "./options.js";

export { Emulator } from "./emulator.js";
export { EmulatorError } from "./errors.js";
export type { EmulatorOptions } from "./options.js";
export type { HandlerFunction } from "./workers/inline-worker.js";
export type { EmulatorEvent, WorkerState } from "./core/events.js";
export type * from "./types.js";

/**
 * Starts an emulator for tests and scripts: in memory and on a free port unless told otherwise.
 * `await emu.close()` (or `await using emu = …`) stops every worker and frees the port.
 */
export function createEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  return Emulator.start({ port: 0, inMemory: options.db === undefined, watch: false, ...options });
}
