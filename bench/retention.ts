/**
 * Scenario: retention on the embedded store (server on LmdbStore in its own process).
 *
 * - `retention/trim`: a journal of N + 1,000 events (default N = 1,000,000; quick 100,000) is
 *   trimmed of its oldest N through `server.trim()`, while a producer in this process appends
 *   one event every 5 ms to another journal and times each round trip. Records the trim's time
 *   and events/s, the server's RSS before and at its peak, and the worst and p99 bystander
 *   round trips. Bar: worst bystander round trip ≤ 100 ms.
 * - `retention/backup`: `server.backup()` of the data directory while idle, in MB/s, against a
 *   plain copy (`fs.copyFile`) of the same `data.mdb` in the same run; no bar.
 */
import { copyFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { JournalProducer } from '../src/journal-producer.js';
import { BenchProcess, stopAll } from './lib/child.js';
import { round } from './lib/results.js';
import { log, tempDir, type ScenarioContext } from './lib/scenario.js';

const BYSTANDER_EVERY_MS = 5;

export async function retention(context: ScenarioContext, events?: number): Promise<void> {
  const count = events ?? (context.quick ? 100_000 : 1_000_000);
  const dir = tempDir('retention');
  let server: BenchProcess | undefined;
  let producer: JournalProducer | undefined;
  try {
    log(`retention: populating ${count + 1000} events`);
    const populate = new BenchProcess('replay-populate', { store: 'lmdb', path: join(dir.path, 'data'), count: count + 1000 });
    await populate.next('populated', 30 * 60_000);
    await populate.stop();

    server = new BenchProcess('retention-server', { path: join(dir.path, 'data') }, { execArgv: context.profileArgv('retention-server') });
    const { url } = await server.next<{ type: 'listening'; url: string }>('listening');
    producer = new JournalProducer(url, 'bystander');
    await producer.append('warm', {});
    const trips: number[] = [];
    let trimming = true;
    const bystander = (async () => {
      while (trimming) {
        const tick = new Promise((resolve) => setTimeout(resolve, BYSTANDER_EVERY_MS));
        const sent = performance.now();
        await producer!.append('tick', {});
        trips.push(performance.now() - sent);
        await tick;
      }
    })();
    log(`retention: trimming ${count} events`);
    server.send({ type: 'trim', beforeSeq: count + 1 });
    const trim = await server.next<{ type: 'trimmed'; trimmed: number; ms: number; rssBeforeMB: number; rssMaxMB: number }>('trimmed', 30 * 60_000);
    trimming = false;
    await bystander;
    trips.sort((a, b) => a - b);
    const worst = round(trips.at(-1) ?? 0, 1);
    context.recorder.record({
      scenario: 'retention/trim',
      events: trim.trimmed,
      ms: Math.round(trim.ms),
      eventsPerSec: Math.round(trim.trimmed / (trim.ms / 1000)),
      rssBeforeMB: trim.rssBeforeMB,
      rssMaxMB: trim.rssMaxMB,
      bystanderAppends: trips.length,
      bystanderP99Ms: round(trips[Math.floor(trips.length * 0.99)] ?? 0, 1),
      bystanderWorstMs: worst,
      bar: '<= 100 ms worst bystander round trip',
      pass: worst <= 100,
    });

    server.send({ type: 'backup', dir: join(dir.path, 'backup') });
    const backup = await server.next<{ type: 'backed-up'; bytes: number; ms: number }>('backed-up', 30 * 60_000);
    const source = join(dir.path, 'data', 'data.mdb');
    const copyStarted = performance.now();
    copyFileSync(source, join(dir.path, 'plain-copy.mdb'));
    const copyMs = performance.now() - copyStarted;
    const mb = (bytes: number) => bytes / 2 ** 20;
    const backupMBs = round(mb(backup.bytes) / (backup.ms / 1000), 1);
    const copyMBs = round(mb(statSync(source).size) / (copyMs / 1000), 1);
    context.recorder.record({
      scenario: 'retention/backup',
      bytes: backup.bytes,
      ms: Math.round(backup.ms),
      mbPerSec: backupMBs,
      plainCopyBytes: statSync(source).size,
      plainCopyMs: Math.round(copyMs),
      plainCopyMBPerSec: copyMBs,
      ratio: round(backupMBs / copyMBs),
    });
    server.send({ type: 'close' });
    await server.next('closed');
  } finally {
    await producer?.close();
    await stopAll([server]);
    dir.remove();
  }
}
