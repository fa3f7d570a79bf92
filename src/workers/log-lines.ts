import type { WorkerSlot } from "../core/worker-slot.js";

/** One line a worker printed, with the job it belongs to when that can be told. */
export interface AttributedLine {
  jobId?: string;
  level?: string;
  message: string;
}

/**
 * With RUNPOD_ENDPOINT_ID set, the SDK (and the Node bootstrap) print log lines as JSON objects
 * `{"requestId", "message", "level"}`: those name their job. Any other line (prints, tracebacks) belongs
 * to the job the worker is running when it runs exactly one.
 */
export function attributeLine(line: string, worker: WorkerSlot): AttributedLine {
  const only = worker.held.size === 1 ? worker.held.values().next().value : undefined;
  if (line.startsWith("{") && line.endsWith("}")) {
    try {
      const parsed = JSON.parse(line) as { requestId?: unknown; message?: unknown; level?: unknown };
      if (typeof parsed.message === "string" && typeof parsed.level === "string") {
        const requestId = typeof parsed.requestId === "string" ? parsed.requestId : undefined;
        return { jobId: requestId ?? only, level: parsed.level, message: parsed.message };
      }
    } catch {
      // Not JSON after all: a plain line.
    }
  }
  return { jobId: only, message: line };
}
