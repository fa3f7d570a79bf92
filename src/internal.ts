// The emulator behind the public type, with its endpoint, pool and event bus: for the emulator's own tests
// and tools. The package does not export this module.
export { type Internals, RunningEmulator } from "./emulator.js";
