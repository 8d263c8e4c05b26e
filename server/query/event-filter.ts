/**
 * One predicate over stored events from a query's filters: names, the least log level and a
 * selector. Checks that need no parsing go first, then the selector's check of the JSON text;
 * an event's JSON is parsed only when the level or the selector reads its context, once per event.
 */
import { isLogLevel, LOG_LEVELS } from '../../src/logger/levels.js';
import type { StoredEvent } from '../store.js';
import type { EventDocument, Selector } from './selector.js';

/** The levels of the `log` events JournalLogger writes (`context.levelno`): the client's own table. */
export { LOG_LEVELS };

/** The name of the events JournalLogger writes. */
export const LOG_EVENT = 'log';

/** A level by name (`warning`) or number (`30`); undefined when it is neither. */
export function parseLevel(text: string): number | undefined {
  const named = isLogLevel(text) ? LOG_LEVELS[text] : undefined;
  if (named !== undefined) return named;
  if (!/^\d{1,3}$/.test(text)) return undefined;
  return Number(text);
}

export interface EventFilterOptions {
  /** Only events with one of these names. */
  readonly names?: ReadonlySet<string> | undefined;
  /** Only `log` events whose `context.levelno` is at least this. */
  readonly level?: number | undefined;
  /** Only events the selector matches. */
  readonly where?: Selector | undefined;
}

export type EventFilter = (event: StoredEvent) => boolean;

/** The predicate of `options`, or undefined when there is nothing to filter. */
export function eventFilter(options: EventFilterOptions): EventFilter | undefined {
  const { names, level, where } = options;
  if (names === undefined && level === undefined && where === undefined) return undefined;
  const parse = level !== undefined || where?.readsContext === true;
  return (event) => {
    if (names !== undefined && !names.has(event.name)) return false;
    if (level !== undefined && event.name !== LOG_EVENT) return false;
    if (!parse) return where === undefined || where.test({ name: event.name, timestamp: event.timestamp, seq: event.seq });
    if (where?.mayMatch !== undefined && !where.mayMatch(event.json)) return false;
    const document = JSON.parse(event.json) as EventDocument;
    if (level !== undefined) {
      const levelno = document.context?.['levelno'];
      if (typeof levelno !== 'number' || levelno < level) return false;
    }
    return where === undefined || where.test(document);
  };
}
