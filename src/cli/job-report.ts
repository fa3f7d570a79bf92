import { relative } from "node:path";
import type { Job } from "../core/job.js";
import { handlerException } from "../core/job-error.js";
import type { JobDetails } from "../store/history.js";

/**
 * The SDK's report of an exception (`{error_type, error_message, error_traceback, …}` as JSON: a
 * failed job's error, and a line the official SDK logs) as the lines a reader wants: the exception's
 * type and message, then its traceback. Undefined for any other text.
 */
export function exceptionReport(text: string): string[] | undefined {
  const exception = handlerException(text);
  return exception && [`${exception.type}: ${exception.message}`, ...exception.traceback];
}

/** A failure as a reader wants it: an exception's type and message, then its traceback's lines; other errors as they are. */
export function readableError(error: string): string[] {
  return exceptionReport(error) ?? error.split("\n");
}

const time = (ms: number | undefined) => (ms === undefined ? "-" : new Date(ms).toISOString().replace("T", " ").replace("Z", ""));
const json = (value: unknown) => JSON.stringify(value, null, 2) ?? "undefined";
const indent = (lines: string[]) => lines.map((line) => `  ${line}`);

/** The human-readable report of `emulator jobs show ID`; paths relative to `cwd`. */
export function formatJob(details: JobDetails, cwd: string): string {
  const { job } = details;
  const handler = job.handlerFile ? `${relative(cwd, job.handlerFile) || job.handlerFile}, ` : "";
  const lines = [
    `job ${job.id}  ${job.status}${details.expired ? "  (expired from the API; kept in the local history)" : ""}`,
    `  endpoint ${job.endpointId}, /${job.kind}, worker ${job.workerId ?? "-"}, retries ${job.retries}, handler ${handler}version ${job.handlerVersion ?? "-"}`,
    `  submitted ${time(job.createdAt)}, taken ${time(job.takenAt)}, finished ${time(job.finishedAt)}`,
    `  delayTime ${job.delayTime ?? "-"} ms, executionTime ${job.executionTime ?? "-"} ms`,
    "input:",
    ...indent(json(job.input).split("\n")),
  ];
  if (job.output !== undefined) lines.push("output:", ...indent(json(job.output).split("\n")));
  if (job.error !== undefined) lines.push("error:", ...indent(readableError(job.error)));
  if (details.chunks.length) lines.push(`stream (${details.chunks.length} chunks):`, ...indent(details.chunks.map((c) => JSON.stringify(c))));
  if (details.logs.length) {
    lines.push(`logs (${details.logs.length} lines):`);
    for (const log of details.logs) {
      // The SDK logs an exception's report as JSON; the error above shows it in full.
      const message = exceptionReport(log.message)?.[0] ?? log.message;
      lines.push(`  ${time(log.at).slice(11)} [${log.workerId}] ${log.stream}${log.level ? ` ${log.level}` : ""} ${message}`);
    }
  }
  if (details.webhooks.length) {
    lines.push("webhook deliveries:");
    for (const d of details.webhooks) lines.push(`  #${d.attempt} ${time(d.at)} ${d.url} → ${d.status ?? "no answer"}${d.error ? ` (${d.error})` : ""} in ${d.ms} ms`);
  }
  return lines.join("\n");
}

/** One line per job for `emulator jobs`. */
export function formatJobList(jobs: Job[], now: number): string {
  if (jobs.length === 0) return "no jobs";
  const rows = jobs.map((job) => {
    const error = job.error ? readableError(job.error)[0] ?? "" : "";
    const flags = job.expiresAt <= now ? " (expired)" : "";
    return `${time(job.createdAt)}  ${job.id.padEnd(44)} ${job.status.padEnd(11)}${flags} ${error.slice(0, 80)}`;
  });
  return [`${"submitted".padEnd(23)}  ${"id".padEnd(44)} status`, ...rows].join("\n");
}
