/**
 * The scan under every report: a journal's events from a point in time onwards, oldest
 * first, read through the store's paged `read` a page at a time, each page and what is done
 * with it one slice run by the server's scan scheduler, so that a report shares the event loop
 * with appends, acks and other scans; nothing of the journal is held but the page at hand.
 *
 * A slice stops after `SLICE_WORK_MS` of work even inside a page (the visitor is given the same
 * event again in the next slice); the scan as a whole stops at its time budget with
 * `REPORT_TOO_LARGE`, or when its signal is aborted (the client went away).
 */
import { ErrorCode, JournalError } from '../../src/errors.js';
import { toMicros } from '../encode.js';
import { SLICE_WORK_MS, type SliceRunner } from '../budget/scan-slicer.js';
import type { JournalStore, StoredEvent } from '../store.js';
import type { TableLimits } from './report-table.js';

/** What a report may cost, and what runs its slices. */
export interface ReportBudget extends TableLimits {
  /** Milliseconds the whole scan may take, waiting for its slices included. */
  readonly timeMs: number;
  /** Events per store read. */
  readonly readSize: number;
  /** Runs the scan's slices, sharing the event loop with other scans. */
  readonly scheduler: SliceRunner;
  /** Whose scan this is, for the scheduler's fairness (a client address). */
  readonly owner: unknown;
  /** Aborted when the report is no longer wanted: the scan stops with the signal's reason. */
  readonly signal?: AbortSignal | undefined;
}

/** Tells a visitor whether its slice has run long enough. */
export interface SliceClock {
  /** True once the slice has worked for its share of the event loop: return and go on in the next slice. */
  spent(): boolean;
}

/** What a report does with the events of its scan. */
export interface RangeVisitor {
  /**
   * Takes one event (`micros`: its timestamp in microseconds). Returns false when it stopped
   * before taking it because the slice is spent: it is given the same event in the next slice.
   */
  visit(event: StoredEvent, micros: number, clock: SliceClock): boolean;
  /** Called after the last event, until it returns true (false: the slice is spent, call again). */
  finish(clock: SliceClock): boolean;
}

/** The events a scan reads: `from <= timestamp < to`, microseconds; without `to`, up to the head when the scan starts. */
export interface ScanRange {
  readonly from?: number | undefined;
  readonly to?: number | undefined;
}

/** Events between two looks at the clock. */
const CLOCK_STRIDE = 32;

/** Scans `range` of `journal` with `visitor`; resolves with the number of events read once the visitor has finished. */
export async function scanRange(store: JournalStore, journal: string, range: ScanRange, budget: ReportBudget, visitor: RangeVisitor): Promise<number> {
  const started = performance.now();
  const deadline = started + budget.timeMs;
  const { readSize, scheduler, owner, signal } = budget;
  let end = range.to;
  if (end === undefined) {
    const head = await store.head(journal);
    end = head.seq === 0 ? 0 : toMicros(head.timestamp) + 1;
  }
  const stop = end;
  /** The timestamp after which the next read starts. */
  let cursor = range.from === undefined || range.from <= 0 ? -1 : (range.from - 1) / 1e6;
  let page: StoredEvent[] = [];
  let index = 0;
  /** No event after the page at hand is in the range. */
  let last = false;
  let finished = false;
  let scanned = 0;
  let sliceEnd = 0;
  const clock: SliceClock = { spent: () => performance.now() >= sliceEnd };

  /** One slice: a page read if the last one is used up, then as much of it as the slice allows. */
  const step = async (): Promise<void> => {
    if (index >= page.length && !last) {
      page = await store.read(journal, cursor, readSize);
      index = 0;
      last = page.length < readSize;
    }
    sliceEnd = performance.now() + SLICE_WORK_MS;
    while (index < page.length) {
      const event = page[index]!;
      const micros = toMicros(event.timestamp);
      if (micros >= stop) {
        page = [];
        index = 0;
        last = true;
        break;
      }
      if (!visitor.visit(event, micros, clock)) return;
      cursor = event.timestamp;
      index++;
      scanned++;
      if (scanned % CLOCK_STRIDE === 0 && clock.spent()) return;
    }
    if (index >= page.length && last) finished = visitor.finish(clock);
  };

  while (!finished) {
    if (signal?.aborted) throw signal.reason;
    await scheduler.run(owner, step, signal);
    if (!finished && performance.now() >= deadline) {
      throw new JournalError(
        ErrorCode.REPORT_TOO_LARGE,
        `the report took longer than its time budget (${Math.round(budget.timeMs / 1000)} s) after ${scanned} events; narrow from and to`,
        { details: [{ path: 'query.from', message: `more events than one report scans within ${Math.round(budget.timeMs / 1000)} s` }] },
      );
    }
  }
  return scanned;
}
