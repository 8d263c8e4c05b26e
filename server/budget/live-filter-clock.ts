/**
 * The time live selectors may take in one turn of the event loop, server-wide. A live batch is
 * filtered in the turn that stored it, once per subscription with a `where` selector, and a
 * selector parses each event's JSON: many such subscriptions on a busy journal would hold the
 * event loop for as long as they take together. Once this turn's filtering has taken
 * `budgetMs`, the subscriptions with a selector that get a batch in it end with SLOW_CONSUMER
 * instead (see ../subscription.ts); a client resumes from the last event it received, through
 * history reads, which the scan slicer shares out with every other scan.
 */
export class LiveFilterClock {
  readonly #budgetMs: number;
  #spentMs = 0;
  #reset: ReturnType<typeof setImmediate> | undefined;

  /** `budgetMs`: the time live selectors may take per turn of the event loop. */
  constructor(budgetMs = 4) {
    this.#budgetMs = budgetMs;
  }

  /** True while this turn's live filtering has time left. */
  hasTime(): boolean {
    return this.#spentMs < this.#budgetMs;
  }

  /** Counts `ms` of live filtering against this turn; the count starts again in the next turn. */
  spend(ms: number): void {
    this.#spentMs += ms;
    this.#reset ??= setImmediate(() => {
      this.#reset = undefined;
      this.#spentMs = 0;
    });
  }

  /** Stops the turn's reset: for a server that closes. */
  close(): void {
    if (this.#reset !== undefined) clearImmediate(this.#reset);
    this.#reset = undefined;
    this.#spentMs = 0;
  }
}
