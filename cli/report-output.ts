/**
 * What `wsjournal report` and `wsjournal spans` share: the options of a report's range, the
 * request with its failures in one line, and the rows printed as an aligned table, JSON lines
 * or the server's CSV.
 */
import type { JournalClient } from '../src/journal-client.js';
import type { ReportPeriod, ReportRangeOptions } from '../src/report-query.js';
import { CliError, UsageError } from './args.js';
import { requestFailure } from './http.js';
import { DEFAULT_URL } from './io.js';

const PERIODS = ['hour', 'day', 'week', 'month'];

/** The options of both commands besides their own. */
export const RANGE_OPTIONS = {
  period: { type: 'string' },
  tz: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  csv: { type: 'boolean' },
  json: { type: 'boolean' },
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

/** Their help text. */
export const RANGE_USAGE = `  --period P      hour, day, week (ISO: Monday to Monday) or month (default: day)
  --tz ZONE       IANA time zone of the periods, like Europe/Berlin (default: UTC)
  --from T        only from T on: seconds since the epoch, or an ISO 8601 date
                  or time (2024-03-01, 2024-03-01T08:00; a wall time of --tz
                  unless it has an offset); a period T falls inside is cut at T
  --to T          only before T, as --from
  --csv           print the server's CSV (with a header line)
  --json          print one JSON object per line
  --url URL       server to ask (default: ${DEFAULT_URL}; ws:// and http://
                  name the same server)
  --token T       bearer token, if the server asks for one
                  (default: $WSJOURNAL_TOKEN)
  -h, --help      show this help`;

/** The range options as the client takes them. */
export function rangeOptions(values: { period?: string | undefined; tz?: string | undefined; from?: string | undefined; to?: string | undefined; csv?: boolean | undefined; json?: boolean | undefined }): Omit<ReportRangeOptions, 'format' | 'signal'> {
  if (values.period !== undefined && !PERIODS.includes(values.period)) throw new UsageError(`--period must be one of ${PERIODS.join(', ')}`);
  if (values.csv === true && values.json === true) throw new UsageError('--csv and --json exclude each other');
  for (const name of ['tz', 'from', 'to'] as const) {
    if (values[name] === '') throw new UsageError(`--${name} needs a value`);
  }
  return {
    period: values.period as ReportPeriod | undefined,
    tz: values.tz,
    from: values.from,
    to: values.to,
  };
}

/** Runs a report request; a failure as one line, and a hint when the answer is empty because the journal was never written. */
export async function fetchRows<T>(client: JournalClient, journal: string, fetch: () => Promise<T>, empty: (answer: T) => boolean): Promise<T> {
  try {
    const answer = await fetch();
    if (empty(answer) && (await client.journal(journal)) === undefined) {
      throw new CliError(`journal ${journal} has never been written (see "wsjournal journals")`);
    }
    return answer;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw requestFailure(client, error);
  }
}

/** Rows as an aligned table under a header line. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ');
  return [header, ...rows].map(line).join('\n');
}

/** A group or key as a table cell: strings as they are, other values as JSON, none as "-". */
export function groupCell(value: unknown): string {
  return typeof value === 'string' ? value : value === null || value === undefined ? '-' : JSON.stringify(value);
}

/** Writes `text` (with a final newline) to standard output, unless it is empty. */
export function print(text: string): void {
  if (text !== '') process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}
