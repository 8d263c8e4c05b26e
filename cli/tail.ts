/** `wsjournal tail`: prints a journal's events, its history and then (unless --no-follow) live ones. */
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalConnection } from '../src/connection.js';
import type { JournalConsumerOptions } from '../src/journal-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { checkArgument, checkPositionals, CliError, parseCommandLine, parseList, parseNumber, type Command } from './args.js';
import { eventLine } from './event-line.js';
import { CliConnection, DEFAULT_URL, LineWriter, onShutdownSignal, tokenOption } from './io.js';

const USAGE = `Usage: wsjournal tail JOURNAL [options]

Prints the events of JOURNAL, oldest first, one per line as
"<timestamp> <name> <k=v,...>", then follows live events until interrupted.
The timestamp has six decimals (microseconds, the server's precision): give
the last one printed back as --since to resume exactly after that event.
In follow mode, one line on stderr says where history ends.

Options:
  --url URL       server to read from (default: ${DEFAULT_URL}); repeat it
                  for servers sharing one store: tail moves to the next when
                  one goes away
  --since TS      only events after TS, in seconds since the epoch (default: 0)
  --no-follow     stop at the end of history and exit 0
  --json          print one JSON object per line: {"timestamp","context","name","seq"}
  --names A,B     only events with these names
  --token T       bearer token, if the server asks for one
                  (default: $WSJOURNAL_TOKEN)
  -h, --help      show this help

Connection: if the server cannot be reached at first, tail exits at once with
status 1. In follow mode, a connection that drops later is reopened with
backoff, and the stream resumes after the last event printed, with no event
printed twice; with --no-follow, a dropped connection is an error (status 1).
A refused token exits with status 1 ("unauthorized"). A journal that has never
been written: with --no-follow, tail says so and exits 1 ("wsjournal journals"
lists the journals); in follow mode it says so on stderr and waits for the
journal's first event.

Retention: when events after --since (or after the last event printed, on a
reconnect) were removed, a warning line on standard error says so and names
the oldest event kept, which is printed next.

Exit status: 0 at the end of history (--no-follow), on SIGINT/SIGTERM in
follow mode, or when the reader of standard output goes away (as with
"| head"); 130/143 when interrupted before the end of history with
--no-follow; 1 on connection or server errors, or for a journal never written
(--no-follow); 2 on bad arguments.
`;

const OPTIONS = {
  url: { type: 'string', multiple: true },
  since: { type: 'string' },
  'no-follow': { type: 'boolean' },
  json: { type: 'boolean' },
  names: { type: 'string' },
  token: { type: 'string' },
} as const;

/** An {@link EventLogConsumer} that asks the server for the named events only. */
class TailConsumer extends EventLogConsumer {
  readonly #payload: Record<string, unknown>;

  constructor(connection: JournalConnection, journal: string, options: JournalConsumerOptions, names: string[] | undefined) {
    super(connection, journal, options);
    this.#payload = names === undefined ? {} : { names };
  }

  override get requestPayload(): Record<string, unknown> {
    return this.#payload;
  }
}

/** Why the stream stopped, when the command stopped it. */
type Ending = { reason: 'sentinel' | 'broken-pipe' | 'never-written' } | { reason: 'signal'; signal: NodeJS.Signals };

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 1, 1, 'JOURNAL');
  const journal = positionals[0]!;
  const since = values.since === undefined ? 0 : parseNumber(values.since, '--since', { min: 0 });
  const names = values.names === undefined ? undefined : parseList(values.names, '--names');
  const follow = values['no-follow'] !== true;
  const json = values.json === true;
  const urls = values.url ?? [DEFAULT_URL];
  const client = new CliConnection(urls.length === 1 ? urls[0]! : urls, {
    token: tokenOption(values.token),
    // Several URLs: move to the next when one cannot be reached or goes away, also with --no-follow.
    reconnect: follow || urls.length > 1,
  });
  // History streams as it arrives (bounded memory); the sentinel marks its end.
  const options: JournalConsumerOptions = { since, includeSentinel: true, bufferHistory: false };
  const consumer = checkArgument(() => new TailConsumer(client.connection, journal, options, names), 'JOURNAL');

  let ending: Ending | undefined;
  let lastError: unknown;
  const stop = (why: Ending): void => {
    ending ??= why;
    consumer.stop();
  };
  const writer = new LineWriter(process.stdout, () => stop({ reason: 'broken-pipe' }));
  const removeSignalHandlers = onShutdownSignal((signal) => stop({ reason: 'signal', signal }));
  consumer.on('error', (error) => {
    lastError = error;
  });
  // A head of seq 0: the journal has no event at all (journals come into being with their first).
  consumer.once('subscribed', (head) => {
    if (head.seq !== 0) return;
    if (follow) process.stderr.write(`wsjournal tail: journal ${JSON.stringify(journal)} has no events yet; waiting for its first\n`);
    else stop({ reason: 'never-written' });
  });
  let printed = 0;
  consumer.on('truncated', ({ first }) => {
    process.stderr.write(`wsjournal tail: warning: events were removed by retention; going on from seq ${first.seq} (${first.timestamp})\n`);
  });
  if (follow) {
    // One line when the connection drops and one when it is back, however many attempts it takes.
    let down = false;
    client.connection.on('disconnect', (error) => {
      if (!client.opened || ending !== undefined || down) return;
      down = true;
      process.stderr.write(`wsjournal tail: ${client.describe(error)}; reconnecting\n`);
    });
    consumer.on('reconnect', () => {
      down = false;
      process.stderr.write('wsjournal tail: reconnected\n');
    });
  }

  const ended = new Promise<void>((resolve) => {
    consumer.setCallback(async (event: JournalEvent | null) => {
      if (event === null) return resolve();
      // Events received after the command decided to stop are not printed.
      if (ending !== undefined) return;
      if (event.isEmpty()) {
        if (!follow) return stop({ reason: 'sentinel' });
        const count = `${printed} event${printed === 1 ? '' : 's'}`;
        process.stderr.write(`wsjournal tail: end of history (${count}); following live events\n`);
        return;
      }
      printed++;
      await writer.write(json ? JSON.stringify(event.toJSON()) : eventLine(event));
    });
  });
  consumer.start();
  await ended;
  removeSignalHandlers();
  writer.dispose();
  await client.close();

  if (ending === undefined) {
    throw new CliError(lastError === undefined ? 'the stream ended unexpectedly' : client.describe(lastError));
  }
  if (ending.reason === 'never-written') {
    throw new CliError(`journal ${JSON.stringify(journal)} has never been written (no events); "wsjournal journals" lists those that have`);
  }
  if (ending.reason === 'signal' && !follow) return ending.signal === 'SIGINT' ? 130 : 143;
  return 0;
}

export const command: Command = { usage: USAGE, run };
