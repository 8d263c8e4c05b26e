/** wsjournal/server: the journal server and its stores. */
export { JournalServer } from './journal-server.js';
export { LmdbStore } from './lmdb-store.js';
export { MemoryStore } from './memory-store.js';
export { RedisStore } from './redis-store.js';

export type { TokensOption } from './auth/access-tokens.js';
export type { Scope } from './auth/scope.js';
export type { JournalPolicy } from './journal-policies.js';
export type { JournalServerOptions } from './journal-server.js';
export type { LmdbStoreOptions } from './lmdb-store.js';
export type { MemoryStoreOptions } from './memory-store.js';
export type { RedisStoreOptions } from './redis-store.js';
export type { LoggerOption } from './observe/logger.js';
export type { Registration, SchemaPage } from './schemas/registry.js';
export type {
  AppendListener,
  AppendOptions,
  JournalHead,
  JournalInfo,
  JournalStore,
  NewEvent,
  StoredEvent,
  StoredSchema,
  StoreObserver,
} from './store.js';
