/**
 * The durable-append baseline: raw lmdb-js puts in the store's durability
 * mode (fsync in the commit, as server/lmdb-store.ts opens LMDB), with
 * lmdb-js's own batching of each event-loop turn's puts into one transaction
 * (the store writes its log instead, and LMDB in explicit transactions), the
 * same keys and values, `batch` puts per unit, up to `inFlight` units
 * unacknowledged. No server, no head record, no validation: the best case.
 */
import { open } from 'lmdb';
import { wireEvent, JOURNAL } from './lib/events.js';
import { config, report, run } from './lib/ipc.js';
import { window } from './lib/window.js';
import type { AppendConfig } from './append-producer.js';

run(async () => {
  const { path, total, batch, inFlight, warmup } = config<AppendConfig & { path: string }>();
  const root = open({
    path,
    overlappingSync: false,
    noSync: false,
    noMetaSync: false,
    useWritemap: false,
    eventTurnBatching: true,
  });
  const events = root.openDB<string, [string, number]>({ name: 'events', encoding: 'string' });
  let micros = Date.now() * 1000;
  /** Puts events `from` to `to` (exclusive), `batch` per unit, `inFlight` units at a time. */
  const putRange = (from: number, to: number): Promise<void> =>
    window(Math.ceil((to - from) / batch), inFlight, (n) => {
      let last: Promise<boolean> = Promise.resolve(true);
      for (let i = from + n * batch; i < Math.min(to, from + (n + 1) * batch); i++) {
        const timestamp = micros++;
        // An event as the store encodes it: `${seq}:${name.length}:${name}${json}`.
        last = events.put([JOURNAL, timestamp], `${i + 1}:6:submit${wireEvent(i, timestamp / 1e6)}`);
      }
      return last;
    });
  // Warmed up the same way as the server, so that both are timed with compiled code.
  await putRange(total, total + warmup);
  const started = performance.now();
  await putRange(0, total);
  const ms = performance.now() - started;
  await root.close();
  await report({ type: 'result', events: total, ms });
});
