/**
 * A lone append's latency: one JournalProducer appends one event at a time,
 * each after the previous one's ack, so no append ever shares its frame, and
 * records each append's time to its ack. `coalesce: false` runs the path
 * before coalescing, for comparison in the same run.
 */
import { JournalProducer } from '../src/index.js';
import { benchContext, JOURNAL } from './lib/events.js';
import { Histogram } from './lib/histogram.js';
import { config, report, run } from './lib/ipc.js';

export interface LatencyConfig {
  samples: number;
  warmup: number;
  coalesce: boolean;
}

run(async () => {
  const { url, samples, warmup, coalesce } = config<LatencyConfig & { url: string }>();
  const producer = new JournalProducer(url, JOURNAL, { coalesce });
  for (let i = 0; i < warmup; i++) await producer.append('submit', benchContext(i));
  const histogram = new Histogram();
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await producer.append('submit', benchContext(i));
    histogram.record(performance.now() - started);
  }
  await producer.close();
  await report({ type: 'result', ...histogram.summary() });
});
