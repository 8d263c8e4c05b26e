/**
 * A simulated experiment, after bluesky: each run is a `start` event, a
 * `descriptor` saying what the readings hold, one `event` per reading, and a
 * `stop` event saying how the run ended. `run-summary.js` reads them back,
 * run by run.
 *
 * Run (after `npm run build`, with `npm start` serving in another terminal):
 *
 *   WSJOURNAL_URL=ws://127.0.0.1:7707 node dist/examples/experiment.js [JOURNAL] [--runs N] [--points P] [--fail K]
 *
 * JOURNAL defaults to "scans"; --runs N scans (default 3), --points P readings
 * each (default 5); --fail K makes scan K (1-based) fail half-way, as a
 * detector would, to show a run stopped with `fail`.
 */
import { parseArgs } from 'node:util';
// In your own project: import { JournalProducer, type Run } from 'wsjournal';
import { JournalProducer, type Run } from '../src/index.js';

const { values, positionals } = parseArgs({
  options: { runs: { type: 'string' }, points: { type: 'string' }, fail: { type: 'string' } },
  allowPositionals: true,
});
const url = process.env.WSJOURNAL_URL ?? 'ws://127.0.0.1:7707';
const journal = positionals[0] ?? 'scans';
const runs = Number(values.runs ?? 3);
const points = Number(values.points ?? 5);
const failing = values.fail === undefined ? 0 : Number(values.fail);
if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`--runs must be an integer >= 1, got ${values.runs}`);
if (!Number.isInteger(points) || points < 1) throw new RangeError(`--points must be an integer >= 1, got ${values.points}`);

const producer = new JournalProducer(url, journal);
const samples = ['Fe', 'Cu', 'Au', 'Ag', 'Pt'];

/** One scan: a descriptor, then a reading per motor position. */
async function scan(run: Run, index: number): Promise<void> {
  // The descriptor names the stream and says what its events carry; each event names its descriptor.
  await run.append('descriptor', { descriptor: 'primary', data_keys: { motor: 'mm', det: 'counts' } });
  for (let point = 0; point < points; point++) {
    if (index === failing && point === Math.floor(points / 2)) throw new Error('detector stopped answering');
    const motor = point * 0.5;
    // A made-up peak: counts rise towards the middle of the scan.
    const det = Math.round(1000 * Math.exp(-((motor - points / 4) ** 2)) + 10 * index);
    await run.append('event', { descriptor: 'primary', motor, det });
  }
}

let failures = 0;
for (let index = 1; index <= runs; index++) {
  const sample = samples[(index - 1) % samples.length]!;
  try {
    // withRun appends the start, then the stop: `success` when scan() resolves, `fail` (with the
    // error's message as the reason) when it throws. The run's events carry `run` and `seq_num`.
    await producer.withRun({ plan: 'scan', sample, points }, async (run) => {
      console.log(`run ${index} (${sample}) started: ${run.id}`);
      await scan(run, index);
    });
    console.log(`run ${index} (${sample}) stopped: success`);
  } catch (error) {
    failures++;
    console.log(`run ${index} (${sample}) stopped: fail (${(error as Error).message})`);
  }
}
await producer.close();
console.log(`experiment: ${runs} runs, ${failures} failed`);
