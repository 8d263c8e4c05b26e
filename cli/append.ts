/** `wsjournal append`: appends one event, or JSON lines from standard input in ordered batches. */
import PQueue from 'p-queue';
import { ConnectionError, ErrorCode } from '../src/errors.js';
import { JournalProducer, type AppendResult } from '../src/journal-producer.js';
import { isPlainObject } from '../src/validate.js';
import { checkArgument, checkPositionals, CliError, parseCommandLine, parseJsonObject, UsageError, type Command } from './args.js';
import { CliConnection, DEFAULT_URL, tokenOption } from './io.js';

/** Events per appendMany at most (the server's default limit is 1000), fewer when the server's hello says so. */
const BATCH_SIZE = 500;
/** A batch's share of the server's frame limit (1 MiB unless its hello says otherwise): room for the frame's other fields. */
const BATCH_BYTES_SHARE = 0.75;
const DEFAULT_FRAME_SIZE = 1024 * 1024;
/** Batches sent and not yet acknowledged, at most. */
const MAX_IN_FLIGHT = 4;
/** Failed reconnect attempts in a row before a dropped connection is given up on. */
const MAX_RECONNECT_ATTEMPTS = 10;

const USAGE = `Usage: wsjournal append JOURNAL NAME [options]
       wsjournal append JOURNAL [-] [options] < events.jsonl

With NAME, appends one event and prints "<seq> <timestamp>" once the server
has stored it durably.

Without NAME (or with "-"), reads one JSON object per line from standard
input, {"name": "...", "context": {...}}, and appends them in order, in
batches of ${BATCH_SIZE} (fewer when the server's limits ask for it); other fields (timestamp, seq) are ignored, so the
output of "wsjournal tail --json" can be appended to another journal. Blank
lines are skipped. Prints a count to standard error at the end.

Options:
  --context JSON  the event's context, a JSON object (default: {}); with
                  standard input, merged into every event's context (the
                  line's own fields win)
  --url URL       server to append to (default: ${DEFAULT_URL})
  --token T       bearer token, if the server asks for one
                  (default: $WSJOURNAL_TOKEN)
  -h, --help      show this help

If the server cannot be reached at first, append exits at once. A connection
that drops later is reopened (up to ${MAX_RECONNECT_ATTEMPTS} attempts, with backoff) and
unacknowledged batches are resent; the server stores each batch once. An
append not acknowledged within 30 s fails (APPEND_TIMEOUT). An event or batch
over the server's limits fails at once (EVENT_TOO_LARGE, TOO_MANY_EVENTS,
FRAME_TOO_LARGE) and is never resent.

Exit status: 0 when every event was appended; 1 on a line that is not a
valid event (the events of the lines before it were appended), on a refused
append (the message names the error code and says how many events were
appended), or on a connection error; 2 on bad arguments.
`;

const OPTIONS = {
  context: { type: 'string' },
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

interface NewEvent {
  name: string;
  context?: Record<string, unknown>;
}

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 1, 2, 'JOURNAL');
  const [journal, name] = positionals as [string, string | undefined];
  const context = values.context === undefined ? undefined : parseJsonObject(values.context, '--context');
  if (name === '') throw new UsageError('NAME must not be empty');
  const fromStdin = name === undefined || name === '-';
  const client = new CliConnection(values.url ?? DEFAULT_URL, {
    token: tokenOption(values.token),
    reconnect: true,
    maxReconnectAttempts: MAX_RECONNECT_ATTEMPTS,
  });
  const bound = fromStdin && context !== undefined ? { context } : {};
  const producer = checkArgument(() => new JournalProducer(client.connection, journal, bound), 'JOURNAL');
  try {
    if (!fromStdin) {
      let result: AppendResult;
      try {
        result = await producer.append(name, context);
      } catch (error) {
        throw new CliError(`the event ${outcome(client, error)}: ${client.describe(error)}`);
      }
      process.stdout.write(`${result.seq} ${result.timestamp.toFixed(6)}\n`);
    } else {
      if (process.stdin.isTTY) process.stderr.write('wsjournal append: reading JSON lines from standard input (end with Ctrl-D)\n');
      const { count, seqs } = await appendLines(producer, client, process.stdin, context);
      const range = seqs === undefined ? '' : ` (seq ${seqs[0]}-${seqs[1]})`;
      process.stderr.write(`wsjournal append: appended ${count} event${count === 1 ? '' : 's'} to ${journal}${range}\n`);
    }
  } finally {
    await producer.close();
    await client.close();
  }
  return 0;
}

/**
 * Appends the events of `input`'s lines in batches, in order: a batch is sent
 * when full, at most MAX_IN_FLIGHT are unacknowledged, and no more input is
 * read while that many are. On a bad line or a refused batch, it waits for
 * the batches already sent, then throws a CliError saying what was appended.
 */
