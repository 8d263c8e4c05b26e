/** `wsjournal archive`: moves a journal's oldest events into the server's archive files (HTTP API, admin). */
import { checkPositionals, parseCommandLine, parseNumber, UsageError, type Command } from './args.js';
import { httpClient, requestFailure } from './http.js';
import { DEFAULT_URL } from './io.js';

const USAGE = `Usage: wsjournal archive JOURNAL (--before TS | --before-seq N) [options]

Moves the oldest events of JOURNAL out of the server's store into gzip'd
archive files under its data directory: those with a timestamp before TS
(seconds since the epoch) or a seq before N (N itself is kept). The newest
event always stays. Archived events are read with "wsjournal export
--archived" or GET .../events?archived=true. Prints "archived <count>".

Options:
  --before TS       remove events with a timestamp before TS
  --before-seq N    remove events with a seq before N
  --url URL         server to ask (default: ${DEFAULT_URL})
  --json            print {"archived":N}
  --token T         an admin token, if the server asks for one
                    (default: $WSJOURNAL_TOKEN)
  -h, --help        show this help

Exit status: 0 on success; 1 when the server cannot be reached or refuses;
2 on bad arguments.
`;

const OPTIONS = {
  before: { type: 'string' },
  'before-seq': { type: 'string' },
  url: { type: 'string' },
  json: { type: 'boolean' },
  token: { type: 'string' },
} as const;

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 1, 1, 'JOURNAL');
  const before = values.before === undefined ? undefined : parseNumber(values.before, '--before', { min: 0 });
  const beforeSeq = values['before-seq'] === undefined ? undefined : parseNumber(values['before-seq'], '--before-seq', { min: 0, integer: true });
  if (before === undefined && beforeSeq === undefined) throw new UsageError('archive needs --before or --before-seq');
  const client = httpClient(values.url, values.token);
  let result;
  try {
    result = await client.archive(positionals[0]!, { ...(before === undefined ? {} : { before }), ...(beforeSeq === undefined ? {} : { beforeSeq }) });
  } catch (error) {
    throw requestFailure(client, error);
  }
  process.stdout.write(values.json === true ? `${JSON.stringify(result)}\n` : `archived ${result.archived}\n`);
  return 0;
}

export const command: Command = { usage: USAGE, run };
