/**
 * Enforces the journals' retention policies in the background: every `interval` ms it walks
 * the store's journals a page at a time and, for each one with a retention policy, removes (or
 * archives) the events past its limits, oldest first, through the store's `trim`, which works
 * in bounded atomic steps. One round at a time; a round that outlasts the interval delays the
 * next. Appends, replays and live events do no work for it.
 */
import { NEXT_TURN, type SliceRunner } from '../budget/scan-slicer.js';
import type { JournalPolicies, RetentionPolicy } from '../journal-policies.js';
import type { JournalStore, StoredEvent } from '../store.js';

/** Journals listed per store call while a round walks them. */
const LIST_PAGE = 100;
/** Events per read while sizing a journal for `maxBytes`: one read and its events are one slice. */
const READ_PAGE = 256;
/** Journals whose size (for `maxBytes`) is remembered between rounds; past it, the memory starts again empty. */
const SIZE_CACHE_LIMIT = 10_000;

/** Removes a journal's events below `beforeSeq` (that seq kept): a trim, or an archive when the policy says so. */
export type Remover = (journal: string, beforeSeq: number, policy: RetentionPolicy) => Promise<number>;

export interface RetentionWorkerOptions {
  readonly store: JournalStore;
  readonly policies: JournalPolicies;
  /** Milliseconds between the end of one round and the start of the next. */
  readonly interval: number;
  readonly remove: Remover;
  /** Told of a round's failure (the next round tries again). */
  readonly failed?: (error: unknown) => void;
  /** The clock, seconds since the epoch. @default Date.now() / 1000 */
  readonly now?: () => number;
  /** Runs each store read of a round and the work on it, sharing the event loop with other scans. @default NEXT_TURN */
  readonly scheduler?: SliceRunner;
}

/** What a journal with `maxBytes` is known to hold: the bytes of its events from `from` (seq) through `through` (timestamp). */
interface Size {
  from: number;
  through: number;
  throughSeq: number;
  bytes: number;
}

export class RetentionWorker {
  readonly #options: RetentionWorkerOptions;
  readonly #sizes = new Map<string, Size>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #round: Promise<void> | undefined;
  #closed = false;

  constructor(options: RetentionWorkerOptions) {
    this.#options = options;
  }

