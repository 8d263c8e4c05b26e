/**
 * A wsjournal server on LmdbStore (at `path`) for the retention scenario. Reports `listening`;
 * on `trim` trims the bench journal before `beforeSeq` and reports the time and the process's
 * RSS before and at its peak meanwhile; on `backup` writes a backup into `dir` and reports its
 * size and time; on `close` closes.
 */
import { JournalServer } from '../server/index.js';
import { LmdbStore } from '../server/lmdb-store.js';
import { JOURNAL } from './lib/events.js';
import { command, config, report, run } from './lib/ipc.js';
import { RssSampler } from './lib/rss.js';

run(async () => {
  const options = config<{ path: string }>();
  const store = new LmdbStore({ path: options.path });
  const server = new JournalServer({ port: 0, store });
  await server.listen();
  await report({ type: 'listening', url: server.url });
  const { beforeSeq } = await command<{ type: 'trim'; beforeSeq: number }>('trim');
  const rssBeforeMB = Math.round((process.memoryUsage.rss() / 2 ** 20) * 10) / 10;
  const rss = new RssSampler(10);
  const started = performance.now();
  const { trimmed } = await server.trim(JOURNAL, { beforeSeq });
  const ms = performance.now() - started;
  await report({ type: 'trimmed', trimmed, ms, rssBeforeMB, rssMaxMB: rss.maxMB });
  rss.stop();
  const { dir } = await command<{ type: 'backup'; dir: string }>('backup');
  const backupStarted = performance.now();
  const status = await server.backup(dir);
  await report({ type: 'backed-up', bytes: status.bytes, ms: performance.now() - backupStarted });
  await command('close');
  await server.close();
  await store.close();
  await report({ type: 'closed' });
});
