/** `wsjournal spans`: busy time between paired events per key and period, over the HTTP API. */
import { checkPositionals, parseCommandLine, UsageError, type Command } from './args.js';
import { httpClient } from './http.js';
import { fetchRows, groupCell, print, RANGE_OPTIONS, RANGE_USAGE, rangeOptions, table } from './report-output.js';

const USAGE = `Usage: wsjournal spans JOURNAL --start NAME --stop NAME [options]

Measures the time between each START event and the next STOP event of the same
key (the utilization of an instrument, the length of sessions), per period of a
time zone, and prints one row per period and key that has a span in it:
"<start> <end> <key> <spans> <busy seconds> <utilization>". A span still open
counts up to --to, or now. A second START before its STOP is ignored (the span
runs from the first); a STOP without an open span is ignored.

Options:
  --start NAME    the name of the events that open a span (required)
  --stop NAME     the name of the events that close one (required)
  --key K         context.KEY: the field whose value pairs a start with its
                  stop, like context.instrument (default: one key for all)
${RANGE_USAGE}

Exit status: 0 on success (also when there is no span); 1 when the journal
has never been written, or the server cannot be reached or refuses; 2 on bad
arguments.
`;

const OPTIONS = { ...RANGE_OPTIONS, start: { type: 'string' }, stop: { type: 'string' }, key: { type: 'string' } } as const;

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 1, 1, 'JOURNAL');
  const journal = positionals[0]!;
  const range = rangeOptions(values);
  const { start, stop, key } = values;
  if (start === undefined || start === '') throw new UsageError('missing --start NAME');
  if (stop === undefined || stop === '') throw new UsageError('missing --stop NAME');
  if (key !== undefined && !key.startsWith('context.')) throw new UsageError(`--key must be context.KEY (did you mean context.${key}?)`);
  const options = { ...range, start, stop, key: key as `context.${string}` | undefined };
  const client = httpClient(values.url, values.token);
  if (values.csv === true) {
    print(await fetchRows(client, journal, () => client.spans(journal, { ...options, format: 'csv' }), (csv) => !csv.includes('\n', csv.indexOf('\n') + 1)));
    return 0;
  }
  const rows = await fetchRows(client, journal, () => client.spans(journal, options), (answer) => answer.length === 0);
  if (values.json === true) {
    print(rows.map((row) => JSON.stringify(row)).join('\n'));
  } else if (rows.length > 0) {
    const cells = rows.map((row) => [row.start, row.end, groupCell(row.key), String(row.spans), String(row.busySeconds), `${(row.utilization * 100).toFixed(1)}%`]);
    print(table(['start', 'end', key ?? 'key', 'spans', 'busySeconds', 'utilization'], cells));
  }
  return 0;
}

export const command: Command = { usage: USAGE, run };
