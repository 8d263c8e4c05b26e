/**
 * A wsjournal server in its own process, on the embedded LmdbStore (at `path`)
 * or a RedisStore (at `redisUrl`, keys under `prefix`). Reports `listening`
 * with its URL, runs until told to `close`, then reports its peak RSS and the
 * CPU time it spent while listening.
 */
import { JournalServer } from '../server/index.js';
import { cpuMs } from './lib/cpu.js';
import { command, config, report, run } from './lib/ipc.js';
import { RssSampler } from './lib/rss.js';
import { openStore, type StoreConfig } from './lib/store.js';

/** `schemas`: registered before the server reports `listening`. */
export type JournalServerConfig = StoreConfig & { schemas?: Record<string, unknown>[] };

run(async () => {
  const options = config<JournalServerConfig>();
  const rss = new RssSampler(100);
  const store = openStore(options);
  const server = new JournalServer({ port: 0, store, ...(options.schemas === undefined ? {} : { schemas: options.schemas }) });
  await server.listen();
  await report({ type: 'listening', url: server.url });
  const cpu = process.cpuUsage();
  await command('close');
  const serverCpuMs = cpuMs(cpu);
  await server.close();
  await store.close();
  await report({ type: 'closed', rssMaxMB: rss.maxMB, cpuMs: serverCpuMs });
});
