// The streaming benchmark's handler: each chunk carries the moment it was yielded.
export default async function* handler(job) {
  for (let i = 0; i < job.input.count; i++) {
    await new Promise((resolve) => setTimeout(resolve, job.input.every_ms));
    yield { i, at: performance.timeOrigin + performance.now() };
  }
}
