/**
 * The live scenario's storage floor: raw lmdb-js puts of the same events, in
 * the store's durability mode (fsync in the commit, one transaction per
 * event-loop turn), paced at the scenario's rate, one process, no network.
 * Reports put→commit latency: no server that delivers only durable events can
 * beat it, so it shows how much of wsjournal's live latency is the fsync.
 */
import { open } from 'lmdb';
import { monoMs } from './lib/clock.js';
import { JOURNAL, wireEvent } from './lib/events.js';
import { Histogram } from './lib/histogram.js';
import { config, report, run } from './lib/ipc.js';
import { pace } from './lib/pacer.js';

export interface LiveFloorConfig {
  path: string;
  rate: number;
  warmupMs: number;
  durationMs: number;
}

run(async () => {
  const { path, rate, warmupMs, durationMs } = config<LiveFloorConfig>();
  const root = open({ path, overlappingSync: false, noSync: false, noMetaSync: false, useWritemap: false, eventTurnBatching: true });
  const events = root.openDB<string, [string, number]>({ name: 'events', encoding: 'string' });
  const warmup = Math.round((rate * warmupMs) / 1000);
  const total = warmup + Math.round((rate * durationMs) / 1000);
  const histogram = new Histogram();
  const pending: Promise<unknown>[] = [];
  let micros = Date.now() * 1000;
  await pace(total, rate, (i) => {
    const timestamp = micros++;
    const sentAt = monoMs();
    const put = events.put([JOURNAL, timestamp], `${i + 1}:6:submit${wireEvent(i, timestamp / 1e6)}`);
    pending.push(i < warmup ? put : put.then(() => histogram.record(monoMs() - sentAt)));
  });
  await Promise.all(pending);
  await root.close();
  await report({ type: 'result', latency: histogram.summary() });
});
