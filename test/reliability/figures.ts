import { appendFileSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** What the reliability suite counts; summed over its files and printed at the end. */
export interface Figures {
  /** Requests sent to emulators (fuzzing, load, attacks). */
  requests?: number;
  /** Emulators that ended without being told to. */
  crashes?: number;
  /** Jobs whose submission was answered 200 (acknowledged). */
  acknowledged?: number;
  /** Acknowledged jobs missing from the database or never finished. */
  lost?: number;
  /** Executions beyond one per job plus one per documented requeue after a lost worker. */
  runTwice?: number;
  /** Documented requeues after a lost worker (or a killed emulator) that led to a second run. */
  requeuedRuns?: number;
  /** `kill -9` of an emulator, or of a worker. */
  emulatorKills?: number;
  workerKills?: number;
  /** The largest peak RSS of an emulator process, in MB. */
  peakRssMB?: number;
}

const dir = () => process.env.RELIABILITY_FIGURES as string;

/** Adds to this run's figures (a line per call in a file the suite's teardown reads). */
export function record(figures: Figures): void {
  appendFileSync(join(dir(), `${process.pid}.jsonl`), `${JSON.stringify(figures)}\n`);
}

/** Every figure recorded in `folder`, summed (peak RSS: the largest). */
export function totals(folder: string): Required<Figures> {
  const sum: Required<Figures> = { requests: 0, crashes: 0, acknowledged: 0, lost: 0, runTwice: 0, requeuedRuns: 0, emulatorKills: 0, workerKills: 0, peakRssMB: 0 };
  for (const file of readdirSync(folder)) {
    for (const line of readFileSync(join(folder, file), "utf8").split("\n").filter(Boolean)) {
      for (const [key, value] of Object.entries(JSON.parse(line) as Figures)) {
        const name = key as keyof Figures;
        sum[name] = name === "peakRssMB" ? Math.max(sum[name], value) : sum[name] + value;
      }
    }
  }
  return sum;
}
