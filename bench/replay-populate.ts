/**
 * Fills a store with `count` bench events before a replay (or a query) is timed: straight
 * into the store (no server), in batches of 1,000, a few in flight. With `shards`, each
 * event's context also has `shard: i % shards`, for selectors of a known selectivity.
 */
import { BENCH_SCHEMA_REF, benchContext, JOURNAL } from './lib/events.js';
import { config, report, run } from './lib/ipc.js';
import { openStore, type StoreConfig } from './lib/store.js';

/** `schema`: every event names BENCH_SCHEMA, as a validated append would have stored it. `shards`: contexts carry `shard: i % shards`. */
type PopulateConfig = StoreConfig & { count: number; schema?: boolean; shards?: number };

const BATCH = 1000;
const IN_FLIGHT = 8;

run(async () => {
  const options = config<PopulateConfig>();
  const store = openStore(options);
  const started = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let first = 0; first < options.count; first += BATCH) {
    const events = [];
    const named = options.schema === true ? { schema: BENCH_SCHEMA_REF } : {};
    for (let i = first; i < Math.min(options.count, first + BATCH); i++) {
      const context = options.shards === undefined ? benchContext(i) : { ...benchContext(i), shard: i % options.shards };
      events.push({ name: 'submit', context, ...named });
    }
    const append = store.append(JOURNAL, events);
    inFlight.add(append);
    const settle = (): boolean => inFlight.delete(append);
    append.then(settle, settle);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const head = await store.head(JOURNAL);
  await store.close();
  await report({ type: 'populated', seq: head.seq, ms: Math.round(performance.now() - started) });
});
