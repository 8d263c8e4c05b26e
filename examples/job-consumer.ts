/**
 * A consumer subclass with its own event type, in the style of Flux's job
 * journal consumer: each job event's `jobid` is lifted out of the context
 * into a field, and events are printed as `jobid name context`. It reads
 * them with poll(), the third way to consume besides callbacks and `for await`.
 *
 * Run (after `npm run build`, with `npm start` serving in another terminal):
 *
 *   WSJOURNAL_URL=ws://127.0.0.1:7707 node dist/examples/job-consumer.js [JOURNAL] [--max N] [--idle SECONDS]
 *
 * JOURNAL defaults to "jobs" (what examples/producer.ts and the README's quick
 * start write: events whose context holds a `jobid`). --max N
 * exits after N job events; --idle S exits once history has been read and
 * no new event came for S seconds; otherwise it runs until Ctrl-C.
 */
import { parseArgs } from 'node:util';
// In your own project: import { ... } from 'wsjournal';
import {
  JournalConsumer,
  JournalEvent,
  TimeoutError,
  type EventEntry,
  type EventEntryInit,
  type JournalResponse,
} from '../src/index.js';

/** A job event: a journal event whose `jobid` is a field of its own rather than part of the context. */
class JobEvent extends JournalEvent {
  readonly jobid: string | number | undefined;
  /** The journal the event came from, which matters once events of several journals are mixed. */
  readonly journal: string | undefined;

  constructor(entry: EventEntryInit, journal?: string) {
    // Lift `jobid` and leave the rest as the context, so that contextString
    // (and so toString) no longer repeats it.
    const { jobid, ...context } = (entry.context ?? {}) as Record<string, unknown>;
    super({ ...entry, context });
    this.jobid = typeof jobid === 'string' || typeof jobid === 'number' ? jobid : undefined;
    this.journal = journal;
  }
}

/** Follows a journal of job events. */
class JobJournalConsumer extends JournalConsumer<JobEvent> {
  // The sentinel must be of the subclass's event type, so that code reading
  // JobEvents never meets a plain JournalEvent. The consumer hands over this
  // very object, so `event === JobJournalConsumer.SENTINEL_EVENT` tells it apart.
  static override SENTINEL_EVENT = new JobEvent({});

  // Called once per response from the server (a page of history or a batch
  // of live events); what it returns is passed to createEvent for every
  // event of that response. Flux's job consumer takes the jobid from here,
  // because there each response belongs to one job; here each event carries
  // its own jobid, so createEvent lifts it, and the response only
  // contributes where it came from.
  processResponse(_resp: JournalResponse): Record<string, unknown> {
    return { journal: this.journal };
  }

  createEvent(entry: EventEntry, kwargs: Record<string, unknown>): JobEvent {
    return new JobEvent(entry, kwargs.journal as string);
  }
}

const { values, positionals } = parseArgs({
  options: { max: { type: 'string' }, idle: { type: 'string' } },
  allowPositionals: true,
});
const url = process.env.WSJOURNAL_URL ?? 'ws://127.0.0.1:7707';
const journal = positionals[0] ?? 'jobs';
const max = values.max === undefined ? Infinity : Number(values.max);
if (!(max > 0)) throw new RangeError(`--max must be a positive number, got ${values.max}`);
// poll() takes seconds; -1 waits forever.
const idle = values.idle === undefined ? -1 : Number(values.idle);
if (!(idle > 0 || idle === -1)) throw new RangeError(`--idle must be a positive number of seconds, got ${values.idle}`);

const consumer = new JobJournalConsumer(url, journal, { includeSentinel: true });
consumer.on('error', (error) => console.error(`job-consumer: ${error.message}`));
process.once('SIGINT', () => consumer.stop());
consumer.start(); // poll() before start() rejects with NotStartedError

let count = 0;
let caughtUp = false;
for (;;) {
  let event: JobEvent | null;
  try {
    // Wait as long as it takes for history (connecting may take a while),
    // and at most --idle seconds for each live event.
    event = await consumer.poll(caughtUp ? idle : -1);
  } catch (error) {
    // Only the waiting timed out; the consumer itself carries on. Here it
    // is a reason to stop: poll() then returns what was already received,
    // then null.
    if (!(error instanceof TimeoutError)) throw error;
    console.log(`-- no event for ${idle} s, stopping --`);
    consumer.stop();
    continue;
  }
  if (event === null) break; // stopped, and everything received was consumed
  if (event === JobJournalConsumer.SENTINEL_EVENT) {
    caughtUp = true;
    console.log('-- end of history --');
    continue;
  }
  // An event of the journal that carries no jobid (not a job event) prints "-".
  console.log(`${event.jobid ?? '-'} ${event.name} ${event.contextString}`);
  // Break rather than stop() and poll on: after stop(), poll() still hands
  // over every event already received (possibly many) before null.
  if (++count >= max) break;
}
consumer.stop(); // idempotent; closes the connection the consumer opened
console.log(`job-consumer: done after ${count} events`);
