/** `wsjournal backup`: has the server write an online copy of its store (HTTP API, admin). */
import { checkPositionals, parseCommandLine, UsageError, type Command } from './args.js';
import { httpClient, request } from './http.js';
import { DEFAULT_URL } from './io.js';

const USAGE = `Usage: wsjournal backup --to DIR [options]
       wsjournal backup --status [options]

Has the server write a consistent copy of its store into DIR, a directory on
the server's machine that must not exist or be empty, while appends go on.
The copy holds every event acknowledged before the backup began; start a
server on it (wsjournal serve --data DIR) to restore. Prints the backup's
status once done. Servers on Redis refuse (BACKUP_UNSUPPORTED): use Redis's
own persistence and replicas.

Options:
  --to DIR        the directory to write the copy into
  --status        print the last backup's status instead
  --url URL       server to ask (default: ${DEFAULT_URL})
  --token T       an admin token, if the server asks for one
                  (default: $WSJOURNAL_TOKEN)
  -h, --help      show this help

Exit status: 0 on success; 1 when the server cannot be reached or refuses;
2 on bad arguments.
`;

const OPTIONS = {
  to: { type: 'string' },
  status: { type: 'boolean' },
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 0, 0, '');
  if ((values.to === undefined) === (values.status !== true)) throw new UsageError('backup needs either --to DIR or --status');
  const client = httpClient(values.url, values.token);
  const to = values.to;
  const status = await request(client, () => (to === undefined ? client.backupStatus() : client.backup(to)));
  process.stdout.write(`${JSON.stringify(status)}\n`);
  return 0;
}

export const command: Command = { usage: USAGE, run };
