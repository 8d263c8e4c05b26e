/**
 * Fills an LmdbStore for the forward scenario: `count` bench events in the journal `bench`
 * (as the replay scenario's), and `count` events of runs in `bench-runs`: runs of 100
 * events (`start`, `descriptor`, 97 `event`s, `stop`), 10 of them open at a time and
 * interleaved, each event carrying its `run`, as `producer.withRun` writes them.
 */
import { benchContext, JOURNAL } from './lib/events.js';
import { config, report, run } from './lib/ipc.js';
import { openStore } from './lib/store.js';

const RUNS_JOURNAL = 'bench-runs';
const RUN_LENGTH = 100;
const OPEN_RUNS = 10;
const BATCH = 1000;

interface PopulateConfig {
  path: string;
  count: number;
}

/** Event `i` of the runs journal. */
function runEvent(i: number): { name: string; context: Record<string, unknown> } {
  // Rounds of OPEN_RUNS runs, their events taken in turn: run r's k-th event is at i = (round·100 + k)·10 + r%10.
  const slot = i % OPEN_RUNS;
  const step = Math.floor(i / OPEN_RUNS);
  const round = Math.floor(step / RUN_LENGTH);
  const k = step % RUN_LENGTH;
  const id = `run-${round * OPEN_RUNS + slot}`;
  if (k === 0) return { name: 'start', context: { run: id, plan: 'scan', sample: 'Fe' } };
  if (k === 1) return { name: 'descriptor', context: { run: id, descriptor: 'primary', seq_num: 1 } };
  if (k === RUN_LENGTH - 1) return { name: 'stop', context: { run: id, exit_status: 'success', num_events: RUN_LENGTH - 2 } };
  return { name: 'event', context: { run: id, descriptor: 'primary', seq_num: k, ...benchContext(i) } };
}

run(async () => {
  const { path, count } = config<PopulateConfig>();
  const store = openStore({ store: 'lmdb', path });
  const started = performance.now();
  for (const [journal, make] of [[JOURNAL, (i: number) => ({ name: 'submit', context: benchContext(i) })], [RUNS_JOURNAL, runEvent]] as const) {
    const inFlight = new Set<Promise<unknown>>();
    for (let first = 0; first < count; first += BATCH) {
      const events = [];
      for (let i = first; i < Math.min(count, first + BATCH); i++) events.push(make(i));
      const append = store.append(journal, events);
      inFlight.add(append);
      const settle = (): boolean => inFlight.delete(append);
      append.then(settle, settle);
      if (inFlight.size >= 8) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  }
  await store.close();
  await report({ type: 'populated', ms: Math.round(performance.now() - started) });
});
