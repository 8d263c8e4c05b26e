/** The embedded durable store: every journal in one LMDB environment on local disk. */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { open, type Database, type RootDatabase } from 'lmdb';
import { ErrorCode, JournalError } from '../src/errors.js';
import { checkPositive } from '../src/validate.js';
import { eventJson, nextMicros, nowMicros, firstMicrosAfter, firstMicrosFrom, toMicros } from './encode.js';
import { KeyIndex } from './key-index.js';
import { batchKeyPrefix, ChunkWriter, packValue, RecordReader } from './lmdb-records.js';
import { checkContinues, preservedPositions, type PreservedPositions } from './preserve.js';
import { IDEMPOTENCY_KEY_LIMIT, TRIM_SLICE_EVENTS } from './store.js';
import { checkTrimOptions, trimBoundMicros } from './trim-bound.js';
import type { SchemaRef } from '../src/protocol.js';
import { parseSchemaKey, schemaKey } from './schema-key.js';
import type { AppendListener, AppendOptions, BackupResult, JournalHead, JournalInfo, JournalStart, JournalStore, NewEvent, StoredEvent, StoredSchema, StoreObserver, TrimOptions, TrimResult } from './store.js';
import { Watchers } from './watchers.js';
import { WriteAheadLog, type WalRecord } from './write-ahead-log.js';

export interface LmdbStoreOptions {
  /** Directory of the LMDB environment, created if missing. One process opens it at a time. */
  readonly path: string;
  /**
   * The time source, in microseconds since the epoch. Timestamps stay strictly
   * increasing whatever it returns; tests use it to move the clock.
   * @default nowMicros (performance.timeOrigin + performance.now())
   */
  readonly clock?: () => number;
  /**
   * Journals whose head and batch keys are kept in memory (up to ~0.3 MB each with
   * 10,000 keys). Past it, the least recently used journals with no append in
   * flight are dropped, and reloaded from disk when next used. @default 1000
   */
  readonly maxCachedJournals?: number;
  /**
   * Events appended and not yet in LMDB past which an append resolves only once LMDB holds
   * it (not as soon as the write-ahead log is fsync'd), so that a disk slower than the
   * appends bounds the memory they take. @default 100000
   */
  readonly maxBacklogEvents?: number;
}

/** On a journal's first keyed append after opening, its batch keys are recovered from at most this many of its newest events. */
const KEY_SCAN_LIMIT = 100_000;
/** LMDB keys hold at most ~1,900 bytes; journal names are far shorter (128 chars on the wire). */
const MAX_JOURNAL_BYTES = 1024;
const END = Number.MAX_SAFE_INTEGER;
const REPLAY_ON_RESTART = 'the store takes no more appends until it is reopened and replays its write-ahead log';

type EventKey = [journal: string, micros: number];
/** The durable head of a journal: its newest seq and micros (older versions appended a third number). */
type HeadRecord = [seq: number, micros: number];

/** A batch staged in the write-ahead log and not yet written, and its journal's position before it. */
interface Unpublished {
  readonly state: JournalState;
  readonly batch: Batch;
  readonly seq: number;
  readonly micros: number;
}

/** A batch in the write-ahead log that LMDB does not hold yet. */
interface Batch {
  /** What the log holds, and LMDB will: the events' keys and values, and the journal's head after them. */
  readonly record: WalRecord;
  readonly stored: StoredEvent[];
  readonly key: string | undefined;
  /** Resolves with `stored` once the batch is durable in the log. */
  readonly result: Promise<StoredEvent[]>;
  /** Tells the log that LMDB holds the batch. */
  readonly committed: () => void;
}

interface JournalState {
  /** Assigned so far, including batches not yet in LMDB: the newest readable event, since a batch is emitted as it is assigned. */
  seq: number;
  micros: number;
  /**
   * Batches emitted and not yet committed to LMDB, oldest first: `read()` serves them from
   * here. A journal with any is never dropped from the cache, whose head is ahead of LMDB's.
   */
  unstored: Batch[];
  /** The store's use count when the journal was last used: the smallest is dropped first. */
  used: number;
  /**
   * The newest keyed batches, at most IDEMPOTENCY_KEY_LIMIT, by key hash; recovered from the
   * events at the first keyed append, since each batch's key is stored in its first event.
   */
  keys: KeyIndex | undefined;
}

/** Batches waiting for LMDB, and what resolves once a transaction holds them. */
interface Checkpoint {
  readonly batches: Batch[];
  events: number;
  readonly done: Promise<void>;
  readonly settle: (error?: Error) => void;
}

/**
 * Keeps journals in an LMDB environment, behind a write-ahead log (`wal/` in
 * the directory). The appends of one turn of the event loop are written to
 * the log with one `write(2)` once they have run, then given to watchers; each
 * resolves once the log is fsync'd (appends waiting meanwhile share one
 * fsync), so every acknowledged event survives `kill -9`
 * of the process and a power loss. LMDB takes the log's batches in fsync'd
 * transactions of many appends each, in the background; the next open
 * replays into LMDB what a crash kept from it.
 *
 * Reads and `head()` include the batches LMDB does not hold yet, so what a
 * watcher saw is always readable. Only a power loss can take back an event a
 * watcher saw and no append was acknowledged for. One store per directory:
 * a second, in this process or another, is refused while the first is open.
 *
 * @example
 * const store = new LmdbStore({ path: './data' });
 * const [event] = await store.append('jobs', [{ name: 'submit', context: { id: 1 } }]);
 */
