/**
 * The storage contract every journal store fulfils. The server depends on
 * this interface alone, so `MemoryStore`, `LmdbStore` and shared stores drop
 * in unchanged; `test/store-conformance.ts` checks each one against it.
 */
import type { SchemaRef } from '../src/protocol.js';

/** An event as a producer hands it to the store. */
export interface NewEvent {
  readonly name: string;
  /** The event's context; may be left out when `contextJson` is given. Stores read it through `contextJson()` (server/encode.ts). */
  readonly context?: Record<string, unknown>;
  /** The context as JSON text (an object), when the caller has it already; stores then use it as is. */
  readonly contextJson?: string;
  /** `JSON.stringify(name)`, when the caller has it already (the server takes it from the append frame). */
  readonly nameJson?: string;
  /** The registered schema the event names; stored with it, as `"schema":{"id":…,"version":…}` at the end of its JSON. */
  readonly schema?: SchemaRef | undefined;
  /** The event's seq, kept as it is in an append with `preserve`; ignored otherwise. */
  readonly seq?: number;
  /** The event's timestamp (seconds, rounded to whole microseconds), kept as it is in an append with `preserve`; ignored otherwise. */
  readonly timestamp?: number;
}

/**
 * An event as stored. `json` is the wire encoding of the whole entry,
 * `{"name":…,"timestamp":…,"context":…,"seq":…}` (then `,"schema":{"id":…,"version":…}` before
 * the last brace when the event names a schema), made once at append so replay sends it
 * without serialising again.
 */
export interface StoredEvent {
  readonly seq: number;
  readonly timestamp: number;
  readonly name: string;
  readonly json: string;
}

/** A registered schema as stores keep it: its `$id`, its `version`, and its body as canonical JSON text. */
export interface StoredSchema {
  readonly id: string;
  readonly version: number;
  readonly json: string;
}

/** The newest event of a journal: `{ seq: 0, timestamp: 0 }` for an empty or unknown journal. */
export interface JournalHead {
  readonly seq: number;
  readonly timestamp: number;
}

/** A journal that holds (or held) events, and its head. */
export interface JournalInfo {
  readonly name: string;
  readonly head: JournalHead;
}

/** What a store reports to whoever observes it (the server's metrics). */
export interface StoreObserver {
  /** A flush of the store's log to disk took `seconds` (LmdbStore: one fdatasync round of the write-ahead log). */
  fsync?(seconds: number): void;
}

/** Receives every batch appended to a journal, in append order, once it is readable and survives a crash of the process. */
export type AppendListener = (events: readonly StoredEvent[]) => void;

/**
 * How many batch keys each journal remembers: the newest 10,000. A retry must
 * come before that many other keyed batches, or it is stored again.
 */
export const IDEMPOTENCY_KEY_LIMIT = 10_000;

export interface AppendOptions {
  /**
   * A batch key. If a batch with the same key was stored in this journal
   * before (among its last {@link IDEMPOTENCY_KEY_LIMIT} keyed batches), the
   * store stores nothing and returns the events of that batch.
   */
  readonly key?: string | undefined;
  /**
   * Store each event with its own `seq` and `timestamp` instead of assigning them: how a
   * journal moves between stores with its positions (server/preserve.ts). Both must
   * increase strictly through the batch, the first above the journal's head; otherwise
   * the append rejects with `OUT_OF_ORDER` and stores nothing.
   */
  readonly preserve?: boolean | undefined;
}

/** What `trim` removes: the events with a timestamp before `before`, or a seq before `beforeSeq` (that seq is kept); both given, the earlier bound wins. */
export interface TrimOptions {
  /** Seconds: events with a timestamp strictly before it are removed. */
  readonly before?: number | undefined;
  /** Events with a seq strictly below it are removed. */
  readonly beforeSeq?: number | undefined;
}

/** What a trim removed. */
export interface TrimResult {
  /** Events removed. */
  readonly trimmed: number;
}

/**
 * Where a journal starts now: the oldest event it keeps, and the newest event retention removed.
 * A reader whose start lies before `removed.timestamp` missed events: its history is truncated.
 */
export interface JournalStart {
  /** The oldest event kept: `{ seq: 0, timestamp: 0 }` for an empty or unknown journal. */
  readonly first: JournalHead;
  /** The newest event removed by a trim: `{ seq: 0, timestamp: 0 }` when none ever was. */
  readonly removed: JournalHead;
}

