/** `wsjournal forward`: runs a Forwarder from a journal to handlers until interrupted. */
import { ErrorCode, JournalError } from '../src/errors.js';
import { Forwarder } from '../src/forward/forwarder.js';
import type { EventHandler } from '../src/forward/handler.js';
import { createHandler, handlerNames, HANDLERS_VARIABLE, loadHandlersFromEnv } from '../src/forward/registry.js';
import { checkArgument, checkPositionals, CliError, parseCommandLine, parseNumber, UsageError, type Command } from './args.js';
import { CliConnection, DEFAULT_URL, onShutdownSignal, tokenOption } from './io.js';

const USAGE = `Usage: wsjournal forward JOURNAL [--to NAME=CONFIG]... [options]

Gives every event of JOURNAL to each handler, in order, oldest first, then
follows live events until interrupted. A handler that fails is retried with
backoff (each failure is printed to standard error); no event is skipped.

Handlers (--to, repeated; without any, those of $${HANDLERS_VARIABLE}, in its
NAME=CONFIG|NAME=CONFIG form):
  file=PATH             append each event as a line of JSON to PATH
  webhook=URL           POST each event as JSON to URL, with
                        Idempotency-Key: JOURNAL:SEQ
  stdout[=text]         print each event as JSON (or as text)
  journal=NAME@URL      append each event to journal NAME on another server

Options:
  --to NAME=CONFIG      a handler, as above (repeat for several)
  --checkpoint FILE     keep the position of the last event every handler
                        took in FILE (written atomically), and start after it
  --dead-letter NAME    record an event a handler refuses for good (a webhook's
                        4xx other than 408/429) in journal NAME and go on
                        (default: stop before it, with status 1)
  --since TS            start after TS, seconds since the epoch (a checkpoint
                        further on wins)
  --no-follow           stop once the history is forwarded, and exit 0
  --url URL             server to read from (default: ${DEFAULT_URL})
  --token T             bearer token, if the server asks for one
                        (default: $WSJOURNAL_TOKEN)
  -h, --help            show this help

Exit status: 0 on SIGINT/SIGTERM (after writing the checkpoint) or, with
--no-follow, once the history is forwarded; 1 when a handler refuses an event
for good (without --dead-letter), on a bad checkpoint, or when the server
cannot be reached; 2 on bad arguments.
`;

const OPTIONS = {
  to: { type: 'string', multiple: true },
  checkpoint: { type: 'string' },
  'dead-letter': { type: 'string' },
  since: { type: 'string' },
  'no-follow': { type: 'boolean' },
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

/** Failed reconnect attempts in a row before a dropped connection is given up on, with --no-follow. */
const MAX_RECONNECT_ATTEMPTS = 10;

async function run(args: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(args, OPTIONS);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  checkPositionals(positionals, 1, 1, 'JOURNAL');
  const journal = positionals[0]!;
  const since = values.since === undefined ? 0 : parseNumber(values.since, '--since', { min: 0 });
  const follow = values['no-follow'] !== true;
  const handlers = makeHandlers(values.to);
  const client = new CliConnection(values.url ?? DEFAULT_URL, {
    token: tokenOption(values.token),
    reconnect: true,
    ...(follow ? {} : { maxReconnectAttempts: MAX_RECONNECT_ATTEMPTS }),
  });
  let forwarder: Forwarder;
  try {
    forwarder = checkArgument(
      () =>
        new Forwarder(client.connection, journal, {
          handlers,
          since,
          ...(values.checkpoint === undefined ? {} : { checkpoint: values.checkpoint }),
          ...(values['dead-letter'] === undefined ? {} : { deadLetter: values['dead-letter'] }),
        }),
      'argument',
    );
  } catch (error) {
    await client.close();
    await Promise.allSettled(handlers.map((handler) => handler.close?.()));
    if (error instanceof JournalError) throw new CliError(`${error.code}: ${error.message}`);
    throw error;
  }

  let interrupted = false;
  let caughtUp = false;
  let lastError: unknown;
  const removeSignalHandlers = onShutdownSignal(() => {
    interrupted = true;
    forwarder.stop();
  });
  forwarder.on('error', (error) => {
    lastError = error;
    process.stderr.write(`wsjournal forward: ${client.describe(error)}\n`);
  });
  if (!follow) {
    forwarder.on('caughtUp', () => {
      caughtUp = true;
      forwarder.stop();
    });
  }
  const ended = new Promise<void>((resolve) => forwarder.once('end', () => resolve()));
  forwarder.start();
  await ended;
  removeSignalHandlers();
  await forwarder.close();
  await client.close();

  if (forwarder.failure !== undefined) throw new CliError(`stopped: ${forwarder.failure.message}`);
  if (interrupted || caughtUp) {
    const at = forwarder.position;
    process.stderr.write(`wsjournal forward: stopped${at === undefined ? '' : ` after ${journal}:${at.seq}`}\n`);
    return 0;
  }
  throw new CliError(lastError === undefined ? 'the stream ended unexpectedly' : client.describe(lastError));
}

/** The handlers of the --to options, or else of the environment; at least one. */
function makeHandlers(to: string[] | undefined): EventHandler[] {
  const make = (): EventHandler[] => {
    if (to === undefined || to.length === 0) return loadHandlersFromEnv();
    return to.map((spec) => {
      const equals = spec.indexOf('=');
      return createHandler(equals === -1 ? spec : spec.slice(0, equals), equals === -1 ? '' : spec.slice(equals + 1));
    });
  };
  let handlers: EventHandler[];
  try {
    handlers = make();
  } catch (error) {
    if (error instanceof JournalError && error.code === ErrorCode.INVALID_HANDLER) throw new UsageError(error.message);
    throw error;
  }
  if (handlers.length === 0) {
    throw new UsageError(`no handler: give --to NAME=CONFIG (${handlerNames().join(', ')}) or set $${HANDLERS_VARIABLE}`);
  }
  return handlers;
}

export const command: Command = { usage: USAGE, run };
