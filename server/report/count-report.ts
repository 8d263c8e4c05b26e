/**
 * Events counted per period and group (`GET /v1/journals/{journal}/report`): one pass over
 * the events of `[from, to)`, oldest first. Only the period at hand is kept open (its counts
 * per group); when an event falls past it, its rows are written (in group order) and the
 * event's own period opens. Periods without events have no row.
 *
 * `from` and `to` cut the periods they fall inside: such a row starts at `from` or ends at
 * `to`, and counts what lies inside it. Without `from`, the first row is the whole period of
 * the first event; without `to`, the last is the whole period of the newest event when the
 * report started.
 */
import type { JournalStore, StoredEvent } from '../store.js';
import type { Calendar, Period } from './calendar.js';
import { scanRange, type RangeVisitor, type ReportBudget, type SliceClock } from './report-scan.js';
import { compareGroups, groupReader, ReportTable, type Group, type GroupBy } from './report-table.js';

/** What a report counts. */
export interface CountRequest {
  readonly calendar: Calendar;
  /** Microseconds since the epoch: only events at or after it. */
  readonly from?: number | undefined;
  /** Microseconds since the epoch: only events before it. */
  readonly to?: number | undefined;
  readonly by: GroupBy;
}

/** One row: a period (ISO times, cut by `from` and `to`), a group, and how many of its events the period holds. */
export interface CountRow {
  readonly start: string;
  readonly end: string;
  readonly group: Group;
  readonly count: number;
}

/** Counts the events of `journal` that `request` asks for; rows in period order, then group order. */
export async function countReport(store: JournalStore, journal: string, request: CountRequest, budget: ReportBudget): Promise<CountRow[]> {
  const table = new ReportTable<CountRow>(budget, 'by');
  const counter = new Counter(request, table);
  await scanRange(store, journal, request, budget, counter);
  return table.rows;
}

class Counter implements RangeVisitor {
  readonly #request: CountRequest;
  readonly #table: ReportTable<CountRow>;
  readonly #groupOf: (event: StoredEvent) => Group | undefined;
  /** The period at hand, cut by from and to, and its counts; undefined before the first event. */
  #period: Period | undefined;
  #counts = new Map<Group, number>();

  constructor(request: CountRequest, table: ReportTable<CountRow>) {
    this.#request = request;
    this.#table = table;
    this.#groupOf = groupReader(request.by, table as ReportTable<unknown>);
  }

  visit(event: StoredEvent, micros: number, clock: SliceClock): boolean {
    if (this.#period === undefined || micros >= this.#period.end) {
      // A new period costs a computation in the zone's calendar: not once the slice is spent.
      if (clock.spent()) return false;
      this.#flush();
      this.#period = this.#request.calendar.window(micros, this.#request.from, this.#request.to);
    }
    const group = this.#groupOf(event);
    if (group !== undefined) this.#counts.set(group, (this.#counts.get(group) ?? 0) + 1);
    return true;
  }

  finish(): boolean {
    this.#flush();
    return true;
  }

  /** Writes the rows of the period at hand. */
  #flush(): void {
    const period = this.#period;
    if (period === undefined || this.#counts.size === 0) return;
    const { calendar } = this.#request;
    const start = calendar.iso(period.start);
    const end = calendar.iso(period.end);
    const groups = [...this.#counts.keys()].sort(compareGroups);
    for (const group of groups) this.#table.push({ start, end, group, count: this.#counts.get(group)! }, group, start.length + end.length);
    this.#counts = new Map();
  }
}
