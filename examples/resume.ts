/**
 * A consumer that survives restarts: it saves how far it got after each
 * event it has processed, and when started again it resumes from there, so
 * that no event is processed twice and none is missed.
 *
 * Run (after `npm run build`, with `npm start` serving in another terminal):
 *
 *   WSJOURNAL_URL=ws://127.0.0.1:7707 node dist/examples/resume.js [JOURNAL] [--max N] [--state FILE]
 *
 * JOURNAL defaults to "jobs"; --state defaults to ./state/resume-JOURNAL.json
 * (the directory is made if need be, and .gitignore covers it);
 * --max N exits after N events (else Ctrl-C). Run it, stop it, run it again:
 * the second run starts with the first event the first run did not process.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
// In your own project: import { EventLogConsumer } from 'wsjournal';
import { EventLogConsumer, type JournalEvent } from '../src/index.js';

const { values, positionals } = parseArgs({
  options: { max: { type: 'string' }, state: { type: 'string' } },
  allowPositionals: true,
});
const url = process.env.WSJOURNAL_URL ?? 'ws://127.0.0.1:7707';
const journal = positionals[0] ?? 'jobs';
const statePath = values.state ?? `./state/resume-${journal}.json`;
await mkdir(dirname(statePath), { recursive: true });
const max = values.max === undefined ? Infinity : Number(values.max);
if (!(max > 0)) throw new RangeError(`--max must be a positive number, got ${values.max}`);

// `since` is exclusive: only events with `timestamp > since` are delivered.
// Timestamps are unique and strictly increasing within a journal, so the
// timestamp of the last event processed is exactly where to carry on.
const since = await loadTimestamp(statePath);
console.log(`resume: ${journal} after ${since.toFixed(6)}`);

const consumer = new EventLogConsumer(url, journal, { since, includeSentinel: true });
consumer.on('error', (error) => console.error(`resume: ${error.message}`));
// Ctrl-C: stop() ends a loop that is waiting for the next event. After
// stop() the iterator would still hand over every event already received
// (with a long history, possibly many); this consumer need not process
// them now, as the next run fetches them again, so it leaves at once.
let interrupted = false;
process.once('SIGINT', () => {
  interrupted = true;
  consumer.stop();
});

let count = 0;
for await (const event of consumer) {
  if (event.isEmpty()) {
    console.log('-- caught up, now following live events --');
    continue;
  }
  handle(event);
  // Save only once the event has been processed. What to save is
  // `consumer.lastTimestamp`: the newest event handed to the application.
  // (Here it is this event's timestamp.) It is not the newest event the
  // consumer has *received*: history is held until it ends and live events
  // queue up ahead of the loop, so saving what arrived (say, from the
  // 'event' emitter event) would skip every event still queued when the
  // process dies. Events that were received but never handed over are
  // simply fetched again by the next run.
  await saveTimestamp(statePath, consumer.lastTimestamp);
  count++;
  // Leaving the loop stops the consumer; the queued events it drops are the
  // next run's first events, since nothing after lastTimestamp was saved.
  if (count >= max || interrupted) break;
}
console.log(`resume: processed ${count} events, saved ${consumer.lastTimestamp.toFixed(6)} to ${statePath}`);

/** The application's work. Here: print the event. */
function handle(event: JournalEvent): void {
  console.log(`processed ${event.seq} ${event.name} ${event.contextString}`);
  // A crash after this line and before the save below means this one event
  // is processed again on restart. Where that matters, store the timestamp
  // in the same transaction as the work's result, or make the work
  // idempotent (for instance keyed by `event.seq`).
}

/** The saved timestamp, or 0 (the whole journal) when there is none yet. */
async function loadTimestamp(path: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  const saved = JSON.parse(text) as { journal?: unknown; lastTimestamp?: unknown };
  if (saved.journal !== journal || typeof saved.lastTimestamp !== 'number') {
    throw new Error(`${path} does not hold a position in journal ${journal}`);
  }
  return saved.lastTimestamp;
}

/**
 * Writes the position atomically: a temporary file, flushed to disk, then
 * renamed over the old one. A crash leaves either the old or the new
 * position, never a half-written file. (A number is written exactly: JSON
 * keeps every bit of a float.)
 */
async function saveTimestamp(path: string, lastTimestamp: number): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  const file = await open(temp, 'w');
  try {
    await file.writeFile(`${JSON.stringify({ journal, lastTimestamp })}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
}
