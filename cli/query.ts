/** `wsjournal query`: a journal's events that match filters, over the HTTP API. */
import type { EventsQuery } from '../src/journal-client.js';
import { checkPositionals, CliError, parseCommandLine, parseJsonObject, parseList, parseNumber, UsageError, type Command } from './args.js';
import { eventLine } from './event-line.js';
import { httpClient, requestFailure } from './http.js';
import { DEFAULT_URL, LineWriter, onShutdownSignal } from './io.js';

const DEFAULT_LIMIT = 100;
const LEVELS = ['debug', 'info', 'warning', 'error', 'critical', 'alert'];

const USAGE = `Usage: wsjournal query JOURNAL [options]

Prints the events of JOURNAL that match the filters, oldest first (newest
first with --desc), one per line as "<timestamp> <name> <k=v,...>" (the timestamp to the
microsecond, as tail prints it).

Options:
  --where JSON    a selector on {name, timestamp, seq, context}, MongoDB-style:
                  '{"context.state":"failed","context.attempts":{"$gte":3}}'
  --names A,B     only events with these names
  --level L       only log events at level L or above (debug, info, warning,
                  error, critical, alert)
  --since TS      only events after TS, in seconds since the epoch
  --until TS      only events at or before TS
  --after SEQ     only events after the one numbered SEQ
  --limit N       print at most N events (default: ${DEFAULT_LIMIT}; 0 for all)
  --desc          newest first
  --json          print one JSON object per line: {"timestamp","context","name","seq"}
  --url URL       server to ask (default: ${DEFAULT_URL}; ws:// and http://
                  name the same server)
  --token T       bearer token, if the server asks for one
                  (default: $WSJOURNAL_TOKEN)
  -h, --help      show this help

Exit status: 0 on success (also when nothing matches); 1 when the journal has
never been written, or the server cannot be reached or refuses (a bad
selector: INVALID_SELECTOR); 2 on bad arguments.
`;

const OPTIONS = {
  where: { type: 'string' },
  names: { type: 'string' },
  level: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  after: { type: 'string' },
  limit: { type: 'string' },
  desc: { type: 'boolean' },
  json: { type: 'boolean' },
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
  const limit = values.limit === undefined ? DEFAULT_LIMIT : parseNumber(values.limit, '--limit', { integer: true, min: 0 });
  if (values.level !== undefined && !LEVELS.includes(values.level)) throw new UsageError(`--level must be one of ${LEVELS.join(', ')}`);
  const query: EventsQuery = {
    since: values.since === undefined ? undefined : parseNumber(values.since, '--since', { min: 0 }),
    until: values.until === undefined ? undefined : parseNumber(values.until, '--until', { min: 0 }),
    after: values.after === undefined ? undefined : parseNumber(values.after, '--after', { integer: true, min: 0 }),
    names: values.names === undefined ? undefined : parseList(values.names, '--names'),
    level: values.level as EventsQuery['level'],
    where: values.where === undefined ? undefined : parseJsonObject(values.where, '--where'),
    order: values.desc === true ? 'desc' : 'asc',
    limit: limit === 0 ? undefined : limit,
    pageSize: limit === 0 ? 1000 : Math.min(limit, 1000),
  };
  const client = httpClient(values.url, values.token);
  const stopped = new AbortController();
  const writer = new LineWriter(process.stdout, () => stopped.abort());
  let signalled: NodeJS.Signals | undefined;
  const removeSignalHandlers = onShutdownSignal((signal) => {
    signalled = signal;
    stopped.abort();
  });
  let printed = 0;
  try {
    for await (const event of client.events(journal, { ...query, signal: stopped.signal })) {
      await writer.write(values.json === true ? JSON.stringify(event.toJSON()) : eventLine(event));
      printed++;
      if (writer.broken || signalled !== undefined) return signalled === undefined ? 0 : signalled === 'SIGINT' ? 130 : 143;
    }
    // Nothing printed: a journal never written deserves a word (a typo, say); a filter that matches nothing does not.
    if (printed === 0 && (await client.journal(journal)) === undefined) {
      throw new CliError(`journal ${journal} has never been written (see "wsjournal journals")`);
    }
  } catch (error) {
    if (stopped.signal.aborted) return signalled === undefined ? 0 : signalled === 'SIGINT' ? 130 : 143;
    if (error instanceof CliError) throw error;
    throw requestFailure(client, error);
  } finally {
    removeSignalHandlers();
    writer.dispose();
  }
  return 0;
}

export const command: Command = { usage: USAGE, run };
