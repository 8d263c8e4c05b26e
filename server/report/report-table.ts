/**
 * The rows of a report as they are made, within the report's bounds: at most `maxGroups`
 * distinct groups (or keys) and at most `maxUnits` UTF-16 units of rows as JSON (the
 * connection's output budget, as for a page of events). Past either, the report is refused
 * with 413 `REPORT_TOO_LARGE`: a truncated report would read as a complete one.
 *
 * Also here: what a row is grouped by (`name`, `level`, `context.KEY`) and how an event's
 * group is read.
 */
import { ErrorCode, JournalError, type ErrorDetail } from '../../src/errors.js';
import { LEVEL_NAMES, LOG_LEVELS } from '../../src/logger/levels.js';
import { LOG_EVENT } from '../query/event-filter.js';
import type { StoredEvent } from '../store.js';

/** A group (or a span key): its value as the rows show it, and that value's JSON text, which tells groups apart. */
export interface Group {
  readonly value: unknown;
  readonly text: string;
}

/** What rows are grouped by: nothing (one group, `null`), the event's name, its log level, or a context field. */
export type GroupBy = { readonly kind: 'none' } | { readonly kind: 'name' } | { readonly kind: 'level' } | { readonly kind: 'context'; readonly path: readonly string[] };

/** What a report may hold. */
export interface TableLimits {
  /** UTF-16 units of the rows as JSON. */
  readonly maxUnits: number;
  /** Distinct groups (keys). */
  readonly maxGroups: number;
}

/** Segments of a context path at most, and its length. */
const MAX_PATH_SEGMENTS = 8;
const MAX_PATH_LENGTH = 256;
/** Path segments that would reach an object's prototype instead of its data. */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);
/** Units of a row as JSON besides its times and its group: the member names, the numbers. */
const ROW_OVERHEAD_UNITS = 96;

/**
 * `context.KEY` (dotted, `context.sample.id`) as the path inside the context, or the reason
 * it is not one.
 */
export function parseContextPath(text: string): readonly string[] | string {
  if (text.length > MAX_PATH_LENGTH) return `at most ${MAX_PATH_LENGTH} characters`;
  if (!text.startsWith('context.')) return `must be context.KEY (did you mean context.${text.slice(0, 64)}?)`;
  const path = text.slice('context.'.length).split('.');
  if (path.length > MAX_PATH_SEGMENTS) return `at most ${MAX_PATH_SEGMENTS} keys deep`;
  if (path.some((segment) => segment === '')) return 'must be context.KEY, with no empty key';
  if (path.some((segment) => FORBIDDEN_SEGMENTS.has(segment))) return `may not name ${[...FORBIDDEN_SEGMENTS].join(', ')}`;
  return path;
}

/** `by` as a GroupBy, or the reason it is not one. */
export function parseGroupBy(text: string): GroupBy | string {
  if (text === 'name') return { kind: 'name' };
  if (text === 'level') return { kind: 'level' };
  const path = parseContextPath(text);
  if (typeof path !== 'string') return { kind: 'context', path };
  return text.startsWith('context.') ? path : `must be name, level or context.KEY (did you mean context.${text.slice(0, 64)}?)`;
}

