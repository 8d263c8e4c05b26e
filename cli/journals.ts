/** `wsjournal journals`: the server's journals and their heads. */
import { checkPositionals, parseCommandLine, type Command } from './args.js';
import { httpClient, request } from './http.js';
import { DEFAULT_URL } from './io.js';

const USAGE = `Usage: wsjournal journals [options]

Lists the journals on the server, in name order, one per line as
"<name> <seq> <timestamp>": the number of the newest event and its time.

Options:
  --url URL       server to ask (default: ${DEFAULT_URL}; ws:// and http://
                  name the same server)
  --json          print one JSON object per line: {"name","head":{"seq","timestamp"}}
  --token T       bearer token, if the server asks for one
                  (default: $WSJOURNAL_TOKEN)
  -h, --help      show this help

Exit status: 0 on success (also when there are no journals); 1 when the server
cannot be reached or refuses; 2 on bad arguments.
`;

const OPTIONS = {
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
  checkPositionals(positionals, 0, 0, '');
  const client = httpClient(values.url, values.token);
  const journals = await request(client, () => client.journals());
  const lines = journals.map((journal) => (values.json === true ? JSON.stringify(journal) : `${journal.name} ${journal.head.seq} ${journal.head.timestamp}`));
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

export const command: Command = { usage: USAGE, run };
