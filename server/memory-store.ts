/** A store that keeps journals in memory: for tests and throwaway servers. */
import { JournalError, ErrorCode } from '../src/errors.js';
import { encodeEvent, nextMicros, nowMicros, toMicros } from './encode.js';
import { checkContinues, preservedPositions } from './preserve.js';
import { IDEMPOTENCY_KEY_LIMIT, TRIM_SLICE_EVENTS } from './store.js';
import { checkTrimOptions, trimBoundMicros } from './trim-bound.js';
import { setImmediate as turn } from 'node:timers/promises';
import type { SchemaRef } from '../src/protocol.js';
import { schemaKey } from './schema-key.js';
import type { AppendListener, AppendOptions, JournalHead, JournalInfo, JournalStart, JournalStore, NewEvent, StoredEvent, StoredSchema, TrimOptions, TrimResult } from './store.js';
import { Watchers } from './watchers.js';

interface MemoryJournal {
  events: StoredEvent[];
  /** The newest event a trim removed. */
  removed: JournalHead;
  keys: Map<string, StoredEvent[]>;
}

export interface MemoryStoreOptions {
  /**
   * The time source, in microseconds since the epoch. Timestamps stay strictly
   * increasing whatever it returns; tests use it to move the clock.
   * @default nowMicros (performance.timeOrigin + performance.now())
   */
  readonly clock?: () => number;
}

