/** `wsjournal purge`: deletes the server's older archive files (HTTP API, admin). */
import { checkPositionals, parseCommandLine, parseNumber, UsageError, type Command } from './args.js';
import { httpClient, request } from './http.js';
import { DEFAULT_URL } from './io.js';

const USAGE = `Usage: wsjournal purge --older-than SECONDS [options]

Deletes the server's archive files whose newest event is more than SECONDS
old. Prints "purged <files>".

Options:
  --older-than S  age in seconds of the archives to delete
  --url URL       server to ask (default: ${DEFAULT_URL})
  --json          print {"purged":N}
  --token T       an admin token, if the server asks for one
                  (default: $WSJOURNAL_TOKEN)
  -h, --help      show this help

Exit status: 0 on success; 1 when the server cannot be reached or refuses;
2 on bad arguments.
`;

const OPTIONS = {
  'older-than': { type: 'string' },
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
  if (values['older-than'] === undefined) throw new UsageError('purge needs --older-than SECONDS');
  const olderThan = parseNumber(values['older-than'], '--older-than', { min: 0 });
  const client = httpClient(values.url, values.token);
  const result = await request(client, () => client.purgeArchives({ olderThan }));
  process.stdout.write(values.json === true ? `${JSON.stringify(result)}\n` : `purged ${result.purged}\n`);
  return 0;
}

export const command: Command = { usage: USAGE, run };
