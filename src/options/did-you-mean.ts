import leven from "leven";

/** The known name closest to a misspelt one, if it is close enough to be what was meant. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = leven(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  // A third of the name may be wrong (at least two letters): "max-worker", "maxWorker", "EMULATOR_MAX_WROKERS".
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** "; did you mean X?" for a misspelt name, or nothing. */
export function didYouMean(name: string, known: Iterable<string>, quote = (s: string) => s): string {
  const closest = closestName(name, known);
  return closest === undefined ? "" : `; did you mean ${quote(closest)}?`;
}
