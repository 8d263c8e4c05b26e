/**
 * Capped exponential backoff with jitter: the one retry policy every client path uses
 * (reconnects, resubscriptions after a server's `end`, a logger's resends, a forwarder's
 * retries). The count of failures in a row, which sets the next delay, is reset only by a
 * success that lasted `healthyAfter` seconds, so a peer that accepts and at once drops (or
 * ends) cannot bring the delay back to its first value.
 */

/** The policy's settings, in seconds. */
export interface BackoffPolicy {
  /** The first delay; doubled at each failure in a row. */
  readonly initialDelay: number;
  /** The longest delay. */
  readonly maxDelay: number;
  /** How long a success must last before the count of failures is reset. */
  readonly healthyAfter: number;
}

/**
 * The delay before retry number `attempt` (0 for the first): `initial · 2^attempt` capped at
 * `max`, then drawn uniformly from its upper half, so that many clients retrying the same
 * server do not all come back at once. Seconds in, seconds out.
 */
export function backoffDelay(attempt: number, initial: number, max: number, random: () => number = Math.random): number {
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 52));
  return ceiling / 2 + (random() * ceiling) / 2;
}

/**
 * One retrying thing's state: how many failures in a row, and since when the current
 * success has lasted. No timer of its own: the caller schedules the retry with `next()`.
 *
 * @example
 * const backoff = new Backoff({ initialDelay: 0.1, maxDelay: 5, healthyAfter: 5 });
 * socket.on('open', () => backoff.succeeded());
 * socket.on('close', () => setTimeout(reconnect, backoff.next() * 1000));
 */
export class Backoff {
  readonly policy: BackoffPolicy;
  readonly #now: () => number;
  readonly #random: () => number;
  #failures = 0;
  /** When the current success began (ms on `now`'s clock), or undefined while failing. */
  #since: number | undefined;

  constructor(policy: BackoffPolicy, clock: { now?: () => number; random?: () => number } = {}) {
    this.policy = policy;
    this.#now = clock.now ?? Date.now;
    this.#random = clock.random ?? Math.random;
  }

  /** Failures in a row since the last success that lasted `healthyAfter`. */
  get failures(): number {
    return this.#failures;
  }

  /** The thing works again (a socket opened, a subscription was accepted); it counts once it has lasted `healthyAfter`. */
  succeeded(): void {
    this.#since ??= this.#now();
  }

  /** A failure: the seconds to wait before the next try. Resets the count first when the success before it lasted. */
  next(): number {
    if (this.#since !== undefined && this.#now() - this.#since >= this.policy.healthyAfter * 1000) this.#failures = 0;
    this.#since = undefined;
    const { initialDelay, maxDelay } = this.policy;
    return backoffDelay(this.#failures++, initialDelay, maxDelay, this.#random);
  }

  /** Forgets every failure (the caller starts afresh, as after `start()`). */
  reset(): void {
    this.#failures = 0;
    this.#since = undefined;
  }
}
