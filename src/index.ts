import { RunningEmulator } from "./emulator.js";
import type { Emulator } from "./emulator-interface.js";
import type { EmulatorOptions } from "./options.js";

export type { Emulator, EmulatorEventOf, EndpointInfo } from "./emulator-interface.js";
export { EmulatorError, type ErrorCode } from "./errors.js";
export type { EmulatorOptions, EndpointDeclaration } from "./options.js";
export type { HandlerConfig, HandlerContext, HandlerFunction, HandlerJob } from "./handler-function.js";
export type { EmulatorEvent, WorkerState, WorkerType } from "./core/events.js";
export type { Job, JobKind } from "./core/job.js";
export type { JobDetails } from "./store/history.js";
export type { LogLine } from "./store/logs.js";
export type { WebhookDelivery } from "./store/webhooks.js";
export type * from "./types.js";

/**
 * Starts an emulator for tests and scripts: in memory, on a free port and without watching files unless
 * told otherwise. Rejects with an EmulatorError (code ERR_BAD_OPTION) naming a bad or unknown option.
 * `await emu.close()` (or `await using emu = …`) stops every worker and frees the port.
 */
export function createEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  return RunningEmulator.create(options);
}