async function appendLines(
  producer: JournalProducer,
  client: CliConnection,
  input: NodeJS.ReadableStream,
  bound: Record<string, unknown> | undefined,
): Promise<{ count: number; seqs: [number, number] | undefined }> {
  // Batches are sent in order, at most MAX_IN_FLIGHT unacknowledged.
  const queue = new PQueue({ concurrency: MAX_IN_FLIGHT });
  let appended = 0;
  let firstSeq: number | undefined;
  let lastSeq = 0;
  let refused: string | undefined;
  let batch: NewEvent[] = [];
  /** The line numbers of the batch's first and last events. */
  let batchFirst = 0;
  let batchLast = 0;
  /** Bytes of the batch's lines, and of the bound context each event carries. */
  let batchBytes = 0;
  const boundBytes = Buffer.byteLength(JSON.stringify(bound ?? {}));
  /** The batch's bounds: the server's limits (its hello) when it told them. */
  const full = (): boolean => {
    const limits = client.connection.limits;
    if (batch.length >= Math.min(BATCH_SIZE, limits?.maxEventsPerAppend ?? BATCH_SIZE)) return true;
    return batchBytes >= (limits?.maxFrameSize ?? DEFAULT_FRAME_SIZE) * BATCH_BYTES_SHARE;
  };

  const settle = (): Promise<void> => queue.onIdle();
  const summary = (): string =>
    appended === 0 ? 'nothing was appended' : `${appended} event${appended === 1 ? ' was' : 's were'} appended`;
  const send = async (): Promise<void> => {
    if (batch.length === 0) return;
    const events = batch;
    const lines = batchFirst === batchLast ? `line ${batchFirst}` : `lines ${batchFirst}-${batchLast}`;
    batch = [];
    batchBytes = 0;
    void queue.add(async () => {
      // After a refusal, batches not sent yet stay unsent, so the summary says exactly what was appended.
      if (refused !== undefined) return;
      await producer.appendMany(events).then(
        (results) => {
          appended += results.length;
          firstSeq = Math.min(firstSeq ?? Infinity, results[0]!.seq);
          lastSeq = Math.max(lastSeq, results.at(-1)!.seq);
        },
        (error: unknown) => {
          refused ??= `the events of ${lines} ${outcome(client, error, true)}: ${client.describe(error)}`;
        },
      );
    });
    // No more input is read while MAX_IN_FLIGHT batches are unacknowledged: this one waits to be sent.
    await queue.onSizeLessThan(1);
    if (refused !== undefined) {
      await settle();
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
      event = parseEvent(line);
    } catch (error) {
      // Everything before the bad line is appended, so the message can say exactly what was.
      await send();
      await settle();
      if (refused !== undefined) throw new CliError(`${refused}; ${summary()}`);
      throw new CliError(`line ${lineNo}: ${(error as Error).message}; ${summary()} from the lines before it`);
    }
    if (batch.length === 0) batchFirst = lineNo;
    batchLast = lineNo;
    batch.push(event);
    batchBytes += Buffer.byteLength(line) + boundBytes;
    if (full()) await send();
  };

  input.setEncoding('utf8');
  for await (const chunk of input as AsyncIterable<string>) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const part of parts) await onLine(part);
  }
  if (rest !== '') await onLine(rest);
  await send();
  await settle();
  if (refused !== undefined) throw new CliError(`${refused}; ${summary()}`);
  return { count: appended, seqs: firstSeq === undefined ? undefined : [firstSeq, lastSeq] };
}

/**
 * What became of a failed append: a refusal (an error frame, a frame refused as too
 * large, or no connection ever) stored nothing; a connection lost after sending, an
 * append not acknowledged within its timeout, or a malformed ack leaves it unknown.
 */
function outcome(client: CliConnection, error: unknown, plural = false): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const unknown =
    (client.opened && error instanceof ConnectionError && code !== ErrorCode.UNAUTHORIZED && code !== ErrorCode.FORBIDDEN) ||
    // Sent and not acknowledged in time, or acknowledged wrongly: the server may have stored it.
    (client.opened && code === ErrorCode.APPEND_TIMEOUT) ||
    code === ErrorCode.PROTOCOL_ERROR;
  if (!unknown) return plural ? 'were not appended' : 'was not appended';
  return `${plural ? 'were' : 'was'} not acknowledged and may or may not have been stored`;
}

/** One line as an event, or an Error saying what is wrong with it. */
function parseEvent(line: string): NewEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new Error(`not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(value)) throw new Error('expected a JSON object like {"name":"submit","context":{"id":1}}');
  const { name, context } = value;
  if (typeof name !== 'string' || name === '') throw new Error('"name" must be a non-empty string');
  if (context === undefined) return { name };
  if (!isPlainObject(context)) throw new Error('"context" must be a JSON object');
  return { name, context };
}

export const command: Command = { usage: USAGE, run };
