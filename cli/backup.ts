/** `wsjournal backup`: has the server write an online copy of its store (HTTP API, admin). */
import { checkPositionals, parseCommandLine, parseNumber, UsageError, type Command } from './args.js';
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
  --timeout S     how long to wait for the answer, in seconds (default: 600);
                  a backup still running then goes on (see --status)
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
  timeout: { type: 'string' },
} as const;

/** How long `backup --to` waits for the server to finish by default, in seconds: a large store takes minutes. */
const DEFAULT_TIMEOUT = 600;

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 0, 0, '');
  if ((values.to === undefined) === (values.status !== true)) throw new UsageError('backup needs either --to DIR or --status');
  const timeout = values.timeout === undefined ? DEFAULT_TIMEOUT : parseNumber(values.timeout, '--timeout', { min: 0.001 });
  const client = httpClient(values.url, values.token, timeout);
  const to = values.to;
  const status = await request(client, () => (to === undefined ? client.backupStatus() : client.backup(to)));
  process.stdout.write(`${JSON.stringify(status)}\n`);
  return 0;
}

export const command: Command = { usage: USAGE, run };
