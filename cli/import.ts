/**
 * `wsjournal import`: appends the events of `wsjournal export`'s lines to a journal, in order;
 * with --preserve, at their own seqs and timestamps, into an empty journal: how a journal
 * moves from one store to another.
 */
import PQueue from 'p-queue';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalConnection } from '../src/connection.js';
import { JournalProducer, type NewEvent } from '../src/journal-producer.js';
import { isSchemaRef, type Head } from '../src/protocol.js';
import { isPlainObject } from '../src/validate.js';
import { checkArgument, checkPositionals, CliError, parseCommandLine, type Command } from './args.js';
import { CliConnection, DEFAULT_URL, tokenOption } from './io.js';

/** Events per append (the server's default limit is 1000). */
const BATCH_SIZE = 500;
/** Batches sent and not yet acknowledged, at most. */
const MAX_IN_FLIGHT = 4;
/** Failed reconnect attempts in a row before a dropped connection is given up on. */
const MAX_RECONNECT_ATTEMPTS = 10;
/** The longest line read, in UTF-16 units: far above any event a server takes (64 KiB by default). */
const MAX_LINE = 16 * 1024 * 1024;

const USAGE = `Usage: wsjournal import JOURNAL [--preserve] [options] < FILE.jsonl

Reads one event per line, {"name","timestamp","context","seq"} as "wsjournal
export" writes them, and appends them to JOURNAL in order, in batches of
${BATCH_SIZE}. Blank lines are skipped. Prints a count to standard error.

Without --preserve, each event is appended anew: its name, context and
schema (if it names one, which must be registered on the server) are kept,
and the server gives it the next seq and a new timestamp.

With --preserve, each event keeps its seq and timestamp, so that the journal
is the same one on another store (wsjournal export on one server, then
wsjournal import --preserve on a server on another store). JOURNAL must be
empty: otherwise nothing is imported and import exits with status 1. The
lines must go up in seq and in timestamp (as an export does).

Options:
  --preserve      keep each event's seq and timestamp (into an empty journal)
  --url URL       server to append to (default: ${DEFAULT_URL})
  --token T       bearer token, if the server asks for one
                  (default: $WSJOURNAL_TOKEN)
  -h, --help      show this help

A connection that drops is reopened (up to ${MAX_RECONNECT_ATTEMPTS} attempts) and unacknowledged
batches are sent again; the server stores each batch once.

Exit status: 0 when every event was imported; 1 on a line that is not a valid
event (the lines before it were imported), on a refused append (the message
names the error code and says how many events were imported), when JOURNAL
is not empty with --preserve, or on a connection error; 2 on bad arguments.
`;

const OPTIONS = {
  preserve: { type: 'boolean' },
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 1, 1, 'JOURNAL');
  const journal = positionals[0]!;
  const preserve = values.preserve === true;
  const client = new CliConnection(values.url ?? DEFAULT_URL, {
    token: tokenOption(values.token),
    reconnect: true,
    maxReconnectAttempts: MAX_RECONNECT_ATTEMPTS,
  });
  const producer = checkArgument(() => new JournalProducer(client.connection, journal), 'JOURNAL');
  try {
    if (preserve) {
      let head: Head;
      try {
        head = await journalHead(client.connection, journal);
      } catch (error) {
        throw new CliError(client.describe(error));
      }
      if (head.seq > 0) {
        throw new CliError(`${journal} is not empty (its last event is seq ${head.seq}); --preserve imports only into an empty journal, so nothing was imported`);
      }
    }
    if (process.stdin.isTTY) process.stderr.write('wsjournal import: reading JSON lines from standard input (end with Ctrl-D)\n');
    const { count, seqs } = await importLines(producer, client, process.stdin, preserve);
    const range = seqs === undefined ? '' : ` (seq ${seqs[0]}-${seqs[1]})`;
    process.stderr.write(`wsjournal import: imported ${count} event${count === 1 ? '' : 's'} into ${journal}${range}\n`);
  } finally {
    await producer.close();
    await client.close();
  }
  return 0;
}

/** The journal's head, from a subscription to live events alone that ends as soon as the server accepts it. */
async function journalHead(connection: JournalConnection, journal: string): Promise<Head> {
  const probe = new EventLogConsumer(connection, journal, { full: false });
  try {
    return await new Promise<Head>((resolve, reject) => {
      probe.once('subscribed', resolve);
      probe.once('error', reject);
      probe.once('end', () => reject(new Error('the subscription ended before the server accepted it')));
      probe.start();
    });
  } finally {
    probe.stop();
  }
}

/**
 * Appends the events of `input`'s lines in batches, in order, at most MAX_IN_FLIGHT
 * unacknowledged (no more input is read meanwhile). On a bad line or a refused batch, it waits
 * for the batches already sent, then throws a CliError saying what was imported.
 */
