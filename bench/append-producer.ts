/**
 * Durable appends through the server: one JournalProducer appends `total`
 * events, `batch` per append (appendMany), with up to `inFlight` appends
 * unacknowledged. Times from the first append to the last ack, after one
 * warm-up append.
 */
import { JournalProducer } from '../src/index.js';
import { benchContext, JOURNAL } from './lib/events.js';
import { config, report, run } from './lib/ipc.js';
import { window } from './lib/window.js';

export interface AppendConfig {
  total: number;
  batch: number;
  inFlight: number;
}

run(async () => {
  const { url, total, batch, inFlight } = config<AppendConfig & { url: string }>();
  const producer = new JournalProducer(url, JOURNAL);
  await producer.append('warmup', {});
  const started = performance.now();
  await window(Math.ceil(total / batch), inFlight, (n) => {
    const events = [];
    for (let i = n * batch; i < Math.min(total, (n + 1) * batch); i++) events.push({ name: 'submit', context: benchContext(i) });
    return batch === 1 ? producer.append('submit', events[0]!.context) : producer.appendMany(events);
  });
  const ms = performance.now() - started;
  await producer.close();
  await report({ type: 'result', events: total, ms });
});
