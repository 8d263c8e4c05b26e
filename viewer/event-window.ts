/**
 * The part of a journal the page holds in memory: a contiguous run of the
 * (filtered) journal's events, sorted by seq, never more than `max` of them,
 * plus where the end-of-history line falls. However long the journal, the
 * page keeps at most `max` events here and at most `max` more in the backlog
 * of live events it is not showing yet; everything else is fetched again by
 * seq or time when the user scrolls back to it.
 *
 * Pure data, no I/O and no DOM: {@link JournalFeed} drives it, the list draws it.
 */
import type { EventEntry } from './types.js';

/** One row of the list: an event, or the end-of-history line. */
export type Row = { kind: 'event'; pos: number; event: EventEntry } | { kind: 'end-of-history'; pos: number };

/** Which side of the window to drop from when it grows past `max`: the side away from what the user looks at. */
export type TrimSide = 'top' | 'bottom';

export class EventWindow {
  /** Most events held. */
  readonly max: number;
  #events: EventEntry[] = [];
  /** The first event held is the first (matching) event of the journal. */
  #atStart = false;
  /** The last event held is the newest known one: live events are appended directly. */
  #atEnd = false;
  /** The seq after which the end-of-history line goes (`0`: before every event); undefined before the sentinel. */
  #historyEnd: number | undefined;
  #rows: Row[] | undefined;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 2) throw new RangeError('max must be an integer >= 2');
    this.max = max;
  }

  get events(): readonly EventEntry[] {
    return this.#events;
  }

  get length(): number {
    return this.#events.length;
  }

  get atStart(): boolean {
    return this.#atStart;
  }

  get atEnd(): boolean {
    return this.#atEnd;
  }

  get historyEnd(): number | undefined {
    return this.#historyEnd;
  }

  get first(): EventEntry | undefined {
    return this.#events[0];
  }

  get last(): EventEntry | undefined {
    return this.#events[this.#events.length - 1];
  }

  /** Replaces everything held (a jump, or a new filter). */
  reset(events: readonly EventEntry[], atStart: boolean, atEnd: boolean): void {
    this.#events = dedupeSorted(events);
    this.#atStart = atStart;
    this.#atEnd = atEnd;
    this.#trim('bottom');
    this.#rows = undefined;
  }

  /** The window no longer holds the newest events: live events wait elsewhere until it catches up. */
  detachEnd(): void {
    if (!this.#atEnd) return;
    this.#atEnd = false;
    this.#rows = undefined;
  }

  /** Marks where history ended: after `seq` (0 when history was empty). */
  markHistoryEnd(seq: number): void {
    this.#historyEnd = seq;
    this.#rows = undefined;
  }

  /**
   * Adds events older than the first one held (a page fetched while scrolling
   * up). `reachedStart`: nothing older matches. Trims from the bottom.
   */
  prepend(older: readonly EventEntry[], reachedStart: boolean): void {
    const first = this.first?.seq ?? Infinity;
    const fresh = dedupeSorted(older.filter((event) => event.seq < first));
    this.#events = fresh.concat(this.#events);
    if (reachedStart) this.#atStart = true;
    this.#trim('bottom');
    this.#rows = undefined;
  }

  /**
   * Adds events newer than the last one held. `reachedEnd`: these include the
   * newest known event, so live events may follow directly. `trim` says which
   * side gives way when the window is full.
   */
  append(newer: readonly EventEntry[], reachedEnd: boolean, trim: TrimSide): void {
    const last = this.last?.seq ?? 0;
    const fresh = dedupeSorted(newer.filter((event) => event.seq > last));
    if (fresh.length > 0) this.#events = this.#events.concat(fresh);
    if (reachedEnd) this.#atEnd = true;
    this.#trim(trim);
    this.#rows = undefined;
  }

  /** The rows to draw: the events, with the end-of-history line where it falls inside the window. */
  get rows(): readonly Row[] {
    if (this.#rows !== undefined) return this.#rows;
    const rows: Row[] = this.#events.map((event) => ({ kind: 'event', pos: event.seq, event }));
    const end = this.#historyEnd;
    if (end !== undefined) {
      const index = upperBound(this.#events, end);
      // Shown only where the window reaches both sides of it, or ends with the last event of history.
      const reachesAfter = index < this.#events.length || this.#atEnd || (index > 0 && this.#events[index - 1]!.seq === end);
      if ((index > 0 || this.#atStart) && reachesAfter) {
        rows.splice(index, 0, { kind: 'end-of-history', pos: end + 0.5 });
      }
    }
    this.#rows = rows;
    return rows;
  }

  /** Index in {@link rows} of the row at `pos` (a seq, or the line's), or of the first row after it. */
  rowIndexAt(pos: number): number {
    const rows = this.rows;
    let low = 0;
    let high = rows.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (rows[mid]!.pos < pos) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #trim(side: TrimSide): void {
    const excess = this.#events.length - this.max;
    if (excess <= 0) return;
    if (side === 'top') {
      this.#events = this.#events.slice(excess);
      this.#atStart = false;
    } else {
      this.#events = this.#events.slice(0, this.max);
      this.#atEnd = false;
    }
  }
}

/** Index of the first event with a seq greater than `seq`. */
function upperBound(events: readonly EventEntry[], seq: number): number {
  let low = 0;
  let high = events.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (events[mid]!.seq <= seq) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The events sorted by seq, each seq once. Pages already come sorted; this only guards the invariant. */
function dedupeSorted(events: readonly EventEntry[]): EventEntry[] {
  let sorted = true;
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.seq <= events[i - 1]!.seq) {
      sorted = false;
      break;
    }
  }
  if (sorted) return events.slice();
  const bySeq = new Map<number, EventEntry>();
  for (const event of events) bySeq.set(event.seq, event);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}
