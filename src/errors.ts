/**
 * One error class for the whole emulator. A user error is a mistake the person running the emulator can
 * fix (a bad flag, a missing handler, a port in use): it is printed as one line, without a stack, and the
 * process exits 1. Anything else is an internal error and is printed with its stack.
 */
export type ErrorCode =
  | "ERR_BAD_OPTION"
  | "ERR_HANDLER_NOT_FOUND"
  | "ERR_PORT_IN_USE"
  | "ERR_LISTEN"
  | "ERR_PYTHON_NOT_FOUND"
  | "ERR_JOB_NOT_FOUND"
  | "ERR_DATABASE";

export class EmulatorError extends Error {
  override name = "EmulatorError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly userError = true,
  ) {
    super(message);
  }
}

/** A user mistake: one clear line, exit 1. */
export function userError(code: ErrorCode, message: string): EmulatorError {
  return new EmulatorError(code, message, true);
}
