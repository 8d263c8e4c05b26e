/** `wsjournal log`: logs one event with a JournalLogger, as a program would, and waits until the server has stored it. */
import { JournalError } from '../src/errors.js';
import { LEVEL_NAMES, isLogLevel } from '../src/logger/levels.js';
import { JournalLogger } from '../src/logger/journal-logger.js';
import { checkArgument, checkPositionals, CliError, parseCommandLine, parseJsonObject, UsageError, type Command } from './args.js';
import { CliConnection, DEFAULT_URL, tokenOption } from './io.js';

const USAGE = `Usage: wsjournal log JOURNAL LEVEL MESSAGE [options]

Appends one log event, as a JournalLogger does: an event named "log" whose
context is {"level", "levelno", "message", "source"?, ...--context}, and
exits once the server has stored it.

LEVEL is one of: ${LEVEL_NAMES.join(', ')} (numbers ${LEVEL_NAMES.map((name, i) => (i + 1) * 10).join(', ')}).

Options:
  --context JSON  fields of the event, a JSON object (default: {})
  --source NAME   what logs: "source" in the event's context
  --url URL       server to log to (default: ${DEFAULT_URL})
  --token T       bearer token, if the server asks for one
                  (default: $WSJOURNAL_TOKEN)
  -h, --help      show this help

Exit status: 0 when the event was stored; 1 when it was not (the server
cannot be reached, refuses the token, or refuses the event: the message
says which); 2 on bad arguments.
`;

const OPTIONS = {
  context: { type: 'string' },
  source: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 3, 3, positionals.length < 2 ? 'JOURNAL, LEVEL and MESSAGE' : 'MESSAGE');
  const [journal, level, message] = positionals as [string, string, string];
  if (!isLogLevel(level)) throw new UsageError(`LEVEL must be one of ${LEVEL_NAMES.join(', ')}, got ${JSON.stringify(level)}`);
  const fields = values.context === undefined ? undefined : parseJsonObject(values.context, '--context');
  if (values.source === '') throw new UsageError('--source must not be empty');
  const client = new CliConnection(values.url ?? DEFAULT_URL, { token: tokenOption(values.token), reconnect: true, maxReconnectAttempts: 10 });
  let logger: JournalLogger | undefined;
  try {
    logger = checkArgument(
      () => new JournalLogger(client.connection, journal, { level: 'debug', ...(values.source === undefined ? {} : { source: values.source }) }),
      'JOURNAL',
    );
    let failure: JournalError | undefined;
    logger.on('error', (error) => (failure ??= error));
    logger[level](message, fields);
    await logger.flush();
    if (logger.dropped > 0) throw new CliError(`the event was not logged: ${client.describe(failure)}`);
  } finally {
    await logger?.close();
    await client.close();
  }
  return 0;
}

export const command: Command = { usage: USAGE, run };