export class LmdbStore implements JournalStore {
  readonly #root: RootDatabase;
  /** [journal, micros of its last event] → a chunk of the journal's events (server/lmdb-records.ts). */
  readonly #events: Database<string, EventKey>;
  /** journal → HeadRecord, written with each transaction's events (its versions are unused). */
  readonly #heads: Database<HeadRecord, string>;
  /** schemaKey(id, version) → the schema's canonical JSON. Written directly, not through the log (see putSchema). */
  readonly #schemas: Database<string, string>;
  /** journal → HeadRecord of the newest event a trim removed, written in the trim's transactions. */
  readonly #removed: Database<HeadRecord, string>;
  /** Trims, one at a time: each reads the chunks, then removes them in a transaction of its own. */
  #trims: Promise<unknown> = Promise.resolve();
  /** Schema registrations, one at a time: each reads, then writes, what the one before committed. */
  #schemaWrites: Promise<unknown> = Promise.resolve();
  readonly #clock: () => number;
  readonly #maxCachedJournals: number;
  readonly #maxBacklogEvents: number;
  /**
   * Cached journal states. Recency is a use count in each state, not the Map's order, which
   * would take a delete and a set per append (src/churn-map.ts says why that churn costs).
   */
  readonly #journals = new Map<string, JournalState>();
  #uses = 0;
  readonly #watchers = new Watchers();
  readonly #wal: WriteAheadLog;
  /** The batches the next LMDB transaction takes, and the transaction running, if any. */
  #queued: Checkpoint = newCheckpoint();
  #committing: Checkpoint | undefined;
  #checkpointing: Promise<void> | undefined;
  /** When the last LMDB transaction started (performance.now()). */
  #lastCommit = 0;
  /** Set when the log or LMDB failed: appends stop until a restart replays the log. */
  #broken: Error | undefined;
  /**
   * Batches appended this turn, staged in the log and not yet written: `#publish` writes them
   * with one `write(2)` once the turn's appends have run, then tells the watchers. Until then
   * no one sees them: reads and `head()` publish first.
   */
  #unpublished: Unpublished[] = [];
  #closing: Promise<void> | undefined;
  /** Reused by every read of LMDB records, each of which runs to its end synchronously. */
  readonly #reader = new RecordReader();

  constructor(options: LmdbStoreOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    const { path, clock = nowMicros, maxCachedJournals = 1000, maxBacklogEvents = 100_000 } = options;
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('options.path must be a non-empty string');
    if (typeof clock !== 'function') throw new TypeError('options.clock must be a function');
    this.#clock = clock;
    this.#maxCachedJournals = checkPositive(maxCachedJournals, 'options.maxCachedJournals', { integer: true });
    this.#maxBacklogEvents = checkPositive(maxBacklogEvents, 'options.maxBacklogEvents', { integer: true });
    let root: RootDatabase | undefined;
    let wal: WriteAheadLog | undefined;
    try {
      // The log first: its lock keeps a second store off the directory before LMDB is touched.
      wal = new WriteAheadLog(join(path, 'wal'));
      root = open({
        path,
        // Always a directory: lmdb-js would otherwise guess a single file from a dot in the name.
        noSubdir: false,
        // Durability: with overlappingSync off, LMDB fsyncs data and meta page inside the commit,
        // and lmdb-js resolves a write only after that commit, when the log's batches may go.
        overlappingSync: false,
        noSync: false,
        noMetaSync: false,
        useWritemap: false,
        // Each of the store's writes is an explicit batch or transaction (#commit, #recover). Turn
        // batching would add lmdb-js writes of its own, whose promises reject unhandled
        // when a commit fails (a full disk), taking the process down.
        eventTurnBatching: false,
      });
      this.#root = root;
      this.#events = root.openDB({ name: 'events', encoding: 'string' });
      this.#heads = root.openDB({ name: 'heads', useVersions: true });
      this.#schemas = root.openDB({ name: 'schemas', encoding: 'string' });
      this.#removed = root.openDB({ name: 'removed' });
      this.#wal = wal;
      this.#recover();
    } catch (error) {
      void root?.close();
      void wal?.close();
      throw new JournalError(ErrorCode.STORE_UNAVAILABLE, `cannot open the store at ${path}`, { cause: error });
    }
  }