  /** Schedules the first round one interval from now. */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#schedule();
  }

  /** Runs one round now (after the one running, if any); resolves when it is done. */
  async runOnce(): Promise<void> {
    while (this.#round) await this.#round;
    this.#round = this.#run().finally(() => (this.#round = undefined));
    return this.#round;
  }

  /** Clears the timer and waits for the round running, which stops between journals. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#round) await this.#round.catch(() => {});
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.runOnce().then(
        () => !this.#closed && this.#schedule(),
        (error: unknown) => {
          // A round cut short by the server closing is no failure.
          if (this.#closed) return;
          this.#options.failed?.(error);
          this.#schedule();
        },
      );
    }, this.#options.interval);
    this.#timer.unref?.();
  }

  async #run(): Promise<void> {
    const { store, policies } = this.#options;
    let after: string | undefined;
    for (;;) {
      const page = await this.#slice(() => store.listJournals(after, LIST_PAGE));
      for (const { name, head } of page) {
        if (this.#closed) return;
        const retention = policies.for(name)?.retention;
        if (retention !== undefined) await this.#enforce(name, head.seq, retention);
      }
      if (page.length < LIST_PAGE) return;
      after = page.at(-1)!.name;
    }
  }

  /** Removes what `policy` says `journal` keeps no more. */
  async #enforce(journal: string, headSeq: number, policy: RetentionPolicy): Promise<void> {
    const { store } = this.#options;
    const { maxAge, maxEvents, maxBytes } = policy;
    // The seq from which events are kept: the newest event always is.
    let keepFrom = 0;
    if (maxEvents !== undefined) keepFrom = Math.max(keepFrom, headSeq - maxEvents + 1);
    if (maxAge !== undefined) {
      const bound = this.#now() - maxAge;
      // The first event at or after the bound: events before it go.
      const [kept] = await store.read(journal, prevTimestamp(bound), 1);
      keepFrom = Math.max(keepFrom, kept === undefined ? headSeq : kept.seq);
    }
    if (maxBytes === undefined) {
      if (keepFrom > 0) await this.#removeBelow(journal, Math.min(keepFrom, headSeq), policy, 0);
      return;
    }
    const size = await this.#size(journal);
    // Past the other limits, and then past the size, the oldest go: read forward from the first kept.
    let bytes = size.bytes;
    let removedBytes = 0;
    let cut = size.from;
    let after = -1;
    /** One slice: a read and its events; true once the cut is found. */
    const step = async (): Promise<boolean> => {
      const page = after < 0 ? await store.readFromSeq(journal, size.from, READ_PAGE) : await store.read(journal, after, READ_PAGE);
      if (page.length === 0) return true;
      for (const event of page) {
        if (event.seq >= size.throughSeq || (event.seq >= keepFrom && bytes <= maxBytes)) {
          cut = event.seq;
          return true;
        }
        const eventBytes = byteSize(event);
        bytes -= eventBytes;
        removedBytes += eventBytes;
        cut = event.seq + 1;
      }
      after = page.at(-1)!.timestamp;
      return false;
    };
    while (!(await this.#slice(step)));
    if (cut > size.from) await this.#removeBelow(journal, cut, policy, removedBytes);
  }

  async #removeBelow(journal: string, beforeSeq: number, policy: RetentionPolicy, removedBytes: number): Promise<void> {
    const { store, remove } = this.#options;
    const { first } = await store.start(journal);
    if (first.seq === 0 || first.seq >= beforeSeq) return;
    await remove(journal, beforeSeq, policy);
    const size = this.#sizes.get(journal);
    if (size === undefined) return;
    const now = await store.start(journal);
    // The events counted out are the ones gone, unless something else removed more meanwhile.
    if (now.first.seq >= beforeSeq && now.removed.seq < beforeSeq) {
      size.from = now.first.seq;
      size.bytes -= removedBytes;
    } else {
      this.#sizes.delete(journal);
    }
  }

  /** What the journal holds, from its first event through its newest: remembered, and read on from where it was last. */
  async #size(journal: string): Promise<Size> {
    const { store } = this.#options;
    const { first } = await store.start(journal);
    let size = this.#sizes.get(journal);
    // Something else removed events (a trim, an archive): count again.
    if (size === undefined || size.from !== first.seq) {
      size = { from: first.seq, through: prevTimestamp(first.timestamp), throughSeq: first.seq, bytes: 0 };
      if (this.#sizes.size >= SIZE_CACHE_LIMIT) this.#sizes.clear();
      this.#sizes.set(journal, size);
    }
    const counted = size;
    /** One slice: a read and its events' bytes; true at the journal's end. */
    const step = async (): Promise<boolean> => {
      const page = await store.read(journal, counted.through, READ_PAGE);
      for (const event of page) counted.bytes += byteSize(event);
      if (page.length > 0) {
        counted.through = page.at(-1)!.timestamp;
        counted.throughSeq = page.at(-1)!.seq;
      }
      return page.length < READ_PAGE;
    };
    while (!(await this.#slice(step)));
    return counted;
  }

  /** Runs `step` as one slice of the scheduler: a round never holds the event loop for more than a read and its events. */
  #slice<T>(step: () => Promise<T>): Promise<T> {
    return (this.#options.scheduler ?? NEXT_TURN).run('retention', step);
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now() / 1000;
  }
}

/** The bytes an event counts for `maxBytes`: its JSON, UTF-8. */
function byteSize(event: StoredEvent): number {
  return Buffer.byteLength(event.json);
}

/** A timestamp just below `timestamp`, for a read of events at or after it (`read` takes those strictly after). */
function prevTimestamp(timestamp: number): number {
  return (Math.round(timestamp * 1e6) - 1) / 1e6;
}
