import { RunningEmulator } from "../emulator.js";
import { EmulatorError } from "../errors.js";
import type { Settings } from "../options.js";
import type { CommandOutput } from "./command-output.js";

/**
 * Starts a one-job emulator (emulator run, a replay) on the history's database; when an emulator is
 * already serving it (a developer's, in another terminal) and `fallBack` allows, in memory instead,
 * saying so with `what` ("this run's job").
 */
export async function startOnHistory(settings: Settings, output: CommandOutput, what: string, fallBack = true): Promise<RunningEmulator> {
  try {
    return await RunningEmulator.start(settings);
  } catch (error) {
    if (!(fallBack && error instanceof EmulatorError && error.code === "ERR_DATABASE_IN_USE")) throw error;
    output.err(`note: ${error.message.split(";")[0]}; ${what} is kept in memory only`);
    return RunningEmulator.start({ ...settings, inMemory: true });
  }
}
