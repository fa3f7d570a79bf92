import type { MiddlewareHandler } from "hono";

/** Submissions admitted per turn of the event loop before the rest wait for the next turn. */
export const SUBMISSIONS_PER_TURN = 16;

/**
 * Keeps worker traffic its share of the event loop under any client load. Each keep-alive connection
 * gets one request per turn of the loop, so 200 submitting clients against a few workers' connections
 * would take nearly every turn, and jobs would stop completing until the submitting stopped. Past
 * SUBMISSIONS_PER_TURN in one turn, a submission waits (without its body read) for a later turn, in
 * arrival order; worker requests are never held. Without worker traffic a turn is short, so
 * submissions alone are barely slowed.
 */
export function submissionGate(perTurn = SUBMISSIONS_PER_TURN): MiddlewareHandler {
  let admitted = 0;
  let scheduled = false;
  const waiting: (() => void)[] = [];
  const nextTurn = () => {
    scheduled = false;
    admitted = 0;
    for (const admit of waiting.splice(0, perTurn)) {
      admitted++;
      admit();
    }
    schedule();
  };
  const schedule = () => {
    if (scheduled || (admitted === 0 && waiting.length === 0)) return;
    scheduled = true;
    setImmediate(nextTurn);
  };
  return async (_c, next) => {
    if (admitted < perTurn && waiting.length === 0) admitted++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    schedule();
    await next();
  };
}
