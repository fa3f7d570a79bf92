import type { Endpoint } from "./endpoint.js";
import type { Job } from "./job.js";
import type { JobDoneBody } from "./job-result.js";
import type { WorkerSlot } from "./worker-slot.js";

/**
 * The worker protocol (SPEC §2.2) for one worker, as calls rather than requests: what a function
 * handler's worker, run in the emulator's own process, uses instead of loopback HTTP, what the worker
 * channel of the emulator's own runtimes calls, and how the HTTP routes take jobs. The same endpoint
 * methods answer all three, so queueing, timeouts, cancellation and results behave alike.
 */
export class WorkerPort {
  constructor(
    private readonly endpoint: Endpoint,
    private readonly worker: WorkerSlot,
  ) {}

  /**
   * job-take(-batch): at most `max` jobs, held until some are queued or the hold passes. Aborting
   * `signal` withdraws a held take; jobs that come after it was aborted go back to the head of the queue.
   */
  async take(max: number, jobInProgress: boolean, signal: AbortSignal): Promise<Job[]> {
    const withdraw = () => this.endpoint.untake(this.worker, []);
    signal.addEventListener("abort", withdraw);
    const jobs = await this.endpoint.take(this.worker, max, jobInProgress);
    signal.removeEventListener("abort", withdraw);
    if (!signal.aborted) return jobs;
    if (jobs.length > 0) this.endpoint.untake(this.worker, jobs);
    return [];
  }

  get workerId(): string {
    return this.worker.id;
  }

  /** Whether the endpoint still knows this worker: one it removed (stopped, or taken for dead) may ask nothing more. */
  registered(): boolean {
    return this.endpoint.worker(this.worker.id) === this.worker;
  }

  /** Jobs taken whose answer never reached the worker: back to the head of the queue. */
  giveBack(jobs: Job[]): void {
    this.endpoint.untake(this.worker, jobs);
  }

  /** Resolves once what was written so far is committed (undefined when nothing waits): a take's answer waits for it. */
  committed(): Promise<void> | undefined {
    return this.endpoint.committed();
  }

  /** job-done: a progress update or a result, whose JSON text was `bytes` long. */
  done(jobId: string, body: JobDoneBody, bytes: number): void {
    this.endpoint.done(this.worker, jobId, body, bytes);
  }

  /** job-stream: one chunk, from a body `bytes` long. */
  stream(jobId: string, output: unknown, bytes: number): void {
    this.endpoint.streamChunk(this.worker, jobId, output, bytes);
  }

  /** job-stop: ids to stop, held until there are some or the hold passes; `signal` ends a held poll with none. */
  async stops(signal: AbortSignal): Promise<string[]> {
    const withdraw = () => this.worker.answerStops([]);
    signal.addEventListener("abort", withdraw);
    const ids = await this.endpoint.pollStops(this.worker);
    signal.removeEventListener("abort", withdraw);
    if (signal.aborted) ids.forEach((id) => this.worker.requestStop(id));
    return signal.aborted ? [] : ids;
  }

  /** ping: liveness and the jobs held. */
  ping(jobIds: string[], version: string): void {
    this.endpoint.ping(this.worker, jobIds, version);
  }
}
