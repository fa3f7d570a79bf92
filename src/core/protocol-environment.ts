/** What a queue worker's protocol variables are made of. */
export interface ProtocolWorker {
  endpointId: string;
  /** The worker's secret, its token on every worker route. */
  secret: string;
  /** `http://127.0.0.1:PORT/v2` */
  apiBase: string;
  pingIntervalMs: number;
}

/** The worker protocol's variables (SPEC §2.1); `$ID` and `$RUNPOD_POD_ID` are the SDK's to fill in. */
export function protocolEnvironment({ endpointId, secret, apiBase, pingIntervalMs }: ProtocolWorker): Record<string, string> {
  const base = `${apiBase}/${encodeURIComponent(endpointId)}`;
  const query = `gpu=LOCAL&token=${secret}`;
  return {
    RUNPOD_WEBHOOK_GET_JOB: `${base}/job-take/$ID?${query}`,
    RUNPOD_WEBHOOK_POST_OUTPUT: `${base}/job-done/$RUNPOD_POD_ID/$ID?${query}`,
    RUNPOD_WEBHOOK_POST_STREAM: `${base}/job-stream/$RUNPOD_POD_ID/$ID?${query}`,
    RUNPOD_WEBHOOK_PING: `${base}/ping/$RUNPOD_POD_ID?token=${secret}`,
    // Not the platform's: the emulator's own runtimes post several results, and take, in one request.
    RUNPOD_EMULATOR_POST_RESULTS: `${base}/job-done-batch/$RUNPOD_POD_ID?${query}`,
    // Not the platform's either: the same requests as frames on a connection of their own (see worker-channel.ts).
    RUNPOD_EMULATOR_CHANNEL: `${base}/job-channel/$RUNPOD_POD_ID?token=${secret}`,
    RUNPOD_PING_INTERVAL: String(Math.max(1000, pingIntervalMs)),
    RUNPOD_AI_API_KEY: secret,
    RUNPOD_SKIP_AUTO_SYSTEM_CHECKS: "true",
    RUNPOD_SKIP_GPU_CHECK: "true",
  };
}
