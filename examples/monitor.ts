/**
 * A monitor: prints a journal forever — its history, one line where history
 * ends, then every live event as it is appended — until Ctrl-C.
 *
 * Run (after `npm run build`, with `npm start` serving in another terminal):
 *
 *   WSJOURNAL_URL=ws://127.0.0.1:7707 node dist/examples/monitor.js [JOURNAL]
 *
 * JOURNAL defaults to "jobs". Try it next to `node dist/examples/producer.js`.
 */
// In your own project: import { EventLogConsumer } from 'wsjournal';
import { EventLogConsumer, type JournalEvent } from '../src/index.js';

const url = process.env.WSJOURNAL_URL ?? 'ws://127.0.0.1:7707';
const journal = process.argv[2] ?? 'jobs';

// EventLogConsumer is the ready-made consumer: every entry becomes a plain
// JournalEvent. `includeSentinel` asks for one extra, empty event between the
// last historical event and the first live one; that is how a callback
// learns that it has caught up.
const consumer = new EventLogConsumer(url, journal, { includeSentinel: true });

// The callback sees every event in order, one at a time (an async callback
// is awaited before the next event is handed over). After `stop()` it is
// called once more with `null`: the end of the stream.
consumer.setCallback((event: JournalEvent | null) => {
  if (event === null) {
    console.log('monitor stopped');
    return; // nothing keeps the process alive any more: it exits by itself
  }
  // For the sentinel, toString() reads "<time> End of historical data stream";
  // test `event === EventLogConsumer.SENTINEL_EVENT` (or `event.isEmpty()`)
  // if you need to act on it rather than print it.
  console.log(event.toString());
});

// The consumer reconnects and resumes on its own when the connection drops;
// these events only tell you that it happened. An unhandled 'error' is not
// thrown, so listen for it if you want to see it.
consumer.on('error', (error) => console.error(`monitor: ${error.message}`));
consumer.on('reconnect', () => console.error('monitor: reconnected, resuming where it left off'));

// start() returns at once; the subscription opens in the background.
consumer.start();

// Ctrl-C: stop() cancels the subscription and closes the connection the
// consumer opened; the callback then receives the events already received
// and finally `null`. `once`, so that a second Ctrl-C kills the process the
// usual way if anything were stuck.
process.once('SIGINT', () => consumer.stop());
