/**
 * One page of a query over a journal's events: a bounded scan through the store's read paths
 * (forward from a timestamp, backward from one, a seek by seq), filtered, that stops at the
 * page's limit, its byte budget or its time budget, and says where the next page starts.
 *
 * A slice filters for at most SLICE_WORK_MS; the next one reads on from where it stopped.
 * A page that stops early for its time budget holds fewer events than `limit` (maybe none)
 * and still has a `next`: the scan goes on where it stopped. A forward query with no `until`
 * is bounded by the journal's head when its first page was read (the `next` pages carry it
 * as `until`), so that iterating over every page ends even while appends go on.
 */
import { formatMicros, firstMicrosAfter, toMicros } from '../encode.js';
import type { JournalStore, StoredEvent } from '../store.js';
import type { EventFilter } from './event-filter.js';
import { SLICE_WORK_MS, type SliceRunner } from '../budget/scan-slicer.js';

/** Events filtered between looks at the clock (SLICE_WORK_MS). */
const CLOCK_STRIDE = 16;

/** A query as the HTTP route reads it: the page's filters and where it starts. */
export interface EventQuery {
  /** Only events with `timestamp > since`. */
  readonly since?: number | undefined;
  /** Only events with `timestamp <= until`. */
  readonly until?: number | undefined;
  /** Only events with `seq > after`. */
  readonly after?: number | undefined;
  /** Events per page at most. */
  readonly limit: number;
  /** `asc`: oldest first; `desc`: newest first. */
  readonly order: 'asc' | 'desc';
  readonly names?: readonly string[] | undefined;
  /** The least log level, as a number. */
  readonly level?: number | undefined;
  /** The selector's JSON text, carried to the next page as it came. */
  readonly where?: string | undefined;
}

/** What one page may cost, and what runs its slices. */
export interface PageBudget {
  /** UTF-16 units of event JSON per page at most (one event always fits, however large). */
  readonly maxUnits: number;
  /** Milliseconds the page's scan may run, waiting for its slices included. */
  readonly timeMs: number;
  /** Events per store read: one read and its filtering are one slice. */
  readonly readSize: number;
  /** Runs the scan's slices, sharing the event loop with other scans. */
  readonly scheduler: SliceRunner;
  /** Whose scan this is, for the scheduler's fairness (a client address). */
  readonly owner: unknown;
  /** Aborted when the page is no longer wanted (the client went away): the scan stops. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Charges the page's units to the server's memory budget as it fills; false once the budget
   * cut the answer off, and the scan ends there.
   */
  readonly hold?: ((units: number) => boolean) | undefined;
}

export interface QueryPage {
  /** The events' JSON, as stored. */
  readonly events: string[];
  /** The query of the following page, or null when the scan reached the end of the range. */
  readonly next: EventQuery | null;
}

/** Runs one page of `query` over `journal`. Store errors reject (STORE_UNAVAILABLE); so does an aborted `signal`. */
export async function queryPage(
  store: JournalStore,
  journal: string,
  query: EventQuery,
  filter: EventFilter | undefined,
  budget: PageBudget,
): Promise<QueryPage> {
  const scan = new PageScan(store, journal, query, filter, budget);
  return query.order === 'desc' ? scan.backward() : scan.forward();
}

/** The state of one page's scan. */
class PageScan {
  readonly #store: JournalStore;
  readonly #journal: string;
  readonly #query: EventQuery;
  readonly #filter: EventFilter | undefined;
  readonly #budget: PageBudget;
  readonly #deadline: number;
  readonly #events: string[] = [];
  #units = 0;
  /** The timestamp of the last event scanned (forward: where the next read starts; backward: the next read's bound). */
  #cursor = 0;

  constructor(store: JournalStore, journal: string, query: EventQuery, filter: EventFilter | undefined, budget: PageBudget) {
    this.#store = store;
    this.#journal = journal;
    this.#query = query;
    this.#filter = filter;
    this.#budget = budget;
    this.#deadline = performance.now() + budget.timeMs;
  }

