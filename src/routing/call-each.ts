/** Calling a list of callbacks in order, synchronously until one returns a promise. */

/** True for a promise or any other thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/**
 * Calls each of `callbacks` with `event`, in order. While they return plain values this
 * stays synchronous and returns undefined; once one returns a promise, the rest wait for it
 * (and for each other), and a promise of the whole is returned, so that a consumer's
 * callback awaits it before its next event. The first callback to throw or reject stops
 * the rest and makes the error the result.
 */
export function callEach<E>(callbacks: readonly ((event: E) => unknown)[], event: E): Promise<void> | undefined {
  for (let i = 0; i < callbacks.length; i++) {
    const result = callbacks[i]!(event);
    if (isThenable(result)) return callRest(result, callbacks, i + 1, event);
  }
  return undefined;
}

async function callRest<E>(first: PromiseLike<unknown>, callbacks: readonly ((event: E) => unknown)[], from: number, event: E): Promise<void> {
  await first;
  for (let i = from; i < callbacks.length; i++) await callbacks[i]!(event);
}