async function importLines(
  producer: JournalProducer,
  client: CliConnection,
  input: NodeJS.ReadableStream,
  preserve: boolean,
): Promise<{ count: number; seqs: [number, number] | undefined }> {
  const queue = new PQueue({ concurrency: MAX_IN_FLIGHT });
  let imported = 0;
  let firstSeq: number | undefined;
  let lastSeq = 0;
  let refused: string | undefined;
  let batch: NewEvent[] = [];
  let batchFirst = 0;
  let batchLast = 0;
  /** The position of the last line read, which the next must follow (with --preserve). */
  let previous: { seq: number; micros: number; line: number } | undefined;

  const summary = (): string => (imported === 0 ? 'nothing was imported' : `${imported} event${imported === 1 ? ' was' : 's were'} imported`);
  const send = async (): Promise<void> => {
    if (batch.length === 0) return;
    const events = batch;
    const lines = batchFirst === batchLast ? `line ${batchFirst}` : `lines ${batchFirst}-${batchLast}`;
    batch = [];
    void queue.add(async () => {
      if (refused !== undefined) return;
      await producer.appendMany(events, { preserve }).then(
        (results) => {
          imported += results.length;
          firstSeq ??= results[0]!.seq;
          lastSeq = results.at(-1)!.seq;
        },
        (error: unknown) => {
          refused ??= `the events of ${lines} were not imported: ${client.describe(error)}`;
        },
      );
    });
    await queue.onSizeLessThan(1);
    if (refused !== undefined) {
      await queue.onIdle();
      throw new CliError(`${refused}; ${summary()}`);
    }
  };

  let lineNo = 0;
  let rest = '';
  const onLine = async (text: string): Promise<void> => {
    lineNo++;
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (line.trim() === '') return;
    let event: NewEvent;
    try {
      event = parseEntry(line, preserve);
      if (preserve) {
        const micros = Math.round(event.timestamp! * 1e6);
        if (previous !== undefined && (event.seq! <= previous.seq || micros <= previous.micros)) {
          throw new Error(`seq ${event.seq} at ${event.timestamp} does not follow line ${previous.line} (seq ${previous.seq} at ${previous.micros / 1e6}): --preserve needs seqs and timestamps going up`);
        }
        previous = { seq: event.seq!, micros, line: lineNo };
      }
    } catch (error) {
      await send();
      await queue.onIdle();
      if (refused !== undefined) throw new CliError(`${refused}; ${summary()}`);
      throw new CliError(`line ${lineNo}: ${(error as Error).message}; ${summary()} from the lines before it`);
    }
    if (batch.length === 0) batchFirst = lineNo;
    batchLast = lineNo;
    batch.push(event);
    if (batch.length >= BATCH_SIZE) await send();
  };

  input.setEncoding('utf8');
  for await (const chunk of input as AsyncIterable<string>) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const part of parts) await onLine(part);
    if (rest.length > MAX_LINE) {
      await send();
      await queue.onIdle();
      throw new CliError(`line ${lineNo + 1} is longer than ${MAX_LINE} characters; ${summary()} from the lines before it`);
    }
  }
  if (rest !== '') await onLine(rest);
  await send();
  await queue.onIdle();
  if (refused !== undefined) throw new CliError(`${refused}; ${summary()}`);
  return { count: imported, seqs: firstSeq === undefined ? undefined : [firstSeq, lastSeq] };
}

/** One exported line as an event to append, or an Error saying what is wrong with it. */
function parseEntry(line: string, preserve: boolean): NewEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new Error(`not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(value)) throw new Error('expected a JSON object like {"name":"submit","timestamp":1700000000.5,"context":{"id":1},"seq":1}');
  const { name, context, schema, seq, timestamp } = value;
  if (typeof name !== 'string' || name === '') throw new Error('"name" must be a non-empty string');
  if (context !== undefined && !isPlainObject(context)) throw new Error('"context" must be a JSON object');
  if (schema !== undefined && !isSchemaRef(schema)) throw new Error('"schema" must be {"id","version"}: a URI or URN, and a positive integer');
  const event: NewEvent = { name, ...(context === undefined ? {} : { context }), ...(schema === undefined ? {} : { schema }) };
  if (!preserve) return event;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new Error('"seq" must be a positive integer (--preserve keeps it)');
  if (typeof timestamp !== 'number' || !(timestamp > 0 && timestamp < Infinity)) throw new Error('"timestamp" must be a number of seconds (--preserve keeps it)');
  return { ...event, seq, timestamp };
}

export const command: Command = { usage: USAGE, run };
