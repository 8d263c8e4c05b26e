/**
 * Runs `count` async operations in order of index with at most `size` unsettled at once: each
 * one that settles starts the next. Rejects on the first failure (no operation starts after it).
 *
 * Operations are counted, not their promises: lmdb-js gives every put of one transaction the
 * same promise, and a window that kept a set of distinct promises saw one where there were
 * thousands, so it never waited.
 */
export function window(count: number, size: number, operation: (index: number) => Promise<unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let unsettled = 0;
    let failed = false;
    const settled = (): void => {
      unsettled--;
      fill();
    };
    const failure = (error: unknown): void => {
      failed = true;
      reject(error);
    };
    function fill(): void {
      while (!failed && unsettled < size && next < count) {
        unsettled++;
        let promise: Promise<unknown>;
        try {
          promise = operation(next++);
        } catch (error) {
          failure(error);
          return;
        }
        promise.then(settled, failure);
      }
      if (!failed && unsettled === 0 && next === count) resolve();
    }
    fill();
  });
}
