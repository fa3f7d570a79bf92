import type { Context } from "hono";
import { describe, expect, it } from "vitest";
import { submissionGate } from "../../../src/api/middleware/submission-gate.js";

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("the submission gate", () => {
  it("admits a few submissions per turn of the event loop and the rest in later turns, in arrival order", async () => {
    const gate = submissionGate(3);
    const admitted: number[] = [];
    const all = Array.from({ length: 8 }, (_, n) => gate({} as Context, async () => void admitted.push(n)));
    await Promise.resolve();
    expect(admitted).toEqual([0, 1, 2]);
    await nextTurn();
    expect(admitted).toEqual([0, 1, 2, 3, 4, 5]);
    await Promise.all(all);
    expect(admitted).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // A later turn starts afresh: nothing waits.
    await nextTurn();
    const alone: number[] = [];
    await gate({} as Context, async () => void alone.push(1));
    expect(alone).toEqual([1]);
  });
});
