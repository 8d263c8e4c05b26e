/** `wsjournal report`: a journal's events counted per period, over the HTTP API. */
import { checkPositionals, parseCommandLine, UsageError, type Command } from './args.js';
import { httpClient } from './http.js';
import { fetchRows, groupCell, print, RANGE_OPTIONS, RANGE_USAGE, rangeOptions, table } from './report-output.js';

const USAGE = `Usage: wsjournal report JOURNAL [options]

Counts the events of JOURNAL per period of a time zone, optionally per group,
and prints one row per period (and group) that has events, oldest first:
"<start> <end> [<group>] <count>", the times in ISO 8601 with the zone's offset.

Options:
  --by B          group by name, level (log events only) or context.KEY
                  (a field of the events' context, like context.instrument)
${RANGE_USAGE}

Exit status: 0 on success (also when nothing is counted); 1 when the journal
has never been written, or the server cannot be reached or refuses (a bad zone:
INVALID_TIME_ZONE; a bad range: INVALID_RANGE; too many rows or groups:
REPORT_TOO_LARGE); 2 on bad arguments.
`;

const OPTIONS = { ...RANGE_OPTIONS, by: { type: 'string' } } as const;

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 1, 1, 'JOURNAL');
  const journal = positionals[0]!;
  const range = rangeOptions(values);
  const by = values.by;
  if (by !== undefined && by !== 'name' && by !== 'level' && !by.startsWith('context.')) throw new UsageError('--by must be name, level or context.KEY');
  const options = { ...range, by: by as 'name' | 'level' | `context.${string}` | undefined };
  const client = httpClient(values.url, values.token);
  if (values.csv === true) {
    print(await fetchRows(client, journal, () => client.report(journal, { ...options, format: 'csv' }), (csv) => !csv.includes('\n', csv.indexOf('\n') + 1)));
    return 0;
  }
  const rows = await fetchRows(client, journal, () => client.report(journal, options), (answer) => answer.length === 0);
  if (values.json === true) {
    print(rows.map((row) => JSON.stringify(row)).join('\n'));
  } else if (rows.length > 0) {
    const header = by === undefined ? ['start', 'end', 'count'] : ['start', 'end', by, 'count'];
    print(table(header, rows.map((row) => (by === undefined ? [row.start, row.end, String(row.count)] : [row.start, row.end, groupCell(row.group), String(row.count)]))));
  }
  return 0;
}

export const command: Command = { usage: USAGE, run };
