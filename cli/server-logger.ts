/** The logger `wsjournal serve` gives its server: pino on standard error, as JSON lines or pretty for people. */
import type { Logger } from 'pino';

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * A pino logger at `level` writing to standard error (standard output carries the listening
 * line). Writes are synchronous: the server logs little, and a record written just before an
 * exit is never lost. pino is loaded by the first call (so that `serve` checks its arguments
 * without it), pino-pretty only for the pretty format.
 */
export async function serverLogger(level: string, format: LogFormat): Promise<Logger> {
  const { pino } = await import('pino');
  const options = { name: 'wsjournal', level };
  if (format === 'json') return pino(options, pino.destination({ dest: 2, sync: true }));
  const { default: pretty } = await import('pino-pretty');
  return pino(options, pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY === true, ignore: 'pid,hostname' }));
}
