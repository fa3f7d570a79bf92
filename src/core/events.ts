import type { JobStatus, WorkerMemory } from "../types.js";
import type { Job } from "./job.js";

/** The states a worker moves through; /health counts some of them (SPEC §3.2). */
export type WorkerState = "initializing" | "idle" | "running" | "outdated" | "stopping" | "throttled" | "unhealthy" | "exited";

/** How the platform counts a worker: active (the minimum), flex (up to the maximum), extra (beyond it, in a spike). */
export type WorkerType = "active" | "flex" | "extra";

/** Every change in the emulator is one of these, on one bus (DESIGN: one event stream). */
export type EmulatorEvent =
  | { type: "status"; endpointId: string; time: number; job: Job; previous?: JobStatus; note?: string }
  | { type: "stream"; endpointId: string; time: number; jobId: string; workerId: string; seq: number; output: unknown }
  | { type: "progress"; endpointId: string; time: number; jobId: string; workerId: string; output: unknown }
  | { type: "log"; endpointId: string; time: number; jobId?: string; workerId: string; stream: "stdout" | "stderr"; level?: string; message: string }
  | { type: "worker"; endpointId: string; time: number; workerId: string; state: WorkerState; previous?: WorkerState; detail?: string; coldStartMs?: number; workerType?: WorkerType; memory?: WorkerMemory }
  | { type: "request"; endpointId: string; time: number; workerId: string; method: string; path: string; status: number; failed: boolean; ms: number }
  | { type: "reload"; endpointId: string; time: number; filesChanged: number; workersReplaced: number; ms: number }
  | { type: "warning"; endpointId: string; time: number; message: string; jobId?: string; workerId?: string };

export type Listener = (event: EmulatorEvent) => void;

/** A synchronous fan-out of events; a failing listener never breaks the others or the emitter. */
export class EventBus {
  private readonly listeners = new Set<Listener>();

  /** Subscribes; returns the function that unsubscribes. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: EmulatorEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        process.emitWarning(`an event listener failed: ${(error as Error).stack ?? error}`);
      }
    }
  }
}
