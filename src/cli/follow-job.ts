import { isTerminal } from "../core/job.js";
import type { JobStatus, JobStatusObject, StreamResponse } from "../types.js";

/** Calls the emulator's client API as any RunPod client would. */
export async function clientCall<T>(url: string, method: string, path: string, apiKey: string | undefined, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { "Content-Type": "application/json", ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${answer.error ?? ""}`);
  return answer;
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
