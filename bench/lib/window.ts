/** Runs `count` async operations in order of index with at most `size` unsettled at once; rejects on the first failure. */
export async function window(count: number, size: number, operation: (index: number) => Promise<unknown>): Promise<void> {
  const pending = new Set<Promise<unknown>>();
  for (let index = 0; index < count; index++) {
    const promise = operation(index);
    pending.add(promise);
    const settle = (): boolean => pending.delete(promise);
    promise.then(settle, settle);
    if (pending.size >= size) await Promise.race(pending);
  }
  await Promise.all(pending);
}
