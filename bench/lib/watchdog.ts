/**
 * Fails a measurement that stops making progress, so a stalled stream shows
 * as an error line with how far it got instead of hanging the run.
 */
export class StallWatchdog {
  readonly #timer: ReturnType<typeof setInterval>;
  #last: number;

  /** Calls `onStall(progress)` once `progress()` has not changed for between `ms` and twice that. */
  constructor(progress: () => number, onStall: (progress: number) => void, ms = 10_000) {
    this.#last = progress();
    this.#timer = setInterval(() => {
      const now = progress();
      if (now === this.#last) {
        this.stop();
        onStall(now);
      }
      this.#last = now;
    }, ms);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
