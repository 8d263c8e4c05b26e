/**
 * Report and spans rows shaped for a chart: one period per distinct start,
 * in order, and at most `maxGroups` groups (the largest; the rest summed as
 * "other" where sums mean something, left out and counted where they do not).
 */
import type { ReportRow, SpanRow } from './types.js';

export type Period = 'hour' | 'day' | 'week' | 'month';

/** One bar (or group of bars) of a chart. */
export interface ChartPeriod {
  /** The period's start, as the server gave it (ISO). */
  start: string;
  /** Its label on the axis and in the table. */
  label: string;
  /** Value per group; a group missing counts as 0. */
  values: ReadonlyMap<string, number>;
}

export interface ChartData {
  periods: ChartPeriod[];
  groups: string[];
  /** Groups left out of the chart (spans: keys beyond `maxGroups`). */
  hidden: number;
}

export const OTHER = 'other';

/** Events per period stacked by group; the smallest groups beyond `maxGroups - 1` become "other". */
export function reportChart(rows: readonly ReportRow[], period: Period, timeZone: string, maxGroups = 10): ChartData {
  const totals = new Map<string, number>();
  for (const row of rows) totals.set(groupName(row.group), (totals.get(groupName(row.group)) ?? 0) + row.count);
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([group]) => group);
  const kept = ranked.length > maxGroups ? new Set(ranked.slice(0, maxGroups - 1)) : new Set(ranked);
  const groups = ranked.filter((group) => kept.has(group));
  if (ranked.length > kept.size) groups.push(OTHER);
  const periods = byStart(rows, period, timeZone, (values, row) => {
    const name = groupName(row.group);
    const group = kept.has(name) ? name : OTHER;
    values.set(group, (values.get(group) ?? 0) + row.count);
  });
  return { periods, groups, hidden: 0 };
}

/** Utilization (0–1) per period for the `maxGroups` keys with the most busy time. */
export function spansChart(rows: readonly SpanRow[], period: Period, timeZone: string, maxGroups = 10): ChartData {
  const busy = new Map<string, number>();
  for (const row of rows) busy.set(groupName(row.key), (busy.get(groupName(row.key)) ?? 0) + row.busySeconds);
  const ranked = [...busy.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([key]) => key);
  const groups = ranked.slice(0, maxGroups);
  const kept = new Set(groups);
  const periods = byStart(rows, period, timeZone, (values, row) => {
    const key = groupName(row.key);
    if (kept.has(key)) values.set(key, row.utilization);
  });
  return { periods, groups, hidden: ranked.length - groups.length };
}

function byStart<R extends { start: string }>(
  rows: readonly R[],
  period: Period,
  timeZone: string,
  add: (values: Map<string, number>, row: R) => void,
): ChartPeriod[] {
  const periods = new Map<string, { start: string; at: number; values: Map<string, number> }>();
  for (const row of rows) {
    let entry = periods.get(row.start);
    if (entry === undefined) {
      entry = { start: row.start, at: Date.parse(row.start), values: new Map() };
      periods.set(row.start, entry);
    }
    add(entry.values, row);
  }
  return [...periods.values()]
    .sort((a, b) => a.at - b.at)
    .map((entry) => ({ start: entry.start, label: periodLabel(entry.at, period, timeZone), values: entry.values }));
}

/** A group as text: the name, the level, or the context value itself (JSON where not a string). */
export function groupName(group: unknown): string {
  if (typeof group === 'string') return group;
  if (group === null || group === undefined) return '(none)';
  return JSON.stringify(group);
}

/** A period's start as read in `timeZone`: `06-01 13:00` for hours, `2025-06-01` for days and weeks, `2025-06` for months. */
export function periodLabel(ms: number, period: Period, timeZone: string): string {
  const parts: Record<string, string> = {};
  const format = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  for (const part of format.formatToParts(new Date(ms))) parts[part.type] = part.value;
  if (period === 'hour') return `${parts['month']}-${parts['day']} ${parts['hour']}:${parts['minute']}`;
  if (period === 'month') return `${parts['year']}-${parts['month']}`;
  return `${parts['year']}-${parts['month']}-${parts['day']}`;
}

/** The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least `value` (and 1 for 0), so that ticks read well. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}
