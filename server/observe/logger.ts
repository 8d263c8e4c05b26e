/**
 * The server's logger: pino, the logger Fastify itself uses, so that the HTTP layer's records
 * and the server's share one stream. A library that logs by default is rude: the server logs
 * nothing unless given a `logger`; `wsjournal serve` gives it one at `info`.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';
import { isPlainObject } from '../../src/validate.js';

export type { Logger, LoggerOptions } from 'pino';

/**
 * The `logger` server option: `false` (nothing is logged), `true` (JSON lines at `info` on
 * standard output), pino's options (a new pino logger with them), or a pino logger.
 */
export type LoggerOption = boolean | LoggerOptions | Logger;

/** The logger an option asks for, or undefined for none. Throws a TypeError for an option that is none of the above. */
export function createLogger(option: LoggerOption | undefined): Logger | undefined {
  if (option === undefined || option === false) return undefined;
  if (option === true) return pino({ name: 'wsjournal' });
  if (isLogger(option)) return option;
  if (isPlainObject(option)) return pino({ name: 'wsjournal', ...option });
  throw new TypeError('options.logger must be a boolean, pino options or a pino logger');
}

function isLogger(value: unknown): value is Logger {
  const logger = value as Partial<Record<string, unknown>> | null;
  return (
    typeof logger === 'object' &&
    logger !== null &&
    ['child', 'debug', 'info', 'warn', 'error'].every((method) => typeof logger[method] === 'function')
  );
}

/**
 * Lets at most `perWindow` records through per window of `windowMs`, and counts the rest, so
 * that a client that misbehaves in a loop cannot flood the log. What it dropped is reported
 * with the next record it lets through.
 */
export class RateLimit {
  readonly #perWindow: number;
  readonly #windowMs: number;
  #windowStart = -Infinity;
  #taken = 0;
  #suppressed = 0;

  constructor(perWindow: number, windowMs: number) {
    this.#perWindow = perWindow;
    this.#windowMs = windowMs;
  }

  /** Undefined when the record is to be dropped; otherwise how many were dropped since the last one let through. */
  take(now = performance.now()): number | undefined {
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#taken = 0;
    }
    if (this.#taken >= this.#perWindow) {
      this.#suppressed++;
      return undefined;
    }
    this.#taken++;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return suppressed;
  }
}
