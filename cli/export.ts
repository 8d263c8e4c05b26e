/** `wsjournal export`: writes a journal's events as JSON lines, one `EventEntry` a line, for `wsjournal import`. */
import { JournalConsumer, type JournalConsumerOptions, type JournalResponse } from '../src/journal-consumer.js';
import { JournalEvent } from '../src/journal-event.js';
import type { EventEntry } from '../src/protocol.js';
import { checkArgument, checkPositionals, CliError, parseCommandLine, parseNumber, UsageError, type Command } from './args.js';
import { CliConnection, DEFAULT_URL, LineWriter, onShutdownSignal, tokenOption } from './io.js';
import { httpClient, requestFailure } from './http.js';

/** Failed reconnect attempts in a row before a dropped connection is given up on. */
const MAX_RECONNECT_ATTEMPTS = 10;

const USAGE = `Usage: wsjournal export JOURNAL [options] > FILE.jsonl

Writes the events of JOURNAL, oldest first, one per line as the server sends
them: {"name","timestamp","context","seq"} (and any other field an event
carries). Stops at the end of the history and exits 0; prints a count to
standard error. "wsjournal import" reads what it writes.

Options:
  --since TS      only events after TS, in seconds since the epoch (default: 0)
  --until TS      only events at or before TS
  --archived      first the events in the server's archive files (moved out
                  of the store by retention or "wsjournal archive"), then the
                  store's
  --url URL       server to read from (default: ${DEFAULT_URL})
  --token T       bearer token, if the server asks for one
                  (default: $WSJOURNAL_TOKEN)
  -h, --help      show this help

The history streams in bounded memory. A connection that drops is reopened
(up to ${MAX_RECONNECT_ATTEMPTS} attempts) and the export goes on after the last
event written, with none written twice.

Exit status: 0 once the history is written (or the reader of standard output
went away); 1 on connection or server errors; 130/143 when interrupted;
2 on bad arguments.
`;

const OPTIONS = {
  since: { type: 'string' },
  archived: { type: 'boolean' },
  until: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

/** An event that keeps the entry it came from, written out as it is. */
class ExportedEvent extends JournalEvent {
  readonly entry: EventEntry;

  constructor(entry: EventEntry) {
    super(entry);
    this.entry = entry;
  }
}

class ExportConsumer extends JournalConsumer<ExportedEvent> {
  processResponse(_resp: JournalResponse): Record<string, unknown> {
    return {};
  }

  createEvent(entry: EventEntry): ExportedEvent {
    return new ExportedEvent(entry);
  }
}

type Ending = 'history' | 'broken-pipe' | NodeJS.Signals;

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 1, 1, 'JOURNAL');
  const journal = positionals[0]!;
  const since = values.since === undefined ? 0 : parseNumber(values.since, '--since', { min: 0 });
  const until = values.until === undefined ? Infinity : parseNumber(values.until, '--until', { min: 0 });
  if (until < since) throw new UsageError('--until must not be before --since');
  const client = new CliConnection(values.url ?? DEFAULT_URL, {
    token: tokenOption(values.token),
    reconnect: true,
    maxReconnectAttempts: MAX_RECONNECT_ATTEMPTS,
  });
  const options: JournalConsumerOptions = { since, includeSentinel: true, bufferHistory: false };
  const consumer = checkArgument(() => new ExportConsumer(client.connection, journal, options), 'JOURNAL');

  let ending: Ending | undefined;
  let lastError: unknown;
  let count = 0;
  let first: number | undefined;
  let last: number | undefined;
  const stop = (why: Ending): void => {
    ending ??= why;
    consumer.stop();
  };
  const writer = new LineWriter(process.stdout, () => stop('broken-pipe'));
  const removeSignalHandlers = onShutdownSignal((signal) => stop(signal));
  consumer.on('error', (error) => {
    lastError = error;
  });
  const ended = new Promise<void>((resolve) => {
    consumer.setCallback(async (event: ExportedEvent | null) => {
      if (event === null) return resolve();
      if (ending !== undefined) return;
      // History comes in timestamp order: past --until, nothing more is wanted.
      if (event.isEmpty() || event.timestamp > until) return stop('history');
      await writer.write(JSON.stringify(event.entry));
      count++;
      first ??= event.seq;
      last = event.seq;
    });
  });
  if (values.archived === true) {
    // The archives hold what the store no longer does: all of it comes before the store's first event.
    const http = httpClient(values.url, values.token);
    try {
      for await (const event of http.events(journal, { archived: true, since, ...(until === Infinity ? {} : { until }), pageSize: 1000 })) {
        if (ending !== undefined) break;
        await writer.write(JSON.stringify(event.toJSON()));
        count++;
        first ??= event.seq;
        last = event.seq;
      }
    } catch (error) {
      removeSignalHandlers();
      writer.dispose();
      await client.close();
      throw requestFailure(http, error);
    }
  }
  consumer.start();
  await ended;
  removeSignalHandlers();
  writer.dispose();
  await client.close();

  if (ending === undefined) throw new CliError(lastError === undefined ? 'the stream ended unexpectedly' : client.describe(lastError));
  if (ending !== 'history' && ending !== 'broken-pipe') return ending === 'SIGINT' ? 130 : 143;
  const range = first === undefined ? '' : ` (seq ${first}-${last})`;
  process.stderr.write(`wsjournal export: exported ${count} event${count === 1 ? '' : 's'} of ${journal}${range}\n`);
  return 0;
}

export const command: Command = { usage: USAGE, run };
