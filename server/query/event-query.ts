/**
 * One page of a query over a journal's events: a bounded scan through the store's read paths
 * (forward from a timestamp, backward from one, a seek by seq), filtered, that stops at the
 * page's limit, its byte budget or its time budget, and says where the next page starts.
 *
 * A page that stops early for its time budget holds fewer events than `limit` (maybe none)
 * and still has a `next`: the scan goes on where it stopped. A forward query with no `until`
 * is bounded by the journal's head when its first page was read (the `next` pages carry it
 * as `until`), so that iterating over every page ends even while appends go on.
 */
import { formatMicros, firstMicrosAfter, toMicros } from '../encode.js';
import type { JournalStore, StoredEvent } from '../store.js';
import type { EventFilter } from './event-filter.js';
import type { ScanSlicer } from './scan-slicer.js';

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

/** What one page may cost. */
export interface PageBudget {
  /** UTF-16 units of event JSON per page at most (one event always fits, however large). */
  readonly maxUnits: number;
  /** Milliseconds the page's scan may run, waiting for its slices included. */
  readonly timeMs: number;
  /** Events per store read. */
  readonly readSize: number;
  /** Shares the event loop with other scans. */
  readonly slicer: ScanSlicer;
}

export interface QueryPage {
  /** The events' JSON, as stored. */
  readonly events: string[];
  /** The query of the following page, or null when the scan reached the end of the range. */
  readonly next: EventQuery | null;
}

/** Runs one page of `query` over `journal`. Store errors reject (STORE_UNAVAILABLE). */
export async function queryPage(
  store: JournalStore,
  journal: string,
  query: EventQuery,
  filter: EventFilter | undefined,
  budget: PageBudget,
): Promise<QueryPage> {
  const scan = new PageScan(query, filter, budget);
  return query.order === 'desc' ? scan.backward(store, journal) : scan.forward(store, journal);
}

/** The state of one page's scan. */
class PageScan {
  readonly #query: EventQuery;
  readonly #filter: EventFilter | undefined;
  readonly #budget: PageBudget;
  readonly #deadline: number;
  readonly events: string[] = [];
  #units = 0;
  #sliceEnd = 0;

  constructor(query: EventQuery, filter: EventFilter | undefined, budget: PageBudget) {
    this.#query = query;
    this.#filter = filter;
    this.#budget = budget;
    this.#deadline = performance.now() + budget.timeMs;
  }

  async forward(store: JournalStore, journal: string): Promise<QueryPage> {
    const { since, after, readSize } = { ...this.#query, ...this.#budget };
    let cursor = since ?? -1;
    if (after !== undefined) {
      const [first] = await store.readFromSeq(journal, after + 1, 1);
      if (first === undefined) return this.#page(null);
      cursor = Math.max(cursor, (toMicros(first.timestamp) - 1) / 1e6);
    }
    const until = this.#query.until ?? (await store.head(journal)).timestamp;
    await this.#slice();
    for (;;) {
      const batch = await store.read(journal, cursor, readSize);
      for (let i = 0; i < batch.length; i++) {
        const event = batch[i]!;
        if (event.timestamp > until) return this.#page(null);
        cursor = event.timestamp;
        if (after !== undefined && event.seq <= after) continue;
        if (!this.#take(event)) continue;
        if (!this.#full()) continue;
        // A full page that ends the range has no next page.
        const following = batch[i + 1];
        const ended = following === undefined ? batch.length < readSize : following.timestamp > until;
        return this.#page(ended ? null : { ...this.#query, after: undefined, since: cursor, until });
      }
      if (batch.length < readSize) return this.#page(null);
      if (await this.#outOfTime()) return this.#page({ ...this.#query, after: undefined, since: cursor, until });
    }
  }

  async backward(store: JournalStore, journal: string): Promise<QueryPage> {
    const { since = -1, after = 0, until, readSize } = { ...this.#query, ...this.#budget };
    let before = until === undefined ? Infinity : firstMicrosAfter(until) / 1e6;
    /** The next page's `until`: just below the oldest event scanned. */
    const nextUntil = (): EventQuery => ({ ...this.#query, until: (toMicros(before) - 1) / 1e6 });
    await this.#slice();
    for (;;) {
      const batch = await store.readBefore(journal, before, readSize);
      for (let i = 0; i < batch.length; i++) {
        const event = batch[i]!;
        if (event.timestamp <= since || event.seq <= after) return this.#page(null);
        before = event.timestamp;
        if (!this.#take(event) || !this.#full()) continue;
        const following = batch[i + 1];
        const ended =
          following === undefined ? batch.length < readSize : following.timestamp <= since || following.seq <= after;
        return this.#page(ended || event.seq === 1 ? null : nextUntil());
      }
      if (batch.length < readSize) return this.#page(null);
      if (await this.#outOfTime()) return this.#page(nextUntil());
    }
  }

  /** Adds the event to the page if it passes the filter. */
  #take(event: StoredEvent): boolean {
    if (this.#filter !== undefined && !this.#filter(event)) return false;
    this.events.push(event.json);
    this.#units += event.json.length;
    return true;
  }

  #full(): boolean {
    return this.events.length >= this.#query.limit || this.#units >= this.#budget.maxUnits;
  }

  /** After a store read: true once the time budget is spent; otherwise waits for another slice if this one is over. */
  async #outOfTime(): Promise<boolean> {
    const now = performance.now();
    if (now >= this.#deadline) return true;
    if (now >= this.#sliceEnd) await this.#slice();
    return false;
  }

  async #slice(): Promise<void> {
    this.#sliceEnd = await this.#budget.slicer.turn();
  }

  #page(next: EventQuery | null): QueryPage {
    return { events: this.events, next };
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
