// The built-in mock worker (`emulator --mock`): behaviour chosen by `input.mock`, so an application's
// tests can provoke every outcome without writing a handler. Without `input.mock` it echoes the input.
//   delay_ms      wait this long first (honours cancel and timeout)
//   progress      a list of progress updates sent before the result
//   stream        a list of chunks yielded one by one (delay_ms apart)
//   output        the result (default: the input)
//   output_bytes  a result string of this many bytes (payload-limit tests)
//   error         return {"error": value}: the job FAILS with it
//   raise         throw an Error with this message
//   exit_code     the worker process exits with this code mid-job (a crash)

const KNOBS = new Set(["delay_ms", "progress", "stream", "output", "output_bytes", "error", "raise", "exit_code"]);

/** @param {{id: string, input: any}} job @param {{progress: (v: unknown) => Promise<void>, signal: AbortSignal}} context */
export default function handler(job, context) {
  const mock = job.input?.mock;
  if (mock === undefined) return job.input;
  check(mock);
  return mock.stream ? streamed(mock, context) : answered(mock, job, context);
}

async function answered(mock, job, context) {
  for (const update of mock.progress ?? []) await context.progress(update);
  await sleep(mock.delay_ms ?? 0, context.signal);
  if (mock.exit_code !== undefined) process.exit(mock.exit_code);
  if (mock.raise !== undefined) throw new Error(String(mock.raise));
  if (mock.output_bytes !== undefined) return "x".repeat(mock.output_bytes);
  if (mock.error !== undefined) return { error: mock.error };
  return "output" in mock ? mock.output : job.input;
}

async function* streamed(mock, context) {
  for (const chunk of mock.stream) {
    await sleep(mock.delay_ms ?? 0, context.signal);
    yield chunk;
  }
  if (mock.raise !== undefined) throw new Error(String(mock.raise));
}

function check(mock) {
  if (typeof mock !== "object" || mock === null || Array.isArray(mock)) throw new TypeError("input.mock must be an object of knobs");
  for (const key of Object.keys(mock)) {
    if (!KNOBS.has(key)) throw new TypeError(`input.mock.${key} is not a mock knob (knobs: ${[...KNOBS].join(", ")})`);
  }
  for (const key of ["delay_ms", "output_bytes", "exit_code"]) {
    if (mock[key] !== undefined && !(Number.isInteger(mock[key]) && mock[key] >= 0)) throw new TypeError(`input.mock.${key} must be a whole number >= 0`);
  }
  for (const key of ["progress", "stream"]) {
    if (mock[key] !== undefined && !Array.isArray(mock[key])) throw new TypeError(`input.mock.${key} must be a list`);
  }
}

function sleep(ms, signal) {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
