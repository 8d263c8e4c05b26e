/**
 * Appends `rate` events per second, one at a time, to the bench journal for `durationMs`
 * after `warmupMs`, each with `shard: i % shards` like the populated events, and reports the
 * append round trips of the measured part: the load of the query scenario, and its bystander.
 */
import { JournalProducer } from '../src/index.js';
import { benchContext, JOURNAL } from './lib/events.js';
import { Histogram } from './lib/histogram.js';
import { command, config, report, run } from './lib/ipc.js';
import { pace } from './lib/pacer.js';

export interface QueryLoadConfig {
  url: string;
  rate: number;
  shards: number;
  warmupMs: number;
  durationMs: number;
}

run(async () => {
  const options = config<QueryLoadConfig>();
  const producer = new JournalProducer(options.url, JOURNAL);
  await producer.append('warmup', { warm: 1 });
  await report({ type: 'ready' });
  await command('go');
  const warmup = Math.round((options.rate * options.warmupMs) / 1000);
  const total = warmup + Math.round((options.rate * options.durationMs) / 1000);
  const acks = new Histogram();
  let pending = 0;
  let failures = 0;
  let drained: (() => void) | undefined;
  const paced = await pace(total, options.rate, (i) => {
    const sent = performance.now();
    pending++;
    producer.append('submit', { ...benchContext(i), shard: i % options.shards }).then(
      () => {
        if (i >= warmup) acks.record(performance.now() - sent);
      },
      () => failures++,
    ).finally(() => {
      if (--pending === 0) drained?.();
    });
  });
  if (pending > 0) await new Promise<void>((resolve) => (drained = resolve));
  await producer.close();
  await report({ type: 'done', achievedRate: Math.round((total * 1000) / paced.ms), failures, ack: acks.toJSON() });
});
