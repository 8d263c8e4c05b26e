/**
 * Busy time between paired events per key per period (`GET /v1/journals/{journal}/spans`,
 * MADSci's session utilization): a `start` event opens a span for its key (`context.KEY`),
 * the next `stop` event of that key closes it. Per period and key, a row says how many spans
 * overlap the period, how long they were open inside it (to the microsecond) and what part
 * of the period that is.
 *
 * - A span that crosses period boundaries is split across the periods: each gets the part
 *   inside it, and counts the span once.
 * - A second `start` while its key's span is open is ignored: the span runs from the first.
 * - A `stop` with no open span for its key is ignored.
 * - A span still open at the end counts up to `to`, or up to now when that is earlier or
 *   `to` is not given.
 * - Spans opened before `from` count from `from`: the scan reads the journal from its first
 *   event to know which spans are open at `from` (events other than `start` and `stop` are
 *   passed over without being parsed).
 *
 * Only open spans and the period at hand are kept, never the journal; rows are written as
 * periods close. A period in which no span of a key is open has no row for it.
 */
import type { JournalStore, StoredEvent } from '../store.js';
import type { Calendar, Period } from './calendar.js';
import { scanRange, type RangeVisitor, type ReportBudget, type SliceClock } from './report-scan.js';
import { compareGroups, contextValue, ReportTable, tooLarge, type Group } from './report-table.js';

/** What a spans report measures. */
export interface SpanRequest {
  readonly calendar: Calendar;
  /** Microseconds since the epoch: the rows begin here. */
  readonly from?: number | undefined;
  /** Microseconds since the epoch: the rows end here; spans still open are counted up to it. */
  readonly to?: number | undefined;
  /** The name of the events that open a span. */
  readonly start: string;
  /** The name of the events that close one. */
  readonly stop: string;
  /** The path in the context of the key that pairs them (`['instrument']`); undefined: one key, `null`. */
  readonly key?: readonly string[] | undefined;
  /** Now, in microseconds: spans still open count up to it at most. */
  readonly now: number;
}

/** One row: a period (ISO times, cut by `from` and `to`), a key, its spans and busy time in the period. */
export interface SpanRow {
  readonly start: string;
  readonly end: string;
  readonly key: Group;
  /** Spans of the key that overlap the period. */
  readonly spans: number;
  /** Microseconds the key was busy inside the period. */
  readonly busyMicros: number;
  /** `busyMicros` over the period's length (the part of it inside `from` and `to`). */
  readonly utilization: number;
}

/** Measures the spans of `journal` that `request` asks for; rows in period order, then key order. */
export async function spanReport(store: JournalStore, journal: string, request: SpanRequest, budget: ReportBudget): Promise<SpanRow[]> {
  const table = new ReportTable<SpanRow>(budget, 'key');
  // The scan starts at the journal's first event: spans opened before `from` are needed.
  await scanRange(store, journal, { to: request.to }, budget, new SpanMeter(request, table, budget.maxGroups));
  return table.rows;
}

interface OpenSpan {
  readonly key: unknown;
  /** When it opened, microseconds. */
  readonly since: number;
}

interface Tally {
  spans: number;
  busy: number;
}

class SpanMeter implements RangeVisitor {
  readonly #request: SpanRequest;
  readonly #table: ReportTable<SpanRow>;
  readonly #maxOpen: number;
  /** Open spans by the JSON of their key. */
  readonly #open = new Map<string, OpenSpan>();
  /** The period at hand (cut by from and to) and each key's tally in it; undefined between periods. */
  #period: Period | undefined;
  #tallies = new Map<Group, Tally>();
  /** Whether the scan has reached `from`. */
  #inRange = false;
  /** The newest event scanned, microseconds. */
  #last = 0;

  constructor(request: SpanRequest, table: ReportTable<SpanRow>, maxOpen: number) {
    this.#request = request;
    this.#table = table;
    this.#maxOpen = maxOpen;
  }

