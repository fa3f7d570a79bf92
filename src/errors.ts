/**
 * One error class for the whole emulator. A user error is a mistake the person running the emulator can
 * fix (a bad flag, a missing handler, a port in use, an emulator that is not running): it is printed as
 * one line, without a stack, and the process exits 1. Anything else is an internal error and is printed
 * with its stack.
 */
export type ErrorCode =
  | "ERR_BAD_OPTION"
  | "ERR_HANDLER_NOT_FOUND"
  | "ERR_PORT_IN_USE"
  | "ERR_LISTEN"
  | "ERR_PYTHON_NOT_FOUND"
  | "ERR_DEBUGPY_NOT_FOUND"
  | "ERR_JOB_NOT_FOUND"
  | "ERR_DATABASE"
  | "ERR_DATABASE_IN_USE"
  | "ERR_DISK_FULL"
  | "ERR_UNREACHABLE"
  | "ERR_REQUEST_FAILED";

export interface EmulatorErrorOptions extends ErrorOptions {
  /** False for an internal error: a bug to report, printed with its stack. Default true. */
  userError?: boolean;
}

export class EmulatorError extends Error {
  override name = "EmulatorError";
  readonly userError: boolean;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: EmulatorErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.userError = options.userError ?? true;
  }
}

/** A user mistake: one clear line, exit 1. `cause` keeps the error it was made from, for debugging. */
export function userError(code: ErrorCode, message: string, options: ErrorOptions = {}): EmulatorError {
  return new EmulatorError(code, message, options);
}