  /**
   * Appends a batch atomically and resolves once it is durable. Seq and
   * timestamps are assigned at call time, so batches are stored in call order.
   * If the log cannot be written or fsync'd, or LMDB fails to take its
   * batches, appends reject with `STORE_UNAVAILABLE` from then on: watchers
   * may have seen batches LMDB lacks, so the next open replays them from the
   * log rather than reuse their seqs.
   */
  append(journal: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<StoredEvent[]> {
    // Not an async function: one returning the durable batch's promise costs one more promise per append.
    try {
      return this.#append(journal, events, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #append(journal: string, events: readonly NewEvent[], options: AppendOptions): Promise<StoredEvent[]> {
    this.#checkOpen();
    this.#checkWritable();
    checkJournal(journal);
    const state = this.#state(journal);
    const { key } = options;
    if (key !== undefined) {
      const batch = this.#storedBatch(journal, state, key);
      if (batch) return Promise.resolve(batch);
    }
    if (events.length === 0) return Promise.resolve([]);
    let { seq, micros } = state;
    const seqBefore = seq;
    let preserved: PreservedPositions | undefined;
    if (options.preserve) {
      preserved = preservedPositions(events);
      checkContinues(journal, preserved, seq, micros);
    }
    // Encode everything before writing anything, so a bad event cannot leave half a batch.
    // Sized up front: `push` would give each array room for 17, garbage at 10,000 appends/s.
    const times = new Array<number>(events.length);
    const values = new Array<string>(events.length);
    /** Each event's JSON ends its value: its length is where to cut it back out. */
    const jsonUnits = new Array<number>(events.length);
    try {
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        if (preserved === undefined) {
          seq++;
          micros = nextMicros(micros, this.#clock());
        } else {
          seq = preserved.seqs[i]!;
          micros = preserved.micros[i]!;
        }
        times[i] = micros;
        const json = eventJson(seq, micros, event);
        jsonUnits[i] = json.length;
        values[i] = packValue(seq, event.name, json, i === 0 && key !== undefined ? batchKeyPrefix(key, events.length) : '');
      }
    } catch (error) {
      throw new JournalError(ErrorCode.INVALID_EVENT, `an event cannot be encoded: ${(error as Error).message}`, {
        cause: error,
      });
    }
    // A preserving batch may skip seqs: the log then says where it starts, for recovery's check.
    const record: WalRecord =
      seq - values.length === seqBefore ? { journal, micros: times, values, seq } : { journal, micros: times, values, seq, prev: seqBefore };
    let committed: () => void;
    try {
      committed = this.#wal.stage(record);
    } catch (error) {
      this.#broken ??= error as Error;
      throw new JournalError(ErrorCode.STORE_UNAVAILABLE, `appending to ${journal} failed`, { cause: error });
    }
    // Staging wrote every value out whole, which left it one flat string: each event's name and JSON
    // are cut from it, so that what the batch keeps until its commit is one string per event, not
    // the pieces it was made of (and the frame text its context was sliced from).
    const stored = new Array<StoredEvent>(values.length);
    const firstSeq = seq - values.length + 1;
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      const jsonStart = value.length - jsonUnits[i]!;
      const name = value.slice(jsonStart - events[i]!.name.length, jsonStart);
      const eventSeq = preserved === undefined ? firstSeq + i : preserved.seqs[i]!;
      stored[i] = { seq: eventSeq, timestamp: times[i]! / 1e6, name, json: value.slice(jsonStart) };
    }
    // From here on the batch may be replayed from the log, so it is emitted once written.
    const microsBefore = state.micros;
    state.seq = seq;
    state.micros = micros;
    const checkpoint = this.#queued;
    checkpoint.events += values.length;
    const durable = this.#wal.sync();
    const result = (checkpoint.events > this.#maxBacklogEvents ? Promise.all([durable, checkpoint.done]) : durable).then(
      () => stored,
      (error: unknown) => {
        this.#broken ??= error as Error;
        throw new JournalError(ErrorCode.STORE_UNAVAILABLE, `appending to ${journal} failed; ${REPLAY_ON_RESTART}`, { cause: error });
      },
    );
    const batch: Batch = { record, stored, key, result, committed };
    state.unstored.push(batch);
    if (key !== undefined) state.keys!.remember(key, times[0]!);
    checkpoint.batches.push(batch);
    // Published once this turn's microtasks have run: the batches appended meanwhile (those an awaited check let through
    // one after another among them) go out in one write(2).
    if (this.#unpublished.push({ state, batch, seq: seqBefore, micros: microsBefore }) === 1) process.nextTick(this.#publish);
    this.#checkpointing ??= this.#checkpoint();
    return result;
  }

  /** Up to `limit` events with `timestamp > after`, oldest first, read from one cursor seek. */
  async read(journal: string, after: number, limit: number): Promise<StoredEvent[]> {
    this.#checkOpen();
    checkJournal(journal);
    const count = Math.floor(limit);
    if (!(count > 0) || Number.isNaN(after) || after === Infinity) return [];
    this.#publish();
    const page = this.#range(journal, firstMicrosAfter(after), count);
    const unstored = this.#journals.get(journal)?.unstored;
    if (unstored === undefined || unstored.length === 0 || page.length === count) return page;
    // The batches not yet committed follow everything committed; one may be both while its commit resolves.
    let last = page.at(-1)?.timestamp ?? after;
    for (const batch of unstored) {
      for (const event of batch.stored) {
        if (event.timestamp <= last) continue;
        page.push(event);
        last = event.timestamp;
        if (page.length === count) return page;
      }
    }
    return page;
  }

  /** The newest readable event's position, from memory or one lookup. */
  async head(journal: string): Promise<JournalHead> {
    this.#checkOpen();
    checkJournal(journal);
    this.#publish();
    const state = this.#journals.get(journal);
    if (state) return { seq: state.seq, timestamp: state.micros / 1e6 };
    const record = this.#guard(() => this.#heads.get(journal));
    return record ? { seq: record[0], timestamp: record[1] / 1e6 } : { seq: 0, timestamp: 0 };
  }

  /**
   * Stores a schema in its own fsync'd LMDB transaction, not through the write-ahead log:
   * registrations are rare, and one resolves only once LMDB holds it, before any event naming
   * it can pass validation and reach the log, so that recovery, which replays only events,
   * never meets an event whose schema LMDB lacks. Registrations run one at a time, each
   * reading what the one before committed, so that two bodies for one id and version can
   * never both be created.
   */
  putSchema(schema: StoredSchema): Promise<{ schema: StoredSchema; created: boolean }> {
    const registration = this.#schemaWrites.then(async () => {
      this.#checkOpen();
      const key = schemaKey(schema.id, schema.version);
      const json = this.#guard(() => this.#schemas.get(key));
      if (json !== undefined) return { schema: { id: schema.id, version: schema.version, json }, created: false };
      try {
        await this.#root.batch(() => void this.#schemas.put(key, schema.json));
      } catch (error) {
        throw new JournalError(ErrorCode.STORE_UNAVAILABLE, `registering schema ${schema.id} version ${schema.version} failed`, {
          cause: await commitFailure(error),
        });
      }
      return { schema: { id: schema.id, version: schema.version, json: schema.json }, created: true };
    });
    this.#schemaWrites = registration.catch(() => {});
    return registration;
  }