  visit(event: StoredEvent, micros: number, clock: SliceClock): boolean {
    const { start, stop, key: path, from } = this.#request;
    const opens = event.name === start;
    if (!opens && event.name !== stop) return true;
    const key = path === undefined ? null : (contextValue(event, path) ?? null);
    const text = JSON.stringify(key) ?? 'null';
    const span = this.#open.get(text);
    if (from !== undefined && micros < from) {
      // Before the range: only which spans are open at its start matters.
      if (opens && span === undefined) this.#opened(text, key, micros);
      else if (!opens) this.#open.delete(text);
      return true;
    }
    if (!this.#advance(micros, clock)) return false;
    this.#last = micros;
    if (opens) {
      if (span === undefined) this.#opened(text, key, micros);
    } else if (span !== undefined) {
      this.#count(span, micros);
      this.#open.delete(text);
    }
    return true;
  }

  finish(clock: SliceClock): boolean {
    const until = this.#until();
    this.#enterRange(until);
    for (let period = this.#period; period !== undefined; period = this.#period) {
      if (this.#open.size === 0 || until <= period.end) {
        this.#close(Math.min(period.end, until));
        return true;
      }
      if (clock.spent()) return false;
      this.#close(period.end);
      this.#enter(this.#window(period.end));
    }
    return true;
  }

  /** Moves the period at hand forward to the one that holds `micros`; false when the slice was spent first. */
  #advance(micros: number, clock: SliceClock): boolean {
    this.#enterRange(Infinity);
    for (let period = this.#period; period !== undefined && micros >= period.end; period = this.#period) {
      if (clock.spent()) return false;
      this.#close(period.end);
      // Spans open across the boundary make the next period's rows, events or not.
      if (this.#open.size > 0) this.#enter(this.#window(period.end));
    }
    if (this.#period === undefined) this.#enter(this.#window(micros));
    return true;
  }

  /** On the first event in the range (or at the end, before `until`): spans found open before `from` open the period of `from`. */
  #enterRange(until: number): void {
    if (this.#inRange) return;
    this.#inRange = true;
    const { from } = this.#request;
    if (from !== undefined && from < until && this.#open.size > 0) this.#enter(this.#window(from));
  }

  /** When the spans still open stop counting: `to`, or now (or the newest event, should it be later), whichever is earlier. */
  #until(): number {
    const now = Math.max(this.#request.now, this.#last);
    const { to } = this.#request;
    return to !== undefined && to < now ? to : now;
  }

  #window(micros: number): Period {
    const { calendar, from, to } = this.#request;
    return calendar.window(micros, from, to);
  }

  #opened(text: string, key: unknown, since: number): void {
    if (this.#open.size >= this.#maxOpen) {
      throw tooLarge(`more than ${this.#maxOpen} spans are open at once; choose a key with fewer values`, {
        path: 'query.key',
        message: `more than ${this.#maxOpen} distinct values`,
      });
    }
    this.#open.set(text, { key, since });
  }

  /**
   * Counts the part of `span` in the period at hand up to `upTo`, if it has one: a span that
   * ends where the period begins does not overlap it.
   */
  #count(span: OpenSpan, upTo: number): void {
    const busy = upTo - Math.max(span.since, this.#period!.start);
    if (busy <= 0) return;
    const group = this.#table.group(span.key);
    const tally = this.#tallies.get(group);
    if (tally === undefined) {
      this.#tallies.set(group, { spans: 1, busy });
    } else {
      tally.spans++;
      tally.busy += busy;
    }
  }

  #enter(period: Period): void {
    this.#period = period;
    this.#tallies = new Map();
  }

  /** Closes the period at hand, the spans still open counting up to `upTo`, and writes its rows. */
  #close(upTo: number): void {
    const period = this.#period!;
    for (const span of this.#open.values()) this.#count(span, upTo);
    const { calendar } = this.#request;
    const start = calendar.iso(period.start);
    const end = calendar.iso(period.end);
    const length = period.end - period.start;
    for (const key of [...this.#tallies.keys()].sort(compareGroups)) {
      const { spans, busy } = this.#tallies.get(key)!;
      this.#table.push({ start, end, key, spans, busyMicros: busy, utilization: busy / length }, key, start.length + end.length);
    }
    this.#period = undefined;
    this.#tallies = new Map();
  }
}
