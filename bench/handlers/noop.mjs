// The throughput benchmark's handler: does nothing, eight jobs at a time per worker.
export const config = { concurrency: 8 };

export default function handler() {
  return null;
}
