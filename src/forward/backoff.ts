/** Capped exponential backoff with jitter, and a wait that a signal cuts short. */

/**
 * The delay before retry number `attempt` (0 for the first): `initial · 2^attempt` capped at
 * `max`, then drawn uniformly from its upper half, so that many forwarders retrying the same
 * receiver do not all come back at once. Seconds in, seconds out.
 */
export function backoffDelay(attempt: number, initial: number, max: number): number {
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 52));
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

/** Resolves after `seconds`, or rejects with the signal's reason as soon as it is aborted. */
export function sleep(seconds: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, seconds * 1000);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