/** Keeps every journal in memory. Nothing survives the process. */
export class MemoryStore implements JournalStore {
  readonly #journals = new Map<string, MemoryJournal>();
  readonly #watchers = new Watchers();
  /** Registered schemas by `schemaKey`. */
  readonly #schemas = new Map<string, StoredSchema>();
  readonly #clock: () => number;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    const { clock = nowMicros } = options;
    if (typeof clock !== 'function') throw new TypeError('options.clock must be a function');
    this.#clock = clock;
  }

  async append(journal: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<StoredEvent[]> {
    this.#checkOpen();
    const state = this.#journal(journal);
    const seen = options.key === undefined ? undefined : state.keys.get(options.key);
    if (seen) return seen;
    const last = state.events.at(-1);
    let seq = last?.seq ?? 0;
    let micros = last ? toMicros(last.timestamp) : 0;
    let stored: StoredEvent[];
    if (options.preserve && events.length > 0) {
      const positions = preservedPositions(events);
      checkContinues(journal, positions, seq, micros);
      stored = events.map((event, i) => encodeEvent(positions.seqs[i]!, positions.micros[i]!, event));
    } else {
      stored = events.map((event) => {
        micros = nextMicros(micros, this.#clock());
        return encodeEvent(++seq, micros, event);
      });
    }
    for (const event of stored) state.events.push(event);
    if (options.key !== undefined) {
      state.keys.set(options.key, stored);
      // Maps iterate in insertion order: the first key is the oldest.
      if (state.keys.size > IDEMPOTENCY_KEY_LIMIT) state.keys.delete(state.keys.keys().next().value!);
    }
    this.#watchers.emit(journal, stored);
    return stored;
  }

  async read(journal: string, after: number, limit: number): Promise<StoredEvent[]> {
    this.#checkOpen();
    const events = this.#journals.get(journal)?.events ?? [];
    const from = firstIndex(events, (event) => event.timestamp > after);
    return events.slice(from, from + Math.max(0, Math.floor(limit)));
  }

  async readBefore(journal: string, before: number, limit: number): Promise<StoredEvent[]> {
    this.#checkOpen();
    const events = this.#journals.get(journal)?.events ?? [];
    const end = firstIndex(events, (event) => event.timestamp >= before);
    return events.slice(Math.max(0, end - Math.max(0, Math.floor(limit))), end).reverse();
  }

  async readFromSeq(journal: string, from: number, limit: number): Promise<StoredEvent[]> {
    this.#checkOpen();
    const events = this.#journals.get(journal)?.events ?? [];
    const start = firstIndex(events, (event) => event.seq >= from);
    return events.slice(start, start + Math.max(0, Math.floor(limit)));
  }

  async listJournals(after: string | undefined, limit: number): Promise<JournalInfo[]> {
    this.#checkOpen();
    const names = [...this.#journals.keys()].filter((name) => (after === undefined || name > after) && this.#journals.get(name)!.events.length > 0);
    names.sort();
    return names.slice(0, Math.max(0, Math.floor(limit))).map((name) => {
      const last = this.#journals.get(name)!.events.at(-1)!;
      return { name, head: { seq: last.seq, timestamp: last.timestamp } };
    });
  }

  async check(): Promise<void> {
    this.#checkOpen();
  }

  async head(journal: string): Promise<JournalHead> {
    this.#checkOpen();
    const last = this.#journals.get(journal)?.events.at(-1);
    return last ? { seq: last.seq, timestamp: last.timestamp } : { seq: 0, timestamp: 0 };
  }

  async putSchema(schema: StoredSchema): Promise<{ schema: StoredSchema; created: boolean }> {
    this.#checkOpen();
    const key = schemaKey(schema.id, schema.version);
    const stored = this.#schemas.get(key);
    if (stored) return { schema: stored, created: false };
    const copy = { id: schema.id, version: schema.version, json: schema.json };
    this.#schemas.set(key, copy);
    return { schema: copy, created: true };
  }

  async getSchema(id: string, version: number): Promise<StoredSchema | undefined> {
    this.#checkOpen();
    return this.#schemas.get(schemaKey(id, version));
  }

  async listSchemas(after: SchemaRef | undefined, limit: number): Promise<StoredSchema[]> {
    this.#checkOpen();
    const from = after === undefined ? '' : schemaKey(after.id, after.version);
    // Registries are small and listing is rare: a sort per call keeps registration O(1).
    const keys = [...this.#schemas.keys()].filter((key) => key > from).sort();
    return keys.slice(0, Math.max(0, Math.floor(limit))).map((key) => this.#schemas.get(key)!);
  }

  /** Removes the oldest events up to the bound, {@link TRIM_SLICE_EVENTS} per turn of the event loop; the newest is kept. */
  async trim(journal: string, options: TrimOptions): Promise<TrimResult> {
    this.#checkOpen();
    checkTrimOptions(options);
    const state = this.#journals.get(journal);
    const newest = state?.events.at(-1);
    if (state === undefined || newest === undefined) return { trimmed: 0 };
    const bound = await trimBoundMicros(options, toMicros(newest.timestamp), async (seq) => (await this.readFromSeq(journal, seq, 1))[0]);
    let trimmed = 0;
    for (;;) {
      if (this.#closed) break;
      const { events } = state;
      const end = Math.min(firstIndex(events, (event) => toMicros(event.timestamp) >= bound), TRIM_SLICE_EVENTS);
      if (end === 0) break;
      const last = events[end - 1]!;
      events.splice(0, end);
      state.removed = { seq: last.seq, timestamp: last.timestamp };
      trimmed += end;
      await turn();
    }
    return { trimmed };
  }

  async start(journal: string): Promise<JournalStart> {
    this.#checkOpen();
    const state = this.#journals.get(journal);
    const first = state?.events[0];
    return { first: first ? { seq: first.seq, timestamp: first.timestamp } : { seq: 0, timestamp: 0 }, removed: state?.removed ?? { seq: 0, timestamp: 0 } };
  }

  watch(journal: string, listener: AppendListener): () => void {
    return this.#watchers.add(journal, listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watchers.clear();
  }

  #journal(name: string): MemoryJournal {
    let state = this.#journals.get(name);
    if (!state) {
      state = { events: [], keys: new Map(), removed: { seq: 0, timestamp: 0 } };
      this.#journals.set(name, state);
    }
    return state;
  }

  #checkOpen(): void {
    if (this.#closed) throw new JournalError(ErrorCode.STORE_UNAVAILABLE, 'the store is closed');
  }
}

/** The index of the first event for which `test` holds, `test` being false up to some index and true from it on. */
function firstIndex(events: readonly StoredEvent[], test: (event: StoredEvent) => boolean): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (test(events[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
