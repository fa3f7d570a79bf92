// A held job's stop: the job cancelled, timed out, or its worker killed. A handler sees it as
// `context.signal`. Making an AbortSignal and listening to it costs microseconds on every job's path,
// with the worker's caches cold each time it wakes for a job, so one is made only for a handler that
// reads it.

/** What `unless()` gives once the job is stopped. */
export const STOPPED = Symbol("stopped");

export class JobStop {
  aborted = false;
  /** @type {unknown} what the job was stopped for */
  #reason;
  /** @type {AbortController | undefined} */
  #controller;
  /** @type {Promise<typeof STOPPED> | undefined} */
  #stopped;
  /** @type {((value: typeof STOPPED) => void) | undefined} */
  #settle;

  /** The handler's signal: aborted, with the reason, once the job is stopped. */
  get signal() {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Stops the job; only the first reason counts. */
  abort(reason) {
    if (this.aborted) return;
    this.aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    this.#settle?.(STOPPED);
  }

  /**
   * Settles with `value`, or with STOPPED if the job is stopped first: a handler that ignores its signal
   * still frees its slot. A value that is no promise is given back as it is.
   * @template T
   * @param {T | PromiseLike<T>} value
   * @returns {T | Promise<T | typeof STOPPED>}
   */
  unless(value) {
    if (typeof (/** @type {any} */ (value)?.then) !== "function") return /** @type {T} */ (value);
    this.#stopped ??= this.aborted ? Promise.resolve(STOPPED) : new Promise((resolve) => (this.#settle = resolve));
    return Promise.race([value, this.#stopped]);
  }
}
