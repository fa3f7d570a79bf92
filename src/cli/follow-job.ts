import { isTerminal } from "../core/job.js";
import { userError } from "../errors.js";
import type { JobStatus, JobStatusObject, StreamResponse } from "../types.js";
import type { CommandOutput } from "./command-output.js";

/** Words for the network errors a client call meets when the emulator is gone or is something else. */
const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "the connection was reset",
  EHOSTUNREACH: "host unreachable",
  ENOTFOUND: "host not found",
  ETIMEDOUT: "timed out",
  UND_ERR_SOCKET: "the connection closed early",
};

/** Calls the emulator's client API as any RunPod client would; every failure is one user-facing line. */
export async function clientCall<T>(url: string, method: string, path: string, apiKey: string | undefined, body?: unknown): Promise<T> {
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${url}${path}`, {
      method,
      headers: { "Content-Type": "application/json", ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    text = await response.text();
  } catch (error) {
    throw userError("ERR_UNREACHABLE", `cannot reach the emulator at ${url}: ${networkReason(error)}`, { cause: error });
  }
  let answer: T & { error?: unknown };
  try {
    answer = JSON.parse(text) as T & { error?: unknown };
  } catch (error) {
    throw userError("ERR_UNREACHABLE", `${url} did not answer ${method} ${path} with JSON (status ${response.status}): is it an emulator?`, { cause: error });
  }
  if (!response.ok) {
    const reason = typeof answer?.error === "string" ? answer.error : text.slice(0, 200);
    throw userError("ERR_REQUEST_FAILED", `the emulator at ${url} answered ${method} ${path} with ${response.status}: ${reason}`);
  }
  return answer;
}

/** fetch() fails with "fetch failed"; the reason is in its cause (or the cause's first error, for several addresses). */
export function networkReason(error: unknown): string {
  let cause = (error as { cause?: unknown }).cause ?? error;
  if (cause instanceof AggregateError && cause.errors.length > 0) cause = cause.errors[0];
  const code = (cause as NodeJS.ErrnoException).code;
  return (code && NETWORK_ERRORS[code]) ?? (cause as Error).message ?? String(cause);
}

/** Follows a job to its end, handing each stream chunk over as it arrives; returns the final status object. */
export async function followJob(url: string, id: string, apiKey: string | undefined, onChunk: (chunk: unknown) => void): Promise<JobStatusObject> {
  let status: JobStatus = "IN_QUEUE";
  while (!isTerminal(status)) {
    const answer = await clientCall<StreamResponse>(url, "POST", `/stream/${encodeURIComponent(id)}?wait=10000`, apiKey);
    for (const chunk of answer.stream) onChunk(chunk.output);
    status = answer.status;
  }
  return clientCall<JobStatusObject>(url, "GET", `/status/${encodeURIComponent(id)}`, apiKey);
}

/** Follows a job to its end, printing each chunk on `err` as it arrives; returns the status object and the chunks. */
export async function followToEnd(url: string, id: string, apiKey: string | undefined, output: CommandOutput): Promise<{ final: JobStatusObject; chunks: unknown[] }> {
  const chunks: unknown[] = [];
  const final = await followJob(url, id, apiKey, (chunk) => {
    chunks.push(chunk);
    output.err(`chunk ${JSON.stringify(chunk)}`);
  });
  return { final, chunks };
}

/** What `emulator run` and `jobs replay` print on stdout: the status object, with the chunks when the handler streamed. */
export function statusDocument(final: JobStatusObject, chunks: unknown[]): JobStatusObject & { stream?: unknown[] } {
  return chunks.length ? { ...final, stream: chunks } : final;
}
