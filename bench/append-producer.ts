/**
 * Durable appends through the server: one JournalProducer appends `total`
 * events, `batch` per append (appendMany), with up to `inFlight` appends
 * unacknowledged. Times from the first append to the last ack, after `warmup`
 * events appended the same way and not timed.
 */
import { JournalProducer } from '../src/index.js';
import { BENCH_SCHEMA_REF, benchContext, JOURNAL } from './lib/events.js';
import { config, report, run } from './lib/ipc.js';
import { window } from './lib/window.js';

export interface AppendConfig {
  total: number;
  batch: number;
  inFlight: number;
  /** Events appended in the same shape before the timed ones, so that the timing starts with compiled code. */
  warmup: number;
  /** Name BENCH_SCHEMA on every event, so that the server validates each context (the server must have it registered). */
  schema?: boolean;
  /** The producer's `coalesce` option. @default true */
  coalesce?: boolean;
}

run(async () => {
  const { url, total, batch, inFlight, warmup, schema, coalesce = true } = config<AppendConfig & { url: string }>();
  const named = schema === true ? { schema: BENCH_SCHEMA_REF } : {};
  const producer = new JournalProducer(url, JOURNAL, { coalesce });
  /** Appends events `from` to `to` (exclusive), `batch` per append, `inFlight` at a time. */
  const appendRange = (from: number, to: number): Promise<void> =>
    window(Math.ceil((to - from) / batch), inFlight, (n) => {
      const events = [];
      for (let i = from + n * batch; i < Math.min(to, from + (n + 1) * batch); i++) events.push({ name: 'submit', context: benchContext(i), ...named });
      return batch === 1 ? producer.append('submit', events[0]!.context, named) : producer.appendMany(events);
    });
  await appendRange(total, total + warmup);
  const started = performance.now();
  await appendRange(0, total);
  const ms = performance.now() - started;
  await producer.close();
  await report({ type: 'result', events: total, ms });
});
