/** The logger's levels and their numbers, as MADSci's EventClient and Python's logging number them. */

/** A level's name. */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'critical' | 'alert';

/** Each level's number (`levelno` in a log event): higher is more severe. */
export const LOG_LEVELS: Readonly<Record<LogLevel, number>> = Object.freeze({
  debug: 10,
  info: 20,
  warning: 30,
  error: 40,
  critical: 50,
  alert: 60,
});

/** The level names, least severe first. */
export const LEVEL_NAMES: readonly LogLevel[] = Object.freeze(Object.keys(LOG_LEVELS) as LogLevel[]);

/** True when `value` names a level. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.hasOwn(LOG_LEVELS, value);
}

/** The number of `level`, a name or a number; a TypeError/RangeError naming `argument` otherwise. */
export function levelNumber(level: unknown, argument: string): number {
  if (isLogLevel(level)) return LOG_LEVELS[level];
  if (typeof level === 'number') {
    if (!Number.isInteger(level) || level < 0) throw new RangeError(`${argument} must be a level name or an integer >= 0, got ${level}`);
    return level;
  }
  throw new TypeError(`${argument} must be one of ${LEVEL_NAMES.join(', ')}, got ${JSON.stringify(level)}`);
}
