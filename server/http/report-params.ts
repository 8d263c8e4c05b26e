/**
 * The query parameters the report routes share (`period`, `tz`, `from`, `to`, `format`), as
 * zod schemas. A bad zone, period or range is refused with a code of its own
 * (`INVALID_TIME_ZONE`, `INVALID_PERIOD`, `INVALID_RANGE`): the app's validator compiler takes
 * a custom issue's `params.errorCode` as the error's code.
 */
import { z } from 'zod';
import { ErrorCode } from '../../src/errors.js';
import { Calendar, isTimeZone, parseInstant, PERIODS, type PeriodUnit } from '../report/calendar.js';
import { parseContextPath } from '../report/report-table.js';
import { COMMON_QUERY } from './params.js';

/** Reports count per day unless `period` says otherwise. */
export const DEFAULT_PERIOD: PeriodUnit = 'day';
export const DEFAULT_ZONE = 'UTC';
/** Most characters of an event name in `start` or `stop`. */
const MAX_NAME_LENGTH = 256;

/** A zod issue with the error code the request is refused with. */
export function codedIssue(code: string, message: string, path?: string): { code: 'custom'; message: string; params: { errorCode: string }; path?: string[] } {
  return { code: 'custom', message, params: { errorCode: code }, ...(path === undefined ? {} : { path: [path] }) };
}

const PeriodParam = z.string().transform((text, ctx) => {
  if ((PERIODS as readonly string[]).includes(text)) return text as PeriodUnit;
  ctx.addIssue(codedIssue(ErrorCode.INVALID_PERIOD, `must be ${PERIODS.slice(0, -1).join(', ')} or ${PERIODS.at(-1)}`));
  return z.NEVER;
});

const ZoneParam = z.string().transform((text, ctx) => {
  if (isTimeZone(text)) return text;
  ctx.addIssue(codedIssue(ErrorCode.INVALID_TIME_ZONE, 'must be an IANA time zone, like Europe/Berlin or America/New_York'));
  return z.NEVER;
});

/** `from`/`to` as given: checked once the zone is known. */
const InstantParam = z.string();

/** A context path, `context.KEY`. */
export const ContextPathParam = z.string().transform((text, ctx) => {
  const path = parseContextPath(text);
  if (typeof path !== 'string') return path;
  ctx.addIssue({ code: 'custom', message: path });
  return z.NEVER;
});

/** An event name, in `start` or `stop`. */
export const EventNameParam = z.string().min(1, 'must be an event name').max(MAX_NAME_LENGTH, `at most ${MAX_NAME_LENGTH} characters`);

/** The parameters every report takes. */
export const REPORT_QUERY = {
  period: PeriodParam.optional(),
  tz: ZoneParam.optional(),
  from: InstantParam.optional(),
  to: InstantParam.optional(),
  format: z.enum(['json', 'csv']).optional(),
  ...COMMON_QUERY,
};

/** A report's periods and range, once every parameter is valid. */
export interface ReportRange {
  readonly calendar: Calendar;
  /** Microseconds since the epoch; undefined: from the journal's first event. */
  readonly from: number | undefined;
  /** Microseconds since the epoch; undefined: up to its newest event. */
  readonly to: number | undefined;
  readonly format: 'json' | 'csv';
}

/**
 * The calendar and the range of a report's parameters (an instant without an offset is a wall
 * time of `tz`), or an `INVALID_RANGE` issue: a `from` or `to` that is not an instant, or a
 * `from` not before `to`.
 */
export function reportRange(
  query: { period?: PeriodUnit | undefined; tz?: string | undefined; from?: string | undefined; to?: string | undefined; format?: 'json' | 'csv' | undefined },
  ctx: z.core.$RefinementCtx,
): ReportRange {
  const zone = query.tz ?? DEFAULT_ZONE;
  const instant = (name: 'from' | 'to'): number | undefined => {
    const text = query[name];
    if (text === undefined) return undefined;
    const micros = parseInstant(text, zone);
    if (micros === undefined) ctx.addIssue(codedIssue(ErrorCode.INVALID_RANGE, 'must be seconds since the epoch or an ISO 8601 date or time, like 2024-03-31 or 2024-03-31T12:00:00Z', name));
    return micros === undefined ? undefined : Math.max(0, micros);
  };
  const from = instant('from');
  const to = instant('to');
  if (from !== undefined && to !== undefined && from >= to) ctx.addIssue(codedIssue(ErrorCode.INVALID_RANGE, 'must be later than from', 'to'));
  return { calendar: new Calendar(query.period ?? DEFAULT_PERIOD, zone), from, to, format: query.format ?? 'json' };
}
