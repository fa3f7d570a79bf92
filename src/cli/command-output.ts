/** Where a command writes: `out` its result (stdout), `err` everything a person reads along the way (stderr). */
export interface CommandOutput {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Colours on `err`. */
  color?: boolean;
}
