/**
 * Reads an experiment's runs (see experiment.js) with a RunRouter: for each
 * run, callbacks made when its `start` arrives follow it to its `stop`, then
 * print one summary line and are dropped, so memory follows the runs open,
 * however many pass. A sub-factory per `descriptor` keeps the statistics of
 * that descriptor's readings.
 *
 * Run (after `npm run build`, with `npm start` serving in another terminal):
 *
 *   WSJOURNAL_URL=ws://127.0.0.1:7707 node dist/examples/run-summary.js [JOURNAL] [--max N]
 *
 * JOURNAL defaults to "scans". Prints a summary per run, of the history and
 * then of live runs; stops after --max N summaries, or on Ctrl-C.
 */
import { parseArgs } from 'node:util';
// In your own project: import { EventLogConsumer, RunRouter, type JournalEvent, type RunFactory } from 'wsjournal';
import { EventLogConsumer, RunRouter, type JournalEvent, type RunFactory } from '../src/index.js';

const { values, positionals } = parseArgs({ options: { max: { type: 'string' } }, allowPositionals: true });
const url = process.env.WSJOURNAL_URL ?? 'ws://127.0.0.1:7707';
const journal = positionals[0] ?? 'scans';
const max = values.max === undefined ? Infinity : Number(values.max);
if (!(max > 0)) throw new RangeError(`--max must be a positive number, got ${values.max}`);

const consumer = new EventLogConsumer(url, journal);
let summaries = 0;

/** Per run: its sample, and per descriptor the readings' count, peak and where it was. */
const summarize: RunFactory = (start) => {
  const streams = new Map<string, { count: number; peak: number; at: number }>();
  // Called on each descriptor of the run: the callbacks it returns get that descriptor's events.
  const perDescriptor = (descriptor: JournalEvent) => {
    const stats = { count: 0, peak: -Infinity, at: NaN };
    streams.set(String(descriptor.context['descriptor']), stats);
    return [
      (event: JournalEvent) => {
        if (event.name !== 'event') return;
        const det = Number(event.context['det']);
        stats.count++;
        if (det > stats.peak) {
          stats.peak = det;
          stats.at = Number(event.context['motor']);
        }
      },
    ];
  };
  // The run's own callback gets every event of the run; on the stop, it writes the summary.
  const onRunEvent = (event: JournalEvent) => {
    if (event.name !== 'stop') return;
    const parts = [...streams].map(([name, s]) => `${name}: ${s.count} readings, peak ${s.peak} at ${s.at}`);
    const reason = event.context['reason'] === undefined ? '' : ` (${String(event.context['reason'])})`;
    console.log(`summary ${String(start.context['sample'])} ${String(event.context['exit_status'])}${reason}: ${parts.join('; ') || 'no readings'}`);
    if (++summaries >= max) consumer.stop();
  };
  return [[onRunEvent], [perDescriptor]];
};

// Events of a run whose start came before the history this consumer reads (or after
// its stop) have no run to go to: the orphan handler counts them.
let orphans = 0;
const router = new RunRouter([summarize], { orphan: () => void orphans++ });
consumer.on('error', (error) => console.error(`run-summary: ${error.message}`));
process.once('SIGINT', () => consumer.stop());
const done = new Promise<void>((resolve) => {
  // The router's `route` is bound: it goes straight to setCallback, and ignores the final null.
  consumer.setCallback((event) => {
    if (event === null) resolve();
    return router.route(event);
  });
});
consumer.start();
await done;
console.log(`run-summary: ${summaries} runs summarized, ${orphans} orphan events, ${router.openRuns} runs still open`);