/**
 * Events a trim removes per step at most: each step is one transaction (LmdbStore), one script
 * (RedisStore) or one splice (MemoryStore), and the event loop turns between steps.
 */
export const TRIM_SLICE_EVENTS = 4096;

/** What a backup wrote. */
export interface BackupResult {
  /** Bytes of the copy. */
  readonly bytes: number;
}

export interface JournalStore {
  /**
   * Appends a batch atomically: all of it or none. Assigns each event the next
   * `seq` and a timestamp `max(now, last + 1e-6)` (microseconds), strictly
   * increasing across restarts. Resolves once the batch is durable. Batches
   * passed in call order are stored in that order.
   */
  append(journal: string, events: readonly NewEvent[], options?: AppendOptions): Promise<StoredEvent[]>;
  /** Up to `limit` events with `timestamp > after`, oldest first, including every batch watchers were given. */
  read(journal: string, after: number, limit: number): Promise<StoredEvent[]>;
  /**
   * Up to `limit` events with `timestamp < before`, newest first; `before` may be `Infinity`
   * (from the head). Queries read a journal backwards with it, a page at a time.
   */
  readBefore(journal: string, before: number, limit: number): Promise<StoredEvent[]>;
  /**
   * Up to `limit` events with `seq >= from`, oldest first: a seek by seq. The first is the
   * event `from` itself unless retention removed it.
   */
  readFromSeq(journal: string, from: number, limit: number): Promise<StoredEvent[]>;
  /** The newest event's position. */
  head(journal: string): Promise<JournalHead>;
  /**
   * Up to `limit` journals that were ever appended to, with names after `after` (exclusive;
   * `undefined` from the first), in name order, each with its head: one page of the list.
   */
  listJournals(after: string | undefined, limit: number): Promise<JournalInfo[]>;
  /** Resolves when the store can take appends; rejects with `STORE_UNAVAILABLE` when it cannot (closed, broken, unreachable). */
  check(): Promise<void>;
  /** Reports the store's own measurements to `observer` until the returned function is called. Stores with nothing to report leave it out. */
  observe?(observer: StoreObserver): () => void;
  /**
   * Calls `listener` with every batch appended to `journal` from now on, by any
   * writer of the store, in order, once `read` and `head` include it and a
   * crash of the process cannot take it back: after the commit, or (LmdbStore)
   * once it is in the write-ahead log, before the fsync. Returns a function
   * that stops it.
   */
  watch(journal: string, listener: AppendListener): () => void;
  /**
   * Stores `schema` unless a schema with its `id` and `version` is stored already, and
   * resolves, once what it stored is durable and visible to every server on the store, with
   * the schema stored under that id and version (`schema` itself when `created`). Schemas are
   * never changed or removed.
   */
  putSchema(schema: StoredSchema): Promise<{ schema: StoredSchema; created: boolean }>;
  /** The schema stored under `id` and `version`, if any. */
  getSchema(id: string, version: number): Promise<StoredSchema | undefined>;
  /** Up to `limit` schemas in `id`, then `version`, order, starting after `after` (from the first when it is undefined). */
  listSchemas(after: SchemaRef | undefined, limit: number): Promise<StoredSchema[]>;
  /**
   * Removes a journal's oldest events, those before `options.before` (seconds) or
   * `options.beforeSeq`, oldest first, in steps of at most {@link TRIM_SLICE_EVENTS} events each
   * atomic, so that a crash in the middle leaves the journal without a hole: only a shorter
   * prefix is gone. The newest event is always kept (it holds the journal's head, from which
   * seqs go on). Events appended meanwhile are not touched. Resolves with how many were removed.
   */
  trim(journal: string, options: TrimOptions): Promise<TrimResult>;
  /** Where the journal starts now: its oldest kept event, and the newest one removed. */
  start(journal: string): Promise<JournalStart>;
  /**
   * Writes a consistent copy of the store into `dir` (created; it must not exist or be
   * empty) while appends go on: it holds every event appended before the call. Stores that
   * cannot copy themselves leave it out (the server then refuses with `BACKUP_UNSUPPORTED`).
   */
  backup?(dir: string): Promise<BackupResult>;
  /** Closes the store; later calls reject. Idempotent. */
  close(): Promise<void>;
}
