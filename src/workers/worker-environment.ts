/** What one worker's environment is made of. */
export interface WorkerEnvironmentParts {
  /** The user's environment with the project's .env applied (see loadDotEnv). */
  base: Record<string, string>;
  endpointId: string;
  workerId: string;
  /** Where workers reach the API: `http://127.0.0.1:PORT/v2`. */
  apiBase: string;
  /** The endpoint's protocol variables (RUNPOD_WEBHOOK_*), none for a load-balancing endpoint. */
  protocol: Record<string, string>;
  /** The variables of the worker's GPUs (CUDA_VISIBLE_DEVICES…), none without GPUs. */
  gpus: Record<string, string>;
  /** The runtime's own (PYTHONPATH with the start-up hook and the bundled module). */
  runtime: Record<string, string>;
}

/**
 * The environment a worker process starts with, before its private folder (TMPDIR) and network volume
 * are added where it starts. The pool starts every worker with it, and `emulator shell` opens its shell
 * with it: one definition, so that the shell sees what the worker sees.
 */
export function workerEnvironment(parts: WorkerEnvironmentParts): Record<string, string> {
  const { base, endpointId, workerId, apiBase, protocol, gpus, runtime } = parts;
  return {
    ...base,
    ...gpus,
    ...protocol,
    // The official SDK's clients (runpod.Endpoint) call other endpoints through this base URL.
    RUNPOD_ENDPOINT_BASE_URL: apiBase,
    RUNPOD_POD_ID: workerId,
    RUNPOD_POD_HOSTNAME: workerId,
    RUNPOD_ENDPOINT_ID: endpointId,
    PYTHONUNBUFFERED: "1",
    ...runtime,
  };
}