  async forward(): Promise<QueryPage> {
    const store = this.#store;
    const journal = this.#journal;
    const { since, after } = this.#query;
    const { readSize } = this.#budget;
    this.#cursor = since ?? -1;
    if (after !== undefined) {
      const [first] = await store.readFromSeq(journal, after + 1, 1);
      if (first === undefined) return this.#page(null);
      this.#cursor = Math.max(this.#cursor, (toMicros(first.timestamp) - 1) / 1e6);
    }
    const until = this.#query.until ?? (await store.head(journal)).timestamp;
    const next = (): EventQuery => ({ ...this.#query, after: undefined, since: this.#cursor, until });
    /** One slice: a read and its events. A page when the scan is over, else undefined. */
    const step = async (): Promise<QueryPage | undefined> => {
      const batch = await store.read(journal, this.#cursor, readSize);
      const sliceEnd = performance.now() + SLICE_WORK_MS;
      for (let i = 0; i < batch.length; i++) {
        // The slice is spent: the next one reads on from the cursor, after the last event looked at.
        if (i % CLOCK_STRIDE === CLOCK_STRIDE - 1 && performance.now() >= sliceEnd) return undefined;
        const event = batch[i]!;
        if (event.timestamp > until) return this.#page(null);
        this.#cursor = event.timestamp;
        if ((after !== undefined && event.seq <= after) || !this.#take(event)) continue;
        // A full page that ends the range has no next page.
        const following = batch[i + 1];
        const ended = following === undefined ? batch.length < readSize : following.timestamp > until;
        return this.#page(ended ? null : next());
      }
      return batch.length < readSize ? this.#page(null) : undefined;
    };
    return this.#scan(step, next);
  }

  async backward(): Promise<QueryPage> {
    const store = this.#store;
    const journal = this.#journal;
    const { since = -1, after = 0, until } = this.#query;
    const { readSize } = this.#budget;
    this.#cursor = until === undefined ? Infinity : firstMicrosAfter(until) / 1e6;
    /** The next page ends just below the oldest event scanned. */
    const next = (): EventQuery => ({ ...this.#query, until: (toMicros(this.#cursor) - 1) / 1e6 });
    const step = async (): Promise<QueryPage | undefined> => {
      const batch = await store.readBefore(journal, this.#cursor, readSize);
      const below = (event: StoredEvent): boolean => event.timestamp <= since || event.seq <= after;
      const sliceEnd = performance.now() + SLICE_WORK_MS;
      for (let i = 0; i < batch.length; i++) {
        // The slice is spent: the next one reads on from the cursor, before the last event looked at.
        if (i % CLOCK_STRIDE === CLOCK_STRIDE - 1 && performance.now() >= sliceEnd) return undefined;
        const event = batch[i]!;
        if (below(event)) return this.#page(null);
        this.#cursor = event.timestamp;
        if (!this.#take(event)) continue;
        const following = batch[i + 1];
        const ended = following === undefined ? batch.length < readSize : below(following);
        return this.#page(ended || event.seq === 1 ? null : next());
      }
      return batch.length < readSize ? this.#page(null) : undefined;
    };
    return this.#scan(step, next);
  }

  /** Runs `step` slice after slice until it gives the page, or the time budget ends the page early. */
  async #scan(step: () => Promise<QueryPage | undefined>, next: () => EventQuery): Promise<QueryPage> {
    const { scheduler, owner, signal } = this.#budget;
    for (;;) {
      const page = await scheduler.run(owner, step, signal);
      if (page !== undefined) return page;
      // Checked after a slice, never before the first: every page makes progress.
      if (performance.now() >= this.#deadline) return this.#page(next());
    }
  }

  /** Adds the event to the page if it passes the filter; true when that made the page full. */
  #take(event: StoredEvent): boolean {
    if (this.#filter !== undefined && !this.#filter(event)) return false;
    this.#events.push(event.json);
    this.#units += event.json.length;
    const room = this.#budget.hold?.(this.#units) ?? true;
    return this.#events.length >= this.#query.limit || this.#units >= this.#budget.maxUnits || !room;
  }

  #page(next: EventQuery | null): QueryPage {
    return { events: this.#events, next };
  }
}

/** A timestamp as a query string carries it: exact for the whole microseconds stores assign. */
export function formatTimestamp(timestamp: number): string {
  const micros = toMicros(timestamp);
  return micros / 1e6 === timestamp ? formatMicros(micros) : String(timestamp);
}

/** The query string of `query`, without the leading `?`: what `next` holds. */
export function queryString(query: EventQuery): string {
  const params = new URLSearchParams();
  if (query.since !== undefined) params.set('since', formatTimestamp(query.since));
  if (query.until !== undefined) params.set('until', formatTimestamp(query.until));
  if (query.after !== undefined) params.set('after', String(query.after));
  params.set('limit', String(query.limit));
  params.set('order', query.order);
  if (query.names !== undefined) params.set('names', query.names.join(','));
  if (query.level !== undefined) params.set('level', String(query.level));
  if (query.where !== undefined) params.set('where', query.where);
  return params.toString();
}
