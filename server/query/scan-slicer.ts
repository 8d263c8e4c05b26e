/**
 * Shares the event loop among long scans (queries over large journals): a scan runs in slices
 * of at most `sliceMs`, and at most one slice runs per turn of the event loop, the scans
 * waiting taking turns in order. Between two slices the loop handles its I/O, so appends and
 * acks of other clients wait at most one slice, however many scans run.
 */
export class ScanSlicer {
  readonly #sliceMs: number;
  readonly #waiting: ((sliceEnd: number) => void)[] = [];
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  #closed = false;

  /** `sliceMs`: the longest a slice runs before its scan waits for another turn. */
  constructor(sliceMs = 4) {
    this.#sliceMs = sliceMs;
  }

  /**
   * Resolves, in a later turn of the event loop, with the time (`performance.now()`) at which
   * the caller's slice ends: past it, the caller calls `turn()` again before going on.
   */
  turn(): Promise<number> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#schedule();
    });
  }

  /** Lets every waiting scan run at once (they see their deadline passed and end); later turns resolve at once. Idempotent. */
  close(): void {
    this.#closed = true;
    clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    for (const resolve of this.#waiting.splice(0)) resolve(0);
  }

  #schedule(): void {
    if (this.#closed) {
      for (const resolve of this.#waiting.splice(0)) resolve(0);
      return;
    }
    this.#scheduled ??= setImmediate(this.#run);
  }

  readonly #run = (): void => {
    this.#scheduled = undefined;
    const resolve = this.#waiting.shift();
    // The slice runs in the microtasks right after this callback; the next one a turn later.
    if (this.#waiting.length > 0) this.#schedule();
    resolve?.(performance.now() + this.#sliceMs);
  };
}