/** The value at `path` in an event's context (the event's JSON is parsed), or undefined. */
export function contextValue(event: StoredEvent, path: readonly string[]): unknown {
  let value: unknown = (JSON.parse(event.json) as { context?: unknown }).context;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** The level of a `log` event: its `context.level` when a string, else the name of its `context.levelno`, else the number. */
function levelOf(event: StoredEvent): unknown {
  const context = (JSON.parse(event.json) as { context?: Record<string, unknown> }).context;
  const level = context?.['level'];
  if (typeof level === 'string') return level;
  const levelno = context?.['levelno'];
  if (typeof levelno !== 'number') return undefined;
  return LEVEL_NAMES.find((name) => LOG_LEVELS[name] === levelno) ?? levelno;
}

/**
 * Reads each event's group for `by`, through `table` (which interns groups and counts them):
 * the name; the level (events other than `log`, and `log` events without a level, are in no
 * group: undefined); the context value (`null` when the event lacks it). Names and levels are
 * read without parsing the event when they can be.
 */
export function groupReader(by: GroupBy, table: ReportTable<unknown>): (event: StoredEvent) => Group | undefined {
  switch (by.kind) {
    case 'none': {
      const all = table.group(null);
      return () => all;
    }
    case 'name':
      return (event) => table.group(event.name);
    case 'level':
      return (event) => {
        if (event.name !== LOG_EVENT) return undefined;
        const level = levelOf(event);
        return level === undefined ? undefined : table.group(level);
      };
    case 'context':
      return (event) => table.group(contextValue(event, by.path) ?? null);
  }
}

/** Orders groups: null, then false and true, numbers in numeric order, strings in code-point order, then other values by their JSON. */
export function compareGroups(a: Group, b: Group): number {
  const rank = (value: unknown): number => (value === null ? 0 : typeof value === 'boolean' ? 1 : typeof value === 'number' ? 2 : typeof value === 'string' ? 3 : 4);
  const difference = rank(a.value) - rank(b.value);
  if (difference !== 0) return difference;
  if (typeof a.value === 'number' && typeof b.value === 'number') return a.value - b.value;
  if (typeof a.value === 'string' && typeof b.value === 'string') return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
}

/** The rows of one report, and its groups, within its limits. */
export class ReportTable<Row> {
  readonly rows: Row[] = [];
  readonly #limits: TableLimits;
  readonly #groups = new Map<string, Group>();
  /** Groups by value, for values that are their own key (strings: names, most context values). */
  readonly #byString = new Map<string, Group>();
  #units = 0;
  /** What the report is grouped by, as a query parameter: named in the error at the group cap. */
  readonly #groupParameter: string;

  constructor(limits: TableLimits, groupParameter: string) {
    this.#limits = limits;
    this.#groupParameter = groupParameter;
  }

  /** The group of `value`, the same object for equal values; throws REPORT_TOO_LARGE past `maxGroups`. */
  group(value: unknown): Group {
    if (typeof value === 'string') {
      const known = this.#byString.get(value);
      if (known !== undefined) return known;
      const group = this.#add(value, JSON.stringify(value));
      this.#byString.set(value, group);
      return group;
    }
    const text = JSON.stringify(value) ?? 'null';
    return this.#groups.get(text) ?? this.#add(value === undefined ? null : value, text);
  }

  /** Adds a row whose ISO times are `timeUnits` long together; throws REPORT_TOO_LARGE past `maxUnits`. */
  push(row: Row, group: Group, timeUnits: number): void {
    this.#units += timeUnits + group.text.length + ROW_OVERHEAD_UNITS;
    if (this.#units > this.#limits.maxUnits) {
      throw tooLarge(
        `the report has more rows than one answer holds (${this.#limits.maxUnits} characters of JSON, about ${this.rows.length} rows); narrow from and to, or choose a longer period`,
        { path: 'query.period', message: `more than ${this.rows.length} rows` },
      );
    }
    this.rows.push(row);
  }

  #add(value: unknown, text: string): Group {
    if (this.#groups.size >= this.#limits.maxGroups) {
      throw tooLarge(
        `the report has more than ${this.#limits.maxGroups} distinct ${this.#groupParameter === 'key' ? 'keys' : 'groups'}; choose a field with fewer values, or narrow from and to`,
        { path: `query.${this.#groupParameter}`, message: `more than ${this.#limits.maxGroups} distinct values` },
      );
    }
    const group = { value, text };
    this.#groups.set(text, group);
    return group;
  }
}

/** REPORT_TOO_LARGE (HTTP 413). */
export function tooLarge(message: string, detail?: ErrorDetail): JournalError {
  return new JournalError(ErrorCode.REPORT_TOO_LARGE, message, { details: detail === undefined ? undefined : [detail] });
}
