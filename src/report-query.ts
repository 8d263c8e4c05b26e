/**
 * What `JournalClient.report()` and `JournalClient.spans()` ask for and answer, and their
 * options as query parameters (checked here, so that a mistake throws before any request).
 */
import { checkOptions, isPlainObject } from './validate.js';

/** A report's period: an hour, a day, an ISO week (Monday to Monday) or a month of the report's time zone. */
export type ReportPeriod = 'hour' | 'day' | 'week' | 'month';

/** An instant: seconds since the epoch, a Date, or an ISO 8601 date or time (a wall time of `tz` when it has no offset). */
export type ReportInstant = number | Date | string;

/** What both kinds of report take. */
export interface ReportRangeOptions {
  /** The rows' period. @default "day" */
  period?: ReportPeriod | undefined;
  /** An IANA time zone, whose hours, days, weeks and months the periods are. @default "UTC" */
  tz?: string | undefined;
  /** Only events at or after it; a period it falls inside is cut there. @default the journal's first event */
  from?: ReportInstant | undefined;
  /** Only events before it; a period it falls inside is cut there. @default the journal's newest event (spans: now) */
  to?: ReportInstant | undefined;
  /** `csv` for the server's CSV text instead of rows. @default "json" */
  format?: 'json' | 'csv' | undefined;
  /** Stops the request: it rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** What `report()` counts. */
export interface ReportOptions extends ReportRangeOptions {
  /** What the rows are grouped by: the event's name, its log level, or a context field (`context.instrument`). @default one group, `null` */
  by?: 'name' | 'level' | `context.${string}` | undefined;
}

/** What `spans()` measures. */
export interface SpansOptions extends ReportRangeOptions {
  /** The name of the events that open a span. */
  start: string;
  /** The name of the events that close one. */
  stop: string;
  /** The context field whose value pairs a start with its stop (`context.instrument`). @default every span has the key `null` */
  key?: `context.${string}` | undefined;
}

/** A report row: the events of one group in one period (ISO times in the report's zone). */
export interface ReportRow {
  readonly start: string;
  readonly end: string;
  /** The name, the level or the context value (`null` without `by`, or for events without the field). */
  readonly group: unknown;
  readonly count: number;
}

/** A spans row: one key's busy time in one period. */
export interface SpanRow {
  readonly start: string;
  readonly end: string;
  /** The context value that pairs the key's spans (`null` without `key`). */
  readonly key: unknown;
  /** Spans of the key that overlap the period. */
  readonly spans: number;
  /** Seconds the key was busy inside the period, to the microsecond. */
  readonly busySeconds: number;
  /** `busySeconds` over the period's length. */
  readonly utilization: number;
}

const PERIODS = ['hour', 'day', 'week', 'month'];
const RANGE_OPTIONS = ['period', 'tz', 'from', 'to', 'format', 'signal'] as const;

/** The query parameters of `report()`. */
export function reportParams(options: ReportOptions): URLSearchParams {
  checkOptions(options, [...RANGE_OPTIONS, 'by']);
  const params = rangeParams(options);
  if (options.by !== undefined) params.set('by', checkString(options.by, 'options.by'));
  return params;
}

/** The query parameters of `spans()`. */
export function spansParams(options: SpansOptions): URLSearchParams {
  if (!isPlainObject(options)) throw new TypeError('options must be an object with start and stop');
  checkOptions(options, [...RANGE_OPTIONS, 'start', 'stop', 'key']);
  const params = rangeParams(options);
  params.set('start', checkString(options.start, 'options.start'));
  params.set('stop', checkString(options.stop, 'options.stop'));
  if (options.key !== undefined) params.set('key', checkString(options.key, 'options.key'));
  return params;
}

function rangeParams(options: ReportRangeOptions): URLSearchParams {
  const params = new URLSearchParams();
  if (options.period !== undefined) {
    if (!PERIODS.includes(options.period)) throw new RangeError(`options.period must be one of ${PERIODS.join(', ')}`);
    params.set('period', options.period);
  }
  if (options.tz !== undefined) params.set('tz', checkString(options.tz, 'options.tz'));
  for (const name of ['from', 'to'] as const) {
    const value = options[name];
    if (value !== undefined) params.set(name, instant(value, `options.${name}`));
  }
  if (options.format !== undefined) {
    if (options.format !== 'json' && options.format !== 'csv') throw new RangeError('options.format must be "json" or "csv"');
    params.set('format', options.format);
  }
  return params;
}

/** An instant as the server reads it: seconds, or ISO 8601 text. */
function instant(value: ReportInstant, name: string): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be seconds since the epoch, >= 0`);
    return String(value);
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new RangeError(`${name} is an invalid Date`);
    return value.toISOString();
  }
  return checkString(value, name);
}

function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
  return value;
}