  async getSchema(id: string, version: number): Promise<StoredSchema | undefined> {
    this.#checkOpen();
    const json = this.#guard(() => this.#schemas.get(schemaKey(id, version)));
    return json === undefined ? undefined : { id, version, json };
  }

  async listSchemas(after: SchemaRef | undefined, limit: number): Promise<StoredSchema[]> {
    this.#checkOpen();
    const count = Math.floor(limit);
    if (!(count > 0)) return [];
    const from = after === undefined ? undefined : schemaKey(after.id, after.version);
    return this.#guard(() => {
      const page: StoredSchema[] = [];
      for (const { key, value } of this.#schemas.getRange(from === undefined ? {} : { start: from })) {
        if (key === from) continue;
        page.push({ ...parseSchemaKey(key), json: value });
        if (page.length === count) break;
      }
      return page;
    });
  }

  /**
   * Up to `limit` events with `timestamp < before`, newest first: the batches not yet in LMDB
   * (the newest), then LMDB's chunks through one reverse cursor.
   */
  async readBefore(journal: string, before: number, limit: number): Promise<StoredEvent[]> {
    this.#checkOpen();
    checkJournal(journal);
    const count = Math.floor(limit);
    if (!(count > 0) || Number.isNaN(before)) return [];
    this.#publish();
    const page: StoredEvent[] = [];
    let bound = Math.min(firstMicrosFrom(before), END);
    const unstored = this.#journals.get(journal)?.unstored ?? [];
    // A batch may be in LMDB too while its commit resolves: LMDB is read below the oldest taken here.
    for (let b = unstored.length - 1; b >= 0; b--) {
      const { stored } = unstored[b]!;
      for (let i = stored.length - 1; i >= 0; i--) {
        const micros = toMicros(stored[i]!.timestamp);
        if (micros >= bound) continue;
        page.push(stored[i]!);
        bound = micros;
        if (page.length === count) return page;
      }
    }
    if (bound > 0) this.#rangeBack(journal, bound, count, page);
    return page;
  }

  /** Up to `limit` events with `seq >= from`, oldest first: a binary search over LMDB's chunks for the first, then a forward read. */
  async readFromSeq(journal: string, from: number, limit: number): Promise<StoredEvent[]> {
    this.#checkOpen();
    checkJournal(journal);
    const count = Math.floor(limit);
    if (!(count > 0) || Number.isNaN(from)) return [];
    this.#publish();
    const unstored = this.#journals.get(journal)?.unstored ?? [];
    const firstUnstored = unstored[0]?.stored[0];
    if (firstUnstored !== undefined && from >= firstUnstored.seq) return unstoredFrom(unstored, from, count);
    const micros = this.#guard(() => this.#seqMicros(journal, from));
    // LMDB holds nothing at or after `from`: the batches it does not hold yet may (a preserved batch's
    // seqs may start past `from`).
    return micros === undefined ? unstoredFrom(unstored, from, count) : this.read(journal, (micros - 1) / 1e6, count);
  }

  /** The journals in LMDB's heads after `after`, with the cached ones LMDB does not hold yet, in name order. */
  async listJournals(after: string | undefined, limit: number): Promise<JournalInfo[]> {
    this.#checkOpen();
    const count = Math.floor(limit);
    if (!(count > 0)) return [];
    this.#publish();
    const heads = new Map<string, JournalHead>();
    this.#guard(() => {
      const range = this.#heads.getRange(after === undefined ? { limit: count + 1 } : { start: after, limit: count + 1 });
      for (const { key, value } of range) {
        if (key === after) continue;
        heads.set(key, { seq: value[0], timestamp: value[1] / 1e6 });
        if (heads.size === count) break;
      }
    });
    // A cached head is at least as new as LMDB's; a new journal's first batches are only cached.
    for (const [name, state] of this.#journals) {
      if (state.seq > 0 && (after === undefined || name > after)) heads.set(name, { seq: state.seq, timestamp: state.micros / 1e6 });
    }
    const names = [...heads.keys()].sort().slice(0, count);
    return names.map((name) => ({ name, head: heads.get(name)! }));
  }

  /**
   * Removes the journal's oldest events, oldest first, once LMDB holds every batch appended
   * before the call: each step reads up to TRIM_SLICE_EVENTS events' chunks, then removes them
   * in one fsync'd transaction with the position of the newest removed. A chunk the bound cuts
   * is rewritten with the events it keeps, under the same key, in that transaction: a crash
   * leaves a journal whose events are its old ones from some point on. Appends go on meanwhile;
   * they only add chunks after the ones a trim reads.
   */
  trim(journal: string, options: TrimOptions): Promise<TrimResult> {
    try {
      this.#checkOpen();
      checkJournal(journal);
      checkTrimOptions(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.#trims.then(() => this.#trim(journal, options));
    this.#trims = run.catch(() => {});
    return run;
  }

  async #trim(journal: string, options: TrimOptions): Promise<TrimResult> {
    await this.flush();
    const head = await this.head(journal);
    if (head.seq === 0) return { trimmed: 0 };
    const bound = await trimBoundMicros(options, toMicros(head.timestamp), async (seq) => (await this.readFromSeq(journal, seq, 1))[0]);
    let trimmed = 0;
    while (!this.#closing) {
      const step = this.#guard(() => this.#trimStep(journal, bound));
      if (step.events === 0) break;
      try {
        await this.#root.batch(() => {
          for (const key of step.removes) void this.#events.remove(key);
          if (step.rewrite !== undefined) void this.#events.put(step.rewrite.key, step.rewrite.text);
          void this.#removed.put(journal, step.last);
        });
      } catch (error) {
        throw new JournalError(ErrorCode.STORE_UNAVAILABLE, `trimming ${journal} failed`, { cause: await commitFailure(error) });
      }
      trimmed += step.events;
      if (!step.more) break;
    }
    return { trimmed };
  }

  /** One trim step: the oldest chunks wholly below `bound`, up to TRIM_SLICE_EVENTS events, and the chunk it cuts rewritten. */
  #trimStep(journal: string, bound: number): { removes: EventKey[]; rewrite: { key: EventKey; text: string } | undefined; events: number; last: HeadRecord; more: boolean } {
    const reader = this.#reader;
    const removes: EventKey[] = [];
    let rewrite: { key: EventKey; text: string } | undefined;
    let events = 0;
    let last: HeadRecord = [0, 0];
    for (const { key, value } of this.#events.getRange({ start: [journal, 0], end: [journal, END] })) {
      if (key[1] < bound) {
        // The whole chunk goes: its last event is below the bound.
        reader.reset(key[1], value);
        let count = 0;
        let chunkLast: HeadRecord = [0, 0];
        while (reader.next()) {
          count++;
          chunkLast = [reader.seq(), reader.micros];
        }
        if (events > 0 && events + count > TRIM_SLICE_EVENTS) return { removes, rewrite, events, last, more: true };
        removes.push(key);
        events += count;
        last = chunkLast;
        continue;
      }
      // The chunk the bound falls in: what it keeps is written back under its key.
      reader.reset(key[1], value);
      const kept: [micros: number, value: string][] = [];
      let cut = 0;
      while (reader.next()) {
        if (reader.micros < bound) {
          cut++;
          events++;
          last = [reader.seq(), reader.micros];
        } else {
          kept.push([reader.micros, value.slice(reader.start, reader.end)]);
        }
      }
      if (cut > 0) {
        let text = '';
        // Fewer events than the chunk held: they make one chunk, under the same last event's key.
        const writer = new ChunkWriter((_last, chunk) => (text = chunk));
        for (const [micros, entry] of kept) writer.add(micros, entry);
        writer.end();
        rewrite = { key, text };
      }
      return { removes, rewrite, events, last, more: false };
    }
    return { removes, rewrite, events, last, more: false };
  }

  /**
   * Writes a copy of the environment into `dir` with LMDB's own copy (`mdb_env_copy`, through
   * lmdb-js's `backup`), once LMDB holds every batch appended before the call: the copy is one
   * read transaction's snapshot, consistent while appends go on, so the write-ahead log adds
   * nothing to it (its batches from before the call are in LMDB by then). `new LmdbStore({ path:
   * dir })` opens it. Refuses with `BACKUP_REFUSED` when `dir` exists and is not empty.
   */
  async backup(dir: string): Promise<BackupResult> {
    this.#checkOpen();
    await prepareBackupDir(dir);
    await this.flush();
    try {
      await this.#root.backup(dir, false);
      const { size } = await stat(join(dir, 'data.mdb'));
      return { bytes: size };
    } catch (error) {
      throw new JournalError(ErrorCode.BACKUP_FAILED, `the backup into ${dir} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The journal's oldest kept event (in LMDB, or appended and not yet there), and the newest a trim removed. */
  async start(journal: string): Promise<JournalStart> {
    this.#checkOpen();
    checkJournal(journal);
    const [first] = await this.read(journal, 0, 1);
    const removed = this.#guard(() => this.#removed.get(journal));
    return {
      first: first ? { seq: first.seq, timestamp: first.timestamp } : { seq: 0, timestamp: 0 },
      removed: removed ? { seq: removed[0], timestamp: removed[1] / 1e6 } : { seq: 0, timestamp: 0 },
    };
  }

  /** Resolves while appends can be taken; rejects once the store is closed or a write failed. */
  async check(): Promise<void> {
    this.#checkOpen();
    this.#checkWritable();
  }

  /** Reports each fdatasync round of the write-ahead log to `observer.fsync`. */
  observe(observer: StoreObserver): () => void {
    const listener = (seconds: number): void => observer.fsync?.(seconds);
    this.#syncListeners.add(listener);
    this.#wal.onSync = this.#onSync;
    return () => {
      this.#syncListeners.delete(listener);
    };
  }

  readonly #syncListeners = new Set<(seconds: number) => void>();

  readonly #onSync = (seconds: number): void => {
    for (const listener of this.#syncListeners) listener(seconds);
  };

  /** Calls `listener` with every batch of `journal`, in order, once it is readable and in the write-ahead log. */
  watch(journal: string, listener: AppendListener): () => void {
    return this.#watchers.add(journal, listener);
  }

  /**
   * Resolves once LMDB holds every batch appended before the call (appends resolve earlier,
   * once in the log). Rejects if LMDB failed to take them.
   */
  flush(): Promise<void> {
    if (this.#broken) return Promise.reject(new JournalError(ErrorCode.STORE_UNAVAILABLE, `an earlier write failed; ${REPLAY_ON_RESTART}`, { cause: this.#broken }));
    // Transactions run in order: the one queued last finishes after the one running.
    return this.#queued.batches.length > 0 ? this.#queued.done : (this.#committing?.done ?? Promise.resolve());
  }

  /** Lets appends already made finish and reach LMDB, then closes the environment. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#checkpointing) await this.#checkpointing;
      await this.#schemaWrites;
      await this.#trims;
      this.#watchers.clear();
      this.#journals.clear();
      await this.#root.close();
      // Waits for the fsync running, so every append made has settled.
      await this.#wal.close();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The journal's cached head, loaded from disk the first time (or after it was dropped). */
  #state(journal: string): JournalState {
    let state = this.#journals.get(journal);
    if (state) {
      state.used = ++this.#uses;
      return state;
    }
    const [seq, micros] = this.#guard(() => this.#heads.get(journal)) ?? [0, 0];
    state = { seq, micros, unstored: [], used: ++this.#uses, keys: undefined };
    this.#journals.set(journal, state);
    if (this.#journals.size > this.#maxCachedJournals) this.#dropIdle(journal);
    return state;
  }

  /** Drops the least recently used journals that LMDB holds whole, down to the limit; never `keep`. */
  #dropIdle(keep?: string): void {
    const excess = this.#journals.size - this.#maxCachedJournals;
    if (excess <= 0) return;
    const idle = [...this.#journals].filter(([journal, state]) => journal !== keep && state.unstored.length === 0);
    idle.sort((a, b) => a[1].used - b[1].used);
    for (const [journal] of idle.slice(0, excess)) this.#journals.delete(journal);
  }

  /** @internal How many journals are cached now (tests). */
  get cachedJournals(): number {
    return this.#journals.size;
  }

  /**
   * Commits the write-ahead log's batches that LMDB does not hold (a crash came between the
   * two), in one fsync'd transaction, then deletes the log's old segments. From a batch that
   * does not follow its journal's head on (a second writer or a lost record), nothing more of
   * that journal is taken.
   */
  #recover(): void {
    const heads = new Map<string, HeadRecord>();
    const gapped = new Set<string>();
    const missing: WalRecord[] = [];
    for (const record of this.#wal.recovered()) {
      const { journal } = record;
      const head = heads.get(journal) ?? this.#heads.get(journal) ?? [0, 0];
      if (gapped.has(journal) || record.micros[0]! <= head[1]) continue;
      if ((record.prev ?? record.seq - record.micros.length) !== head[0]) {
        gapped.add(journal);
        continue;
      }
      missing.push(record);
      heads.set(journal, [record.seq, record.micros.at(-1)!]);
    }
    if (missing.length > 0) this.#root.transactionSync(() => this.#put(missing));
    this.#wal.discardRecovered();
  }

  /** Inside a write transaction: puts the records' events in chunks per journal, then each journal's head after its last record. */
  #put(records: readonly WalRecord[]): void {
    const journals = new Map<string, { writer: ChunkWriter; head: HeadRecord }>();
    for (const { journal, micros, values, seq } of records) {
      let entry = journals.get(journal);
      if (entry === undefined) {
        entry = { writer: new ChunkWriter((last, chunk) => void this.#events.put([journal, last], chunk)), head: [0, 0] };
        journals.set(journal, entry);
      }
      for (let i = 0; i < values.length; i++) entry.writer.add(micros[i]!, values[i]!);
      entry.head = [seq, micros.at(-1)!];
    }
    for (const [journal, { writer, head }] of journals) {
      writer.end();
      void this.#heads.put(journal, head);
    }
  }

  /**
   * Hands LMDB every queued batch in fsync'd transactions at most CHECKPOINT_INTERVAL_MS
   * apart, and again while more were queued meanwhile.
   * A failure stops the store: LMDB lacks batches that watchers saw and the log holds, which
   * the next open replays.
   */
  async #checkpoint(): Promise<void> {
    try {
      while (this.#queued.batches.length > 0) {
        // Appends are acknowledged from the log, so LMDB can wait: at most one transaction per
        // interval, which spares the disk a commit (pages and two fsyncs) per append at high
        // rates. The wait also lets this turn's frames leave before the transaction starts.
        await delay(Math.max(0, this.#lastCommit + CHECKPOINT_INTERVAL_MS - performance.now()));
        this.#lastCommit = performance.now();
        this.#publish();
        const checkpoint = this.#queued;
        this.#queued = newCheckpoint();
        this.#committing = checkpoint;
        try {
          // A backlog goes in parts, so that queueing one transaction's writes never holds the event loop long.
          for (let start = 0; start < checkpoint.batches.length; ) {
            const end = partEnd(checkpoint.batches, start);
            await this.#commit(checkpoint.batches.slice(start, end));
            start = end;
          }
          checkpoint.settle();
        } catch (error) {
          this.#broken ??= error as Error;
          checkpoint.settle(error as Error);
          this.#queued.settle(error as Error);
          return;
        }
      }
    } finally {
      this.#committing = undefined;
      this.#checkpointing = undefined;
    }
  }

  /**
   * Puts `batches` and their journals' heads in one transaction, and resolves once it is
   * committed and fsync'd. As a `batch()`, the puts are queued here and run on lmdb-js's write
   * thread; a `transaction()` callback would run them on the event loop.
   */
  async #commit(batches: readonly Batch[]): Promise<void> {
    try {
      await this.#root.batch(() => this.#put(batches.map((batch) => batch.record)));
    } catch (error) {
      throw await commitFailure(error);
    }
    const done = new Map<JournalState, number>();
    for (const batch of batches) {
      const state = this.#journals.get(batch.record.journal)!;
      done.set(state, (done.get(state) ?? 0) + 1);
      batch.committed();
    }
    // A journal's batches are queued in order, so those just committed are its oldest.
    for (const [state, count] of done) state.unstored.splice(0, count);
    if (this.#journals.size > this.#maxCachedJournals) this.#dropIdle();
  }

  /**
   * The stored batch `key` names, if it is among the journal's remembered keys. The index
   * holds key hashes: each batch it offers is checked against the key stored in its first event.
   */
  #storedBatch(journal: string, state: JournalState, key: string): StoredEvent[] | Promise<StoredEvent[]> | undefined {
    for (const micros of this.#keysOf(journal, state).find(key)) {
      const unstored = findBatch(state.unstored, micros);
      if (unstored) {
        // Not in LMDB yet: the resend gets the first send's answer, once it is durable.
        if (unstored.key === key) return unstored.result;
        continue;
      }
      const batch = this.#guard(() => this.#batchAt(journal, micros));
      if (batch?.key === key) return this.#range(journal, micros, batch.count);
    }
    return undefined;
  }

  /** The journal's remembered batch keys, recovered from its newest events the first time. */
  #keysOf(journal: string, state: JournalState): KeyIndex {
    state.keys ??= this.#guard(() => {
      const found: [key: string, micros: number][] = [];
      const reader = this.#reader;
      let scanned = 0;
      // Newest records first; a record's keyed events, newest first, once it is read whole.
      scan: for (const { key, value } of this.#events.getRange({ start: [journal, END], end: [journal, 0], reverse: true })) {
        const keyed: [key: string, micros: number][] = [];
        reader.reset(key[1], value);
        while (reader.next()) {
          scanned++;
          if (reader.keyed) keyed.push([reader.batchKey().key, reader.micros]);
        }
        for (let i = keyed.length - 1; i >= 0; i--) {
          found.push(keyed[i]!);
          if (found.length === IDEMPOTENCY_KEY_LIMIT) break scan;
        }
        if (scanned >= KEY_SCAN_LIMIT) break;
      }
      const keys = new KeyIndex(IDEMPOTENCY_KEY_LIMIT);
      for (let i = found.length - 1; i >= 0; i--) keys.remember(found[i]![0], found[i]![1]);
      return keys;
    });
    return state.keys;
  }

  /** Up to `limit` events from `fromMicros` on: the first record found holds the first of them, since records are keyed by their last event. */
  #range(journal: string, fromMicros: number, limit: number): StoredEvent[] {
    return this.#guard(() => {
      const page: StoredEvent[] = [];
      const reader = this.#reader;
      for (const { key, value } of this.#events.getRange({ start: [journal, fromMicros], end: [journal, END] })) {
        reader.reset(key[1], value);
        while (reader.next()) {
          if (reader.micros < fromMicros) continue;
          page.push(reader.event());
          if (page.length === limit) return page;
        }
      }
      return page;
    });
  }

  /**
   * Pushes onto `page`, newest first, events below `bound` micros until it holds `limit`: the
   * chunk keyed at or after `bound` may start below it, and every chunk keyed below it is below it.
   */
  #rangeBack(journal: string, bound: number, limit: number, page: StoredEvent[]): void {
    this.#guard(() => {
      const reader = this.#reader;
      const chunk: StoredEvent[] = [];
      const take = (): boolean => {
        for (let i = chunk.length - 1; i >= 0; i--) {
          page.push(chunk[i]!);
          if (page.length === limit) return true;
        }
        chunk.length = 0;
        return false;
      };
      for (const { key, value } of this.#events.getRange({ start: [journal, bound], end: [journal, END], limit: 1 })) {
        reader.reset(key[1], value);
        while (reader.next() && reader.micros < bound) chunk.push(reader.event());
      }
      if (take()) return;
      for (const { key, value } of this.#events.getRange({ start: [journal, bound - 1], end: [journal, 0], reverse: true })) {
        reader.reset(key[1], value);
        while (reader.next()) chunk.push(reader.event());
        if (take()) return;
      }
    });
  }

  /**
   * The micros of the first event in LMDB with `seq >= from`, if there is one: a binary search
   * over time for the first chunk whose last event reaches `from` (seq grows with time), each
   * step one cursor seek, then a walk through that chunk.
   */
  #seqMicros(journal: string, from: number): number | undefined {
    const reader = this.#reader;
    /** The chunk keyed at or after `micros`: its key, and its last event's seq. */
    const chunkAt = (micros: number): { key: number; lastSeq: number } | undefined => {
      for (const { key, value } of this.#events.getRange({ start: [journal, micros], end: [journal, END], limit: 1 })) {
        reader.reset(key[1], value);
        let seq = 0;
        while (reader.next()) seq = reader.seq();
        return { key: key[1], lastSeq: seq };
      }
      return undefined;
    };
    let low = 0;
    let high = END;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      const chunk = chunkAt(middle);
      if (chunk === undefined) high = middle;
      else if (chunk.lastSeq >= from) high = middle;
      else low = chunk.key + 1;
    }
    for (const { key, value } of this.#events.getRange({ start: [journal, low], end: [journal, END], limit: 1 })) {
      reader.reset(key[1], value);
      while (reader.next()) if (reader.seq() >= from) return reader.micros;
    }
    return undefined;
  }

  /** The batch key and length of the keyed batch whose first event is at `micros`, if there is one. */
  #batchAt(journal: string, micros: number): { key: string; count: number } | undefined {
    const reader = this.#reader;
    for (const { key, value } of this.#events.getRange({ start: [journal, micros], end: [journal, END], limit: 1 })) {
      reader.reset(key[1], value);
      while (reader.next()) {
        if (reader.micros < micros) continue;
        return reader.micros === micros && reader.keyed ? reader.batchKey() : undefined;
      }
    }
    return undefined;
  }

  /**
   * Writes the batches staged this turn to the log in one `write(2)`, then tells the watchers.
   * If the write fails, the batches are taken back, unseen (their appends reject when their
   * fsync does), and the store is broken.
   */
  readonly #publish = (): void => {
    const batches = this.#unpublished;
    if (batches.length === 0) return;
    this.#unpublished = [];
    try {
      this.#wal.write();
    } catch (error) {
      this.#broken ??= error as Error;
      // The checkpoint publishes before it takes the queue: the lost batches are in it still.
      const lost = new Set(batches.map(({ batch }) => batch));
      const queued = this.#queued.batches;
      queued.splice(0, queued.length, ...queued.filter((batch) => !lost.has(batch)));
      // The newest first, so each journal goes back to where its first lost batch began.
      for (const { state, seq, micros, batch } of batches.reverse()) {
        state.unstored.splice(state.unstored.indexOf(batch), 1);
        state.seq = seq;
        state.micros = micros;
      }
      return;
    }
    for (const { batch } of batches) this.#emit(batch.record.journal, batch.stored);
  };

  #emit(journal: string, events: readonly StoredEvent[]): void {
    try {
      this.#watchers.emit(journal, events);
    } catch (error) {
      // A throwing listener is a bug in it; it must not fail an append that is already stored.
      process.nextTick(() => {
        throw error;
      });
    }
  }

  #guard<T>(operation: () => T): T {
    try {
      return operation();
    } catch (error) {
      throw new JournalError(ErrorCode.STORE_UNAVAILABLE, 'the store failed', { cause: error });
    }
  }

  #checkOpen(): void {
    if (this.#closing) throw new JournalError(ErrorCode.STORE_UNAVAILABLE, 'the store is closed');
  }

  #checkWritable(): void {
    if (this.#broken) {
      throw new JournalError(ErrorCode.STORE_UNAVAILABLE, `an earlier write failed; ${REPLAY_ON_RESTART}`, { cause: this.#broken });
    }
  }
}

/** LMDB transactions start at least this far apart. */
const CHECKPOINT_INTERVAL_MS = 10;
/** Events per LMDB transaction at most, unless one batch holds more. */
const MAX_TRANSACTION_EVENTS = 10_000;

/** Where the transaction that starts at `batches[start]` ends. */
function partEnd(batches: readonly Batch[], start: number): number {
  let events = 0;
  let end = start;
  while (end < batches.length && (end === start || events + batches[end]!.record.values.length <= MAX_TRANSACTION_EVENTS)) {
    events += batches[end]!.record.values.length;
    end++;
  }
  return end;
}

/** Up to `limit` events of `unstored` (oldest first) with a seq of `from` or more. */
function unstoredFrom(unstored: readonly Batch[], from: number, limit: number): StoredEvent[] {
  const page: StoredEvent[] = [];
  for (const { stored } of unstored) {
    for (const event of stored) {
      if (event.seq < from) continue;
      page.push(event);
      if (page.length === limit) return page;
    }
  }
  return page;
}

/** The batch of `unstored` (in time order) whose first event is at `micros`. */
function findBatch(unstored: readonly Batch[], micros: number): Batch | undefined {
  let low = 0;
  let high = unstored.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const first = unstored[middle]!.record.micros[0]!;
    if (first === micros) return unstored[middle];
    if (first < micros) low = middle + 1;
    else high = middle - 1;
  }
  return undefined;
}

/**
 * The error to report for a failed lmdb-js batch. lmdb-js rejects the batch's `commitError`
 * with what made a commit fail: it is the cause to report, and left unhandled it would take the
 * process down.
 */
async function commitFailure(error: unknown): Promise<unknown> {
  const detail = (error as { commitError?: Promise<unknown> } | null)?.commitError;
  if (detail === undefined) return error;
  return new Error('LMDB failed to commit', { cause: await detail.then(() => error, (cause: unknown) => cause) });
}

/** Creates `dir`, or checks that it is empty; `BACKUP_REFUSED` otherwise. */
async function prepareBackupDir(dir: string): Promise<void> {
  if (typeof dir !== 'string' || dir === '') throw new JournalError(ErrorCode.BACKUP_REFUSED, 'a backup needs a directory');
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir);
  if (entries.length > 0) throw new JournalError(ErrorCode.BACKUP_REFUSED, `${dir} is not empty`);
}

function newCheckpoint(): Checkpoint {
  let settle!: (error?: Error) => void;
  const done = new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
  // Only appends past the backlog limit wait on it: a failure nobody waits for is not unhandled.
  done.catch(() => {});
  return { batches: [], events: 0, done, settle };
}

function checkJournal(journal: string): void {
  if (typeof journal !== 'string' || journal.length === 0 || Buffer.byteLength(journal) > MAX_JOURNAL_BYTES) {
    throw new JournalError(ErrorCode.INVALID_JOURNAL, `invalid journal name for the store: ${String(journal)}`);
  }
}

