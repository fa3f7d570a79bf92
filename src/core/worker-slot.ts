import type { TimerHandle } from "./clock.js";
import type { WorkerState, WorkerType } from "./events.js";
import type { WorkerMemory } from "../types.js";
import type { Job } from "./job.js";

interface OpenTake {
  max: number;
  answer: (jobs: Job[]) => void;
  /** When it was opened, in the order of every take opened in this process. */
  order: number;
}

let takesOpened = 0;

/** The endpoint's view of one worker: its secret, the jobs it holds, its open long-polls and its health. */
export class WorkerSlot {
  /** Jobs handed to this worker and not yet finished or let go. */
  readonly held = new Set<string>();
  /** Held jobs it was told to stop and has not let go of yet. */
  readonly releasing = new Set<string>();
  /** The emulator is stopping it: no more jobs, polls answered at once. */
  stopping = false;
  /** It runs superseded code and finishes its jobs before it is replaced. */
  outdated = false;
  /** Why the worker itself reported being unhealthy (a ping with `status=unhealthy`). */
  reportedUnhealthy: string | undefined;
  /** Nothing was heard from it for longer than the ping timeout. */
  silent = false;
  firstTakeAt: number | undefined;
  lastSeen: number | undefined;
  sdkVersion: string | undefined;
  /** Its main process, once started (none for a function handler run in-process). */
  pid: number | undefined;
  /** Results it posted (completed or failed). */
  jobsDone = 0;
  /** Its last result, and when it or a line of its job was last heard: that job's lines may come after it. */
  lastResult: { jobId: string; at: number } | undefined;
  /** Its processes' memory as its pool last sampled it (none for a function handler, or without /proc). */
  memory: WorkerMemory | undefined;
  /** The state last announced, and since when. */
  lastEmitted: WorkerState | undefined;
  since: number;
  take: OpenTake | undefined;
  /** The registry's timers: the ping timeout, and the grace given to each stopped job. */
  silenceTimer: TimerHandle | undefined;
  readonly releaseTimers = new Map<string, TimerHandle>();
  private stops: string[] = [];
  private stopsWaiter: ((ids: string[]) => void) | undefined;

  constructor(
    readonly id: string,
    readonly secret: string,
    readonly handlerVersion: string | undefined,
    readonly startedAt: number,
    readonly type: WorkerType = "flex",
  ) {
    this.since = startedAt;
  }

  get state(): WorkerState {
    if (this.stopping) return "stopping";
    if (this.reportedUnhealthy !== undefined || this.silent) return "unhealthy";
    if (this.firstTakeAt === undefined) return "initializing";
    if (this.outdated) return "outdated";
    return this.held.size > 0 ? "running" : "idle";
  }

  /** Stopping, unhealthy and outdated workers get no new jobs (nor, see Endpoint, those on superseded code). */
  get acceptsJobs(): boolean {
    return !this.stopping && !this.outdated && !this.silent && this.reportedUnhealthy === undefined;
  }

  openTake(max: number, answer: (jobs: Job[]) => void): void {
    this.take?.answer([]);
    this.take = { max, answer, order: takesOpened++ };
  }

  /** Answers the open take, if any. */
  answerTake(jobs: Job[]): void {
    const take = this.take;
    this.take = undefined;
    take?.answer(jobs);
  }

  openStops(answer: (ids: string[]) => void): void {
    this.stopsWaiter?.([]);
    this.stopsWaiter = answer;
  }

  answerStops(ids: string[]): void {
    const waiter = this.stopsWaiter;
    this.stopsWaiter = undefined;
    waiter?.(ids);
  }

  /** Queues a stop for the next job-stop answer, answering an open poll at once. */
  requestStop(jobId: string): void {
    this.stops.push(jobId);
    if (this.stopsWaiter) this.answerStops(this.takeStops());
  }

  /** The pending stops, emptied: a stop is delivered once. */
  takeStops(): string[] {
    const ids = this.stops;
    this.stops = [];
    return ids;
  }

  /** Answers every open long-poll with "nothing" (the worker is stopping or gone). */
  answerPolls(): void {
    this.answerTake([]);
    this.answerStops([]);
  }
}
