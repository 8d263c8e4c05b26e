/**
 * Shares the event loop among scans: subscriptions' history replays (filtered or not), HTTP
 * queries and reports. A scan does its work in bounded slices (one store read and what is done with it), each run through
 * {@link ScanSlicer.run}. The slices of one turn of the event loop run for at most `sliceMs`;
 * the rest wait for the next turn, after the I/O waiting now, so that appends and acks of other
 * clients are held up by about one slice at most, however many scans run. One slice runs at a
 * time, in arrival order.
 */
import { ErrorCode, JournalError } from '../../src/errors.js';
import { Fifo } from '../../src/fifo.js';

/** What runs a scan's slices: {@link ScanSlicer}, or any scheduler with the same `run`. */
export interface SliceRunner {
  /**
   * Runs `work` (one bounded slice: a page, not a loop) when its turn comes, and settles as
   * it did. An aborted `signal` takes a waiting slice out of the queue.
   */
  run<T>(owner: unknown, work: () => T | PromiseLike<T>, signal?: AbortSignal): Promise<T>;
}

/**
 * How long one slice works on what it read before it hands the event loop back, ms, even inside
 * a read: a scan whose work per event grows with the events' size (a selector parses each one)
 * looks at the clock every few events and goes on in its next slice.
 */
export const SLICE_WORK_MS = 2;

/**
 * A SliceRunner without a queue: each slice runs in the next turn of the event loop, after the
 * I/O waiting then. For background work of a component used without the server's slicer.
 */
export const NEXT_TURN: SliceRunner = {
  run: (_owner, work) => new Promise<void>((resolve) => setImmediate(resolve)).then(work),
};

interface Slice {
  readonly start: () => void;
  readonly fail: (error: unknown) => void;
  cancelled: boolean;
}

export class ScanSlicer implements SliceRunner {
  readonly #sliceMs: number;
  readonly #waiting = new Fifo<Slice>();
  #running = false;
  /** When this turn's first slice started, or undefined between turns. */
  #turnStart: number | undefined;
  #closed = false;

  /** `sliceMs`: how long the slices of one turn of the event loop may run. */
  constructor(sliceMs = 4) {
    this.#sliceMs = sliceMs;
  }

  run<T>(_owner: unknown, work: () => T | PromiseLike<T>, signal?: AbortSignal): Promise<T> {
    if (this.#closed) return Promise.reject(shuttingDown());
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        slice.cancelled = true;
        reject(signal!.reason);
      };
      const slice: Slice = {
        cancelled: false,
        fail: reject,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          Promise.resolve()
            .then(work)
            .then(resolve, reject)
            .finally(() => {
              this.#running = false;
              this.#pump();
            });
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(slice);
      this.#pump();
    });
  }

  /** Refuses waiting and later slices with SHUTTING_DOWN. Idempotent. */
  close(): void {
    this.#closed = true;
    for (let slice = this.#waiting.shift(); slice !== undefined; slice = this.#waiting.shift()) {
      if (!slice.cancelled) slice.fail(shuttingDown());
    }
  }

  #pump(): void {
    while (!this.#running && !this.#closed && this.#waiting.length > 0) {
      const now = performance.now();
      if (this.#turnStart === undefined) {
        this.#turnStart = now;
        setImmediate(this.#nextTurn);
      } else if (now - this.#turnStart >= this.#sliceMs) {
        return;
      }
      const slice = this.#waiting.shift()!;
      if (slice.cancelled) continue;
      this.#running = true;
      slice.start();
    }
  }

  readonly #nextTurn = (): void => {
    this.#turnStart = undefined;
    this.#pump();
  };
}

function shuttingDown(): JournalError {
  return new JournalError(ErrorCode.SHUTTING_DOWN, 'the server is shutting down');
}
