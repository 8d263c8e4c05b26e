/** Capped exponential backoff with jitter (see ../backoff.ts), and a wait that a signal cuts short. */
export { backoffDelay } from '../backoff.js';
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
