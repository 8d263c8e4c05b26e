/** Which store a bench server or populator opens. */
import { LmdbStore, MemoryStore, RedisStore, type JournalStore } from '../../server/index.js';

/** The embedded store at `path`, a RedisStore (keys under `prefix`), or a MemoryStore (nothing durable). */
export type StoreConfig = { store: 'lmdb'; path: string } | { store: 'redis'; redisUrl: string; prefix: string } | { store: 'memory' };

export function openStore(options: StoreConfig): JournalStore {
  switch (options.store) {
    case 'lmdb':
      return new LmdbStore({ path: options.path });
    case 'memory':
      return new MemoryStore();
    case 'redis':
      return new RedisStore({ url: options.redisUrl, prefix: options.prefix });
  }
}
