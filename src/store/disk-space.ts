import { EmulatorError } from "../errors.js";

/** Whether `error` is SQLite's "database or disk is full" (the disk, or a page limit, is exhausted). */
export function isDiskFull(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "SQLITE_FULL";
}

/** A new job refused because the job database cannot grow: answered 503, naming the disk and the database. */
export class DiskFullError extends EmulatorError {
  constructor(databasePath: string, cause?: unknown) {
    super("ERR_DISK_FULL", `the disk holding the job database ${databasePath} is full: new jobs are refused until space is freed`, { cause });
  }
}

/**
 * Whether the job database's disk is full, shared by the stores that write to it: they say when a write
 * was refused and when one went through again, and the change is reported once each way.
 */
export class DiskSpace {
  private fullSince: number | undefined;
  private dropped = 0;

  constructor(
    /** The database file, or ":memory:". */
    readonly databasePath: string,
    private readonly report: (message: string) => void = () => {},
  ) {}

  get isFull(): boolean {
    return this.fullSince !== undefined;
  }

  /** The error a refused submission gets. */
  refusal(cause?: unknown): DiskFullError {
    return new DiskFullError(this.databasePath, cause);
  }

  /** A write was refused for want of space. */
  full(): void {
    if (this.fullSince !== undefined) return;
    this.fullSince = Date.now();
    this.report(
      `the disk holding the job database ${this.databasePath} is full: new jobs are refused (503), the state of accepted jobs is kept in memory and written once space returns, worker output is not kept`,
    );
  }

  /** Log lines that could not be kept. */
  droppedLogLines(count: number): void {
    this.dropped += count;
    this.full();
  }

  /** A write went through: if the disk was full, it no longer is. */
  written(): void {
    if (this.fullSince === undefined) return;
    const seconds = Math.round((Date.now() - this.fullSince) / 1000);
    const dropped = this.dropped > 0 ? `; ${this.dropped} lines of worker output could not be kept` : "";
    this.fullSince = undefined;
    this.dropped = 0;
    this.report(`space returned on the disk holding the job database ${this.databasePath} after ${seconds} s: new jobs are accepted again${dropped}`);
  }
}
