import type { JobStatus } from "../types.js";

/** What job-done carries (SPEC §2.2). */
export interface JobDoneBody {
  status?: unknown;
  output?: unknown;
  error?: unknown;
  stopPod?: unknown;
}

/** How a job ends given what its worker posted. */
export interface JobResult {
  status: Extract<JobStatus, "COMPLETED" | "FAILED">;
  output?: unknown;
  error?: string;
}

const MB = 1_000_000;

/**
 * Reads a job-done body that is not a progress update: `{error}` (with or without `output`) fails the job,
 * anything else completes it. A result over `limit` bytes fails it with an error that names the size
 * and the limit; `bodyBytes` (the size of the whole body) spares measuring the output of small results.
 */
export function readResult(body: JobDoneBody, bodyBytes: number, limit: number, kind: string): JobResult {
  const size = bodyBytes > limit ? Buffer.byteLength(JSON.stringify(body.output ?? null)) : 0;
  if (size > limit) {
    return { status: "FAILED", error: `the job's result of ${formatMB(size)} MB exceeds the ${formatMB(limit)} MB limit of /${kind} results` };
  }
  if (body.error !== undefined && body.error !== null) {
    return { status: "FAILED", output: body.output, error: typeof body.error === "string" ? body.error : JSON.stringify(body.error) };
  }
  return { status: "COMPLETED", output: body.output };
}

/** Megabytes as the error messages print them: decimal, without trailing zeros. */
export function formatMB(bytes: number): string {
  return String(Number((bytes / MB).toFixed(6)));
}
