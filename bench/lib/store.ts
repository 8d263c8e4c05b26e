/** Which store a bench server or populator opens. */
import { LmdbStore, RedisStore, type JournalStore } from '../../server/index.js';

/** The embedded store at `path`, or a RedisStore (keys under `prefix`). */
export type StoreConfig = { store: 'lmdb'; path: string } | { store: 'redis'; redisUrl: string; prefix: string };

export function openStore(options: StoreConfig): JournalStore {
  switch (options.store) {
    case 'lmdb':
      return new LmdbStore({ path: options.path });
    case 'redis':
      return new RedisStore({ url: options.redisUrl, prefix: options.prefix });
  }
}
