/**
 * `for await` over a journal: its history, then live events, as one loop.
 * Stops after --max events, or on Ctrl-C.
 *
 * Run (after `npm run build`, with `npm start` serving in another terminal):
 *
 *   WSJOURNAL_URL=ws://127.0.0.1:7707 node dist/examples/async-iteration.js [JOURNAL] [--max N]
 *
 * JOURNAL defaults to "jobs"; without --max the loop runs until Ctrl-C.
 */
import { parseArgs } from 'node:util';
// In your own project: import { EventLogConsumer } from 'wsjournal';
import { EventLogConsumer } from '../src/index.js';

const { values, positionals } = parseArgs({ options: { max: { type: 'string' } }, allowPositionals: true });
const url = process.env.WSJOURNAL_URL ?? 'ws://127.0.0.1:7707';
const journal = positionals[0] ?? 'jobs';
const max = values.max === undefined ? Infinity : Number(values.max);
if (!(max > 0)) throw new RangeError(`--max must be a positive number, got ${values.max}`);

// With `includeSentinel` the loop also receives the (empty) sentinel event
// between history and live events. Listening for the 'sentinel' emitter
// event instead would be misleading here: it fires as soon as history has
// been *received*, before the loop has got through it.
const consumer = new EventLogConsumer(url, journal, { includeSentinel: true });
consumer.on('error', (error) => console.error(`async-iteration: ${error.message}`));

// Ctrl-C: stop() makes the loop end by itself once the events already
// received have been consumed (the iterator finishes where poll() would
// return null), so the loop needs no flag of its own.
process.once('SIGINT', () => consumer.stop());

let count = 0;
// Iterating starts the consumer if it was not started.
for await (const event of consumer) {
  if (event.isEmpty()) {
    console.log('-- end of history, now following live events --');
    continue;
  }
  count++;
  console.log(`${count}: ${event.toString()}`);
  // Leaving the loop (break, return or throw) stops the consumer and closes
  // its connection: there is nothing else to clean up.
  if (count >= max) break;
}

console.log(`async-iteration: done after ${count} events`);
