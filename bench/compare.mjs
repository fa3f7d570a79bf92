// `node bench/compare.mjs OTHER_CHECKOUT [FIGURE…] [--rounds N]`: the same figures for this build and for
// another checkout's build (an earlier commit, built with `npm run build` there), alternating A, B, A, B… in
// one run on the same machine, so that a change is judged against noise measured alongside it. Prints the
// median value of each row for both builds and their ratio.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { cleanUp, percentiles, root, tempDir } from "./lib.mjs";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: "string", default: "3" } } });
const [other, ...figures] = positionals;
if (!other) {
  console.error("usage: node bench/compare.mjs OTHER_CHECKOUT [FIGURE…] [--rounds N]");
  process.exit(2);
}
const builds = { this: root, other: resolve(other) };
const rounds = Number(values.rounds);
const out = tempDir();
/** rows[figure][build] = every value measured */
const rows = new Map();

for (let round = 1; round <= rounds; round++) {
  for (const figure of figures.length ? figures : [undefined]) {
    for (const [name, build] of round % 2 ? Object.entries(builds) : Object.entries(builds).reverse()) {
      console.error(`round ${round}/${rounds}: ${figure ?? "every figure"} on ${name} (${build})`);
      const file = join(out, `${name}-${round}-${figure ?? "all"}.json`);
      execFileSync(process.execPath, [join(root, "bench/run.mjs"), ...(figure ? [figure] : [])], {
        env: { ...process.env, BENCH_BUILD: build, BENCH_OUT: file },
        stdio: ["ignore", "ignore", "inherit"],
      });
      for (const row of JSON.parse(readFileSync(file, "utf8")).rows) {
        if (!rows.has(row.figure)) rows.set(row.figure, { unit: row.unit, this: [], other: [] });
        rows.get(row.figure)[name].push(row.value);
      }
    }
  }
}

const median = (list) => percentiles(list).p50;
const spread = (list) => (list.length > 1 ? ` (${Math.min(...list)}–${Math.max(...list)})` : "");
console.log(`| figure | this build | ${other} | this / other |`);
console.log("|---|---|---|---|");
for (const [figure, row] of rows) {
  const a = median(row.this);
  const b = median(row.other);
  console.log(`| ${figure} | ${a} ${row.unit}${spread(row.this)} | ${b} ${row.unit}${spread(row.other)} | ${b ? (a / b).toFixed(2) : ""} |`);
}
cleanUp();
