import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import checkWorkers from "../helpers/global-setup.js";
import { totals } from "./figures.js";

/** The suite's figures, printed at its end (copy them into test/reliability/README.md with the date). */
export default function setup(): () => Promise<void> {
  const folder = mkdtempSync(join(tmpdir(), "emulator-reliability-"));
  process.env.RELIABILITY_FIGURES = folder;
  const started = Date.now();
  const afterWorkers = checkWorkers();
  return async () => {
    try {
      await afterWorkers();
    } finally {
      const t = totals(folder);
      rmSync(folder, { recursive: true, force: true });
      const machine = `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.versions.node}, ${process.platform}`;
      console.log(
        [
          `reliability summary (${new Date().toISOString().slice(0, 10)}, ${machine}, ${Math.round((Date.now() - started) / 1000)} s):`,
          `  requests tried: ${t.requests}`,
          `  crashes: ${t.crashes}`,
          `  acknowledged jobs: ${t.acknowledged}, lost: ${t.lost}, run twice beyond documented requeues: ${t.runTwice}`,
          `  documented requeues that ran a job again: ${t.requeuedRuns}`,
          `  kill -9 of the emulator: ${t.emulatorKills}, of a worker: ${t.workerKills}`,
          `  peak RSS of an emulator: ${t.peakRssMB} MB`,
        ].join("\n"),
      );
    }
  };
}
