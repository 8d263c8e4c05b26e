/**
 * A shared store on Redis Streams: several server processes behind one
 * address serve the same journals, and every one of them sees every append.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ErrorCode, JournalError } from '../src/errors.js';
import { JOURNAL_NAME } from '../src/protocol.js';
import { checkOptions } from '../src/validate.js';
import { contextJson, firstMicrosAfter, firstMicrosFrom, schemaMember } from './encode.js';
import { loadIoredis } from './load-ioredis.js';
import { outOfOrderMessage, preservedPositions } from './preserve.js';
import { IDEMPOTENCY_KEY_LIMIT, TRIM_SLICE_EVENTS } from './store.js';
import { checkTrimOptions, trimBoundMicros } from './trim-bound.js';
import type { SchemaRef } from '../src/protocol.js';
import { parseSchemaKey, schemaKey } from './schema-key.js';
import type { AppendListener, AppendOptions, JournalHead, JournalInfo, JournalStart, JournalStore, NewEvent, StoredEvent, StoredSchema, TrimOptions, TrimResult } from './store.js';
import { Watchers } from './watchers.js';

export interface RedisStoreOptions {
  /** The Redis server: `redis://[[user]:password@]host[:port][/db]`, or `rediss://` for TLS. */
  readonly url: string;
  /**
   * Put in front of every key the store writes, so that several stores (and other data) share
   * one Redis. It may not contain `{` or `}`: each journal's keys carry its name as a hash tag.
   * @default "wsjournal:"
   */
  readonly prefix?: string | undefined;
  /**
   * The store's connections show in `CLIENT LIST` as `<name>` (commands) and `<name>:watch`
   * (the blocking reader behind `watch()`). Printable ASCII, no spaces.
   * @default "wsjournal"
   */
  readonly connectionName?: string | undefined;
  /**
   * Seconds to connect, and the longest Redis may stay silent while a command waits for its
   * reply. Past it the connection is dropped, and its commands reject with `STORE_UNAVAILABLE`.
   * @default 5
   */
  readonly timeout?: number | undefined;
  /**
   * The time source, in microseconds since the epoch. Timestamps stay strictly increasing
   * whatever it returns; tests use it to move the clock.
   * @default Redis's `TIME`: one clock for every server that shares the store
   */
  readonly clock?: (() => number) | undefined;
}

const DEFAULTS = { prefix: 'wsjournal:', connectionName: 'wsjournal', timeout: 5 };
const KNOWN_OPTIONS = ['url', 'prefix', 'connectionName', 'timeout', 'clock'] as const;

/** Above this many UTF-8 bytes, a batch key is remembered by its SHA-256. */
const MAX_RAW_KEY_BYTES = 256;
/** Reconnection delays: doubling from the first to the last, then staying there. */
const RETRY_FIRST_MS = 50;
const RETRY_LAST_MS = 1000;
/** How long one `XREAD` blocks: the reader's safety net if a wake-up is lost. */
const BLOCK_MS = 2000;
/** Entries per stream per `XREAD`. */
const READ_COUNT = 1000;
/** The wake-up stream of a store that died without `close()` expires after a day. */
const WAKE_TTL_MS = 24 * 3600 * 1000;

/**
 * Appends one batch. A script runs alone in Redis, so seq and timestamps are assigned
 * atomically across every server; it checks everything before its first write, so a batch
 * is stored whole or not at all (the shebang makes Redis refuse it up front when out of memory).
 *
 * KEYS: the journal's stream, its batch-key hash, its batch-key order list.
 * ARGV: now in µs (or '' for Redis's TIME, or for a batch appended with `preserve`, 'P' and
 * each event's seq and µs, space-separated), the batch key field (or ''), the key limit, then
 * per event the text that goes before its timestamp, the text between timestamp and seq, and
 * the text after the seq (`}`, or the schema member and `}`).
 * Entry ID `<µs div 1000>-<µs mod 1000>`, one field `e` = `<seq>:<batch's last seq>:<json…>`.
 * Returns {1, first seq, first µs} for a stored batch, {0, entries} for a known key, and
 * {2, head seq, head µs} for a preserving batch that does not start above the head.
 */
const APPEND_LUA = `#!lua
local stream, batches, order = KEYS[1], KEYS[2], KEYS[3]
local field = ARGV[2]
if field ~= '' then
  local known = redis.call('HGET', batches, field)
  if known then
    local first, count = string.match(known, '^(%S+) (%d+)$')
    return {0, redis.call('XRANGE', stream, first, '+', 'COUNT', count)}
  end
end
local n = (#ARGV - 3) / 3
if n == 0 then return {1, 0, 0} end
local seq, last = 0, 0
local newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
if newest then
  local ms, sub = string.match(newest[1], '^(%d+)-(%d+)$')
  last = tonumber(ms) * 1000 + tonumber(sub)
  seq = tonumber(string.match(newest[2][2], '^(%d+):'))
end
local given, first
if string.sub(ARGV[1], 1, 1) == 'P' then
  -- The caller checked that the positions increase; only the head is left to check.
  given = {}
  for v in string.gmatch(ARGV[1], '%d+') do given[#given + 1] = tonumber(v) end
  if given[1] <= seq or given[2] <= last then return {2, seq, last} end
  first = given[2]
else
  local now
  if ARGV[1] == '' then
    local time = redis.call('TIME')
    now = tonumber(time[1]) * 1000000 + tonumber(time[2])
  else
    now = tonumber(ARGV[1])
  end
  first = last + 1
  if now > last then first = now end
end
local batchEnd = ':' .. string.format('%d', given and given[2 * n - 1] or seq + n)
for i = 1, n do
  local s, micros
  if given then
    s, micros = string.format('%d', given[2 * i - 1]), given[2 * i]
  else
    s, micros = string.format('%d', seq + i), first + i - 1
  end
  local secs = math.floor(micros / 1000000)
  local frac = micros - secs * 1000000
  -- What JavaScript prints for micros / 1e6: no exponent, no trailing zeros.
  local ts = string.format('%d', secs)
  if frac ~= 0 then ts = string.gsub(string.format('%d.%06d', secs, frac), '0+$', '') end
  local ms = math.floor(micros / 1000)
  redis.call('XADD', stream, string.format('%d-%d', ms, micros - ms * 1000), 'e',
    s .. batchEnd .. ARGV[1 + 3 * i] .. ts .. ARGV[2 + 3 * i] .. s .. ARGV[3 + 3 * i])
end
if field ~= '' then
  local ms = math.floor(first / 1000)
  redis.call('HSET', batches, field, string.format('%d-%d %d', ms, first - ms * 1000, n))
  if redis.call('RPUSH', order, field) > tonumber(ARGV[3]) then
    redis.call('HDEL', batches, redis.call('LPOP', order))
  end
end
return {1, seq + 1, first}
`;

/**
 * Registers a schema unless one is registered under its key: the body in a hash, the key in a
 * sorted set whose lexical order lists schemas by `$id`, then version. Both keys carry the hash
 * tag `{schemas}`, so that a cluster keeps them in one slot.
 *
 * KEYS: the hash, the sorted set. ARGV: the schema's key, its JSON.
 * Returns {1, json} when stored, {0, the stored json} when the key was registered already.
 */
const PUT_SCHEMA_LUA = `#!lua
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then return {0, stored} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return {1, ARGV[2]}
`;

/**
 * The entries from the first with seq >= ARGV[1] on, at most ARGV[2] of them. Stream IDs are
 * timestamps and seq grows with them: a binary search over time, each step one `XRANGE …
 * COUNT 1` (O(log n)), finds the first; it runs inside Redis, so a seek is one round trip.
 *
 * KEYS: the journal's stream. ARGV: the seq, the count.
 */
const SEEK_SEQ_LUA = `
local stream, target, count = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local function seqOf(entry) return tonumber(string.match(entry[2][2], '^(%d+):')) end
local function microsOf(id)
  local ms, sub = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms) * 1000 + tonumber(sub)
end
local function idOf(micros)
  local ms = math.floor(micros / 1000)
  return string.format('%d-%d', ms, micros - ms * 1000)
end
local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
if not first then return {} end
if seqOf(first) >= target then return redis.call('XRANGE', stream, '-', '+', 'COUNT', count) end
local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
if seqOf(last) < target then return {} end
local low, high = microsOf(first[1]) + 1, microsOf(last[1])
while low < high do
  local middle = math.floor((low + high) / 2)
  local entry = redis.call('XRANGE', stream, idOf(middle), '+', 'COUNT', 1)[1]
  if seqOf(entry) >= target then high = middle else low = microsOf(entry[1]) + 1 end
end
return redis.call('XRANGE', stream, idOf(low), '+', 'COUNT', count)
`;

/**
 * One step of a trim: removes the stream's oldest entries below a time, at most a count of
 * them, with `XTRIM … MINID` at the first entry kept (exact, not `~`: nothing below the bound
 * stays, nothing above it goes), and records the newest removed as `<seq> <µs>`. The newest
 * entry is never removed: it holds the journal's head, from which the append script counts.
 *
 * KEYS: the journal's stream, its removed-position key. ARGV: the bound in µs, the count.
 * Returns the number of entries removed.
 */
const TRIM_LUA = `#!lua
local stream, removedKey = KEYS[1], KEYS[2]
local bound, count = tonumber(ARGV[1]), tonumber(ARGV[2])
local function microsOf(id)
  local ms, sub = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms) * 1000 + tonumber(sub)
end
local entries = redis.call('XRANGE', stream, '-', '+', 'COUNT', count + 1)
local n = 0
for i = 1, math.min(#entries, count) do
  if microsOf(entries[i][1]) >= bound then break end
  n = i
end
if n == 0 then return 0 end
local kept = entries[n + 1]
if not kept then kept = redis.call('XRANGE', stream, '(' .. entries[n][1], '+', 'COUNT', 1)[1] end
if not kept then n = n - 1; if n == 0 then return 0 end; kept = entries[n + 1] end
redis.call('XTRIM', stream, 'MINID', kept[1])
local last = entries[n]
redis.call('SET', removedKey, string.match(last[2][2], '^(%d+):') .. ' ' .. string.format('%d', microsOf(last[1])))
return n
`;

/** Keys `SCAN` visits per call when listing journals. */
const SCAN_COUNT = 1000;

type StreamEntry = [id: string, fields: string[]];
type AppendReply = [1, number, number] | [0, StreamEntry[]] | [2, number, number];
interface StoreCommands {
  wsjournalAppend(...args: (string | number)[]): Promise<AppendReply>;
  wsjournalPutSchema(...args: string[]): Promise<[0 | 1, string]>;
  wsjournalSeekSeq(stream: string, seq: number, count: number): Promise<StreamEntry[]>;
  wsjournalTrim(stream: string, removedKey: string, bound: number, count: number): Promise<number>;
}

/** A watched journal: where its blocking reader stands. */
interface Tail {
  readonly journal: string;
  readonly key: string;
  /** The last entry delivered (or the head at watch time); undefined until it is known. */
  cursor: string | undefined;
  /** The cursor's timestamp in µs; -1 while the cursor is unknown. */
  position: number;
  locating: boolean;
  /** Entries of a batch that one `XREAD` split: delivered once the batch is whole. */
  partial: StoredEvent[];
  /** Appends of this store waiting for the watchers to have their batch, oldest first. */
  waiting: Waiter[];
}

interface Waiter {
  readonly micros: number;
  readonly done: () => void;
}

/**
 * Keeps each journal in a Redis stream, so that several servers share them. An append
 * resolves once Redis has executed it; how durable that is depends on Redis's persistence
 * (`appendonly yes` with `appendfsync always` keeps every acknowledged event across a
 * crash of Redis). While Redis is unreachable, calls reject with `STORE_UNAVAILABLE` and
 * watchers resume by themselves once it is back.
 *
 * @example
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379' });
 * const server = new JournalServer({ store });
 */
export class RedisStore implements JournalStore {
  readonly #url: string;
  readonly #prefix: string;
  readonly #connectionName: string;
  readonly #timeoutMs: number;
  readonly #clock: (() => number) | undefined;
  readonly #redis: Redis & StoreCommands;
  /** The blocking connection of `watch()`, opened with the first watcher. */
  #blocking: Redis | undefined;
  readonly #watchers = new Watchers();
  readonly #tails = new Map<string, Tail>();
  /** A stream of this store alone, written to wake the blocking `XREAD` when the watched set changes. */
  readonly #wakeKey: string;
  #wakeCursor = '0-0';
  #reading = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryResolve: (() => void) | undefined;
  /** Drops the blocking connection when an `XREAD` outlives its block by the timeout: Redis went silent. */
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: RedisStoreOptions) {
    checkOptions(options, KNOWN_OPTIONS);
    if (options === undefined) throw new TypeError('options must be an object');
    const defined = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
    const { url, prefix, connectionName, timeout, clock } = { ...DEFAULTS, ...defined } as RedisStoreOptions &
      typeof DEFAULTS;
    this.#url = checkRedisUrl(url);
    if (typeof prefix !== 'string') throw new TypeError('options.prefix must be a string');
    if (/[{}]/.test(prefix)) throw new RangeError('options.prefix must not contain { or }');
    if (typeof connectionName !== 'string') throw new TypeError('options.connectionName must be a string');
    if (!/^[!-~]{1,64}$/.test(connectionName)) {
      throw new RangeError('options.connectionName must be 1 to 64 printable ASCII characters without spaces');
    }
    if (typeof timeout !== 'number' || Number.isNaN(timeout)) throw new TypeError('options.timeout must be a number');
    if (!(timeout > 0) || !Number.isFinite(timeout)) throw new RangeError(`options.timeout must be a positive number of seconds, got ${timeout}`);
    if (clock !== undefined && typeof clock !== 'function') throw new TypeError('options.clock must be a function');
    this.#prefix = prefix;
    this.#connectionName = connectionName;
    this.#timeoutMs = Math.ceil(timeout * 1000);
    this.#clock = clock;
    this.#wakeKey = `${prefix}wake:${randomUUID()}`;
    this.#redis = this.#connect(false) as Redis & StoreCommands;
  }

  /**
   * Appends a batch atomically, assigning seq and timestamps inside Redis, and resolves
   * once Redis has stored it. Batches are stored in call order. If the connection fails
   * while the batch is on its way, the append rejects with `STORE_UNAVAILABLE` and the batch
   * is stored whole or not at all; resend it with the same `key` to be sure.
   */
  async append(journal: string, events: readonly NewEvent[], options: AppendOptions = {}): Promise<StoredEvent[]> {
    this.#checkOpen();
    checkJournal(journal);
    const { key } = options;
    if (events.length === 0 && key === undefined) return [];
    const preserved = options.preserve && events.length > 0 ? preservedPositions(events) : undefined;
    // Encode everything before sending anything, so a bad event cannot leave half a batch.
    const before: string[] = [];
    const between: string[] = [];
    const after: string[] = [];
    const args: string[] = [];
    try {
      for (const event of events) {
        const { name } = event;
        const head = `{"name":${JSON.stringify(name)},"timestamp":`;
        const tail = `,"context":${contextJson(event)},"seq":`;
        const end = `${schemaMember(event)}}`;
        before.push(head);
        between.push(tail);
        after.push(end);
        args.push(`:${name.length}:${name}${head}`, tail, end);
      }
    } catch (error) {
      throw new JournalError(ErrorCode.INVALID_EVENT, `an event cannot be encoded: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const now =
      preserved !== undefined
        ? `P ${preserved.seqs.map((seq, i) => `${seq} ${preserved.micros[i]}`).join(' ')}`
        : this.#clock === undefined
          ? ''
          : String(Math.round(this.#clock()));
    const tag = `{${journal}}`;
    const reply = await this.#call(`appending to ${journal}`, () =>
      this.#redis.wsjournalAppend(
        `${this.#prefix}j:${tag}`,
        `${this.#prefix}k:${tag}`,
        `${this.#prefix}o:${tag}`,
        now,
        key === undefined ? '' : batchField(key),
        IDEMPOTENCY_KEY_LIMIT,
        ...args,
      ),
    );
    if (reply[0] === 0) return reply[1].map(([id, fields]) => unpackEntry(id, fields).event);
    if (reply[0] === 2) {
      throw new JournalError(ErrorCode.OUT_OF_ORDER, outOfOrderMessage(journal, preserved!.seqs[0]!, preserved!.micros[0]!, reply[1], reply[2]));
    }
    const [, firstSeq, firstMicros] = reply;
    const stored = events.map(({ name }, i) => {
      const seq = preserved === undefined ? firstSeq + i : preserved.seqs[i]!;
      const timestamp = (preserved === undefined ? firstMicros + i : preserved.micros[i]!) / 1e6;
      return { seq, timestamp, name, json: `${before[i]}${timestamp}${between[i]}${seq}${after[i]}` };
    });
    const lastMicros = preserved === undefined ? firstMicros + events.length - 1 : preserved.micros.at(-1)!;
    await this.#delivered(journal, lastMicros);
    return stored;
  }

  /** Registers a schema for every server on this Redis, atomically; resolves once Redis has executed it. */
  async putSchema(schema: StoredSchema): Promise<{ schema: StoredSchema; created: boolean }> {
    this.#checkOpen();
    const [created, json] = await this.#call(`registering schema ${schema.id}`, () =>
      this.#redis.wsjournalPutSchema(this.#schemaHash(), this.#schemaOrder(), schemaKey(schema.id, schema.version), schema.json),
    );
    return { schema: { id: schema.id, version: schema.version, json }, created: created === 1 };
  }

  async getSchema(id: string, version: number): Promise<StoredSchema | undefined> {
    this.#checkOpen();
    const json = await this.#call(`reading schema ${id}`, () => this.#redis.hget(this.#schemaHash(), schemaKey(id, version)));
    return json === null ? undefined : { id, version, json };
  }

  /** One `ZRANGEBYLEX` for the page's keys, one `HMGET` for their bodies. */
  async listSchemas(after: SchemaRef | undefined, limit: number): Promise<StoredSchema[]> {
    this.#checkOpen();
    const count = Math.floor(limit);
    if (!(count > 0)) return [];
    const from = after === undefined ? '-' : `(${schemaKey(after.id, after.version)}`;
    const keys = await this.#call('listing schemas', () => this.#redis.zrangebylex(this.#schemaOrder(), from, '+', 'LIMIT', 0, count));
    if (keys.length === 0) return [];
    const bodies = await this.#call('listing schemas', () => this.#redis.hmget(this.#schemaHash(), ...keys));
    const page: StoredSchema[] = [];
    keys.forEach((key, i) => {
      const json = bodies[i];
      if (json !== null && json !== undefined) page.push({ ...parseSchemaKey(key), json });
    });
    return page;
  }

  #schemaHash(): string {
    return `${this.#prefix}schemas:{schemas}`;
  }

  #schemaOrder(): string {
    return `${this.#prefix}schema-order:{schemas}`;
  }

  /** Up to `limit` events with `timestamp > after`, oldest first: one `XRANGE` from the first microsecond after it. */
  async read(journal: string, after: number, limit: number): Promise<StoredEvent[]> {
    this.#checkOpen();
    checkJournal(journal);
    const count = Math.floor(limit);
    if (!(count > 0) || Number.isNaN(after) || after === Infinity) return [];
    const entries = await this.#call(`reading ${journal}`, () =>
      this.#redis.xrange(this.#streamKey(journal), streamId(firstMicrosAfter(after)), '+', 'COUNT', count),
    );
    return entries.map(([id, fields]) => unpackEntry(id, fields).event);
  }

  /** Up to `limit` events with `timestamp < before`, newest first: one `XREVRANGE … COUNT`. */
  async readBefore(journal: string, before: number, limit: number): Promise<StoredEvent[]> {
    this.#checkOpen();
    checkJournal(journal);
    const count = Math.floor(limit);
    const bound = firstMicrosFrom(before);
    if (!(count > 0) || Number.isNaN(before) || bound <= 0) return [];
    const end = bound === Infinity ? '+' : streamId(bound - 1);
    const entries = await this.#call(`reading ${journal}`, () => this.#redis.xrevrange(this.#streamKey(journal), end, '-', 'COUNT', count));
    return entries.map(([id, fields]) => unpackEntry(id, fields).event);
  }

  /** Up to `limit` events with `seq >= from`, oldest first: one script that seeks by seq inside Redis. */
  async readFromSeq(journal: string, from: number, limit: number): Promise<StoredEvent[]> {
    this.#checkOpen();
    checkJournal(journal);
    const count = Math.floor(limit);
    if (!(count > 0) || Number.isNaN(from)) return [];
    const entries = await this.#call(`reading ${journal}`, () =>
      this.#redis.wsjournalSeekSeq(this.#streamKey(journal), Math.max(1, Math.ceil(from)), count),
    );
    return entries.map(([id, fields]) => unpackEntry(id, fields).event);
  }

  /**
   * Up to `limit` journals after `after`, in name order, with their heads. Redis keeps no
   * ordered list of streams: `SCAN` walks the store's keys (a thousand a call, so Redis is
   * never held), keeping the `limit` first names; then one pipelined `XREVRANGE` per journal.
   */
  async listJournals(after: string | undefined, limit: number): Promise<JournalInfo[]> {
    this.#checkOpen();
    const count = Math.floor(limit);
    if (!(count > 0)) return [];
    const streamPrefix = `${this.#prefix}j:{`;
    const match = `${globEscape(streamPrefix)}*}`;
    let names: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.#call('listing journals', () => this.#redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT));
      cursor = next;
      for (const key of keys) {
        const name = key.slice(streamPrefix.length, -1);
        if (JOURNAL_NAME.test(name) && (after === undefined || name > after)) names.push(name);
      }
      // Keeps at most `count` names between calls: memory stays bounded however many journals there are.
      if (names.length > count) names = [...new Set(names)].sort().slice(0, count);
    } while (cursor !== '0');
    names = [...new Set(names)].sort().slice(0, count);
    if (names.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const name of names) pipeline.xrevrange(this.#streamKey(name), '+', '-', 'COUNT', 1);
    const replies = await this.#call('listing journals', () => pipeline.exec());
    const journals: JournalInfo[] = [];
    names.forEach((name, i) => {
      const [error, entries] = replies?.[i] ?? [new Error('no reply')];
      if (error) throw new JournalError(ErrorCode.STORE_UNAVAILABLE, `listing journals failed: ${error.message}`, { cause: error });
      const newest = (entries as StreamEntry[])[0];
      if (newest === undefined) return;
      const { event } = unpackEntry(newest[0], newest[1]);
      journals.push({ name, head: { seq: event.seq, timestamp: event.timestamp } });
    });
    return journals;
  }

  /**
   * Removes the journal's oldest events with `XTRIM … MINID`, one script per TRIM_SLICE_EVENTS
   * of them: each step is atomic in Redis, and appends of every server go on between steps.
   * The newest event is kept.
   */
  async trim(journal: string, options: TrimOptions): Promise<TrimResult> {
    this.#checkOpen();
    checkJournal(journal);
    checkTrimOptions(options);
    const head = await this.head(journal);
    if (head.seq === 0) return { trimmed: 0 };
    const bound = await trimBoundMicros(options, Math.round(head.timestamp * 1e6), async (seq) => (await this.readFromSeq(journal, seq, 1))[0]);
    let trimmed = 0;
    while (!this.#closing) {
      const removed = await this.#call(`trimming ${journal}`, () =>
        this.#redis.wsjournalTrim(this.#streamKey(journal), this.#removedKey(journal), bound, TRIM_SLICE_EVENTS),
      );
      trimmed += removed;
      if (removed < TRIM_SLICE_EVENTS) break;
    }
    return { trimmed };
  }

  /** The stream's first entry and the newest removed position, in one pipeline. */
  async start(journal: string): Promise<JournalStart> {
    this.#checkOpen();
    checkJournal(journal);
    const pipeline = this.#redis.pipeline();
    pipeline.xrange(this.#streamKey(journal), '-', '+', 'COUNT', 1);
    pipeline.get(this.#removedKey(journal));
    const replies = await this.#call(`reading the start of ${journal}`, () => pipeline.exec());
    for (const [error] of replies ?? []) {
      if (error) throw new JournalError(ErrorCode.STORE_UNAVAILABLE, `reading the start of ${journal} failed: ${error.message}`, { cause: error });
    }
    const oldest = (replies?.[0]?.[1] as StreamEntry[] | undefined)?.[0];
    const removed = replies?.[1]?.[1] as string | null | undefined;
    const first = oldest === undefined ? { seq: 0, timestamp: 0 } : (({ seq, timestamp }) => ({ seq, timestamp }))(unpackEntry(oldest[0], oldest[1]).event);
    const [seq, micros] = (removed ?? '0 0').split(' ').map(Number);
    return { first, removed: { seq: seq!, timestamp: micros! / 1e6 } };
  }

  /** Resolves once Redis answers a `PING`; rejects with STORE_UNAVAILABLE when it does not, or the store is closed. */
  async check(): Promise<void> {
    this.#checkOpen();
    await this.#call('checking Redis', () => this.#redis.ping());
  }

  /** The newest event's position: the stream's last entry. */
  async head(journal: string): Promise<JournalHead> {
    this.#checkOpen();
    checkJournal(journal);
    const [newest] = await this.#call(`reading the head of ${journal}`, () =>
      this.#redis.xrevrange(this.#streamKey(journal), '+', '-', 'COUNT', 1),
    );
    if (!newest) return { seq: 0, timestamp: 0 };
    const { event } = unpackEntry(newest[0], newest[1]);
    return { seq: event.seq, timestamp: event.timestamp };
  }

  /**
   * Calls `listener` with every batch appended to `journal` by any server, in order, once
   * Redis holds it; an append of this store resolves after its watchers have had the batch.
   * The watcher starts at the journal's head as Redis sees it when a command sent by this
   * call is served, which is before any `head()` called later on this store: every batch
   * after what that `head()` returns is delivered. If Redis is unreachable at this call, the
   * watcher starts from the head once it is reachable again. After `close()`, it does nothing.
   */
  watch(journal: string, listener: AppendListener): () => void {
    if (this.#closing) return () => {};
    checkJournal(journal);
    const remove = this.#watchers.add(journal, listener);
    if (!this.#tails.has(journal)) {
      const tail: Tail = {
        journal,
        key: this.#streamKey(journal),
        cursor: undefined,
        position: -1,
        locating: false,
        partial: [],
        waiting: [],
      };
      this.#tails.set(journal, tail);
      this.#locate(tail);
      this.#startReader();
    }
    return () => {
      remove();
      const tail = this.#tails.get(journal);
      if (this.#watchers.has(journal) || !tail) return;
      this.#tails.delete(journal);
      release(tail);
      if (this.#tails.size === 0) this.#wake();
    };
  }

  /** Lets commands already sent finish, then closes both connections. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#watchers.clear();
      for (const tail of this.#tails.values()) release(tail);
      this.#tails.clear();
      this.#clearRetry();
      this.#clearWatchdog();
      const blocking = this.#blocking;
      if (blocking) {
        blocking.disconnect();
        // The wake-up stream is this store's alone.
        this.#redis.del(this.#wakeKey).catch(() => {});
      }
      // QUIT goes after every command already sent, and Redis answers those first.
      await this.#redis.quit().catch(() => this.#redis.disconnect());
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #connect(blocking: boolean): Redis {
    const { Redis } = loadIoredis();
    const redis = new Redis(this.#url, {
      connectionName: blocking ? `${this.#connectionName}:watch` : this.#connectionName,
      // RESP2 replies have one shape (XREAD's is a map in RESP3) and save a HELLO round trip.
      protocol: 2,
      disableClientInfo: true,
      connectTimeout: this.#timeoutMs,
      // A silent Redis drops the connection instead of hanging commands. Not on the blocking
      // connection, where silence is an XREAD waiting.
      ...(blocking ? {} : { socketTimeout: this.#timeoutMs }),
      // Commands sent while connecting wait for that one attempt. A connection loss rejects
      // every command queued or in flight (maxRetriesPerRequest 0) and none is sent again
      // after the reconnect: an append is never stored twice, nor after its caller heard it
      // failed, unless Redis ran it before the connection broke (then it is stored whole).
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (times: number) => Math.min(RETRY_FIRST_MS * 2 ** (times - 1), RETRY_LAST_MS),
      ...(blocking
        ? {}
        : {
            scripts: {
              wsjournalAppend: { lua: APPEND_LUA, numberOfKeys: 3 },
              wsjournalPutSchema: { lua: PUT_SCHEMA_LUA, numberOfKeys: 2 },
              wsjournalSeekSeq: { lua: SEEK_SEQ_LUA, numberOfKeys: 1, readOnly: true },
              wsjournalTrim: { lua: TRIM_LUA, numberOfKeys: 2 },
            },
          }),
    });
    // Connection errors reach the calls that fail on them; an unhandled 'error' would only log.
    redis.on('error', () => {});
    if (blocking) redis.on('ready', () => this.#clearRetry());
    return redis;
  }

  /** Runs one Redis command, turning its failure into STORE_UNAVAILABLE. */
  async #call<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new JournalError(ErrorCode.STORE_UNAVAILABLE, `${what} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /**
   * Waits until this store's watchers of `journal` have had the batch ending at `micros`, as
   * the embedded stores do. If the reader cannot deliver (Redis away), it waits no longer
   * than the store's timeout: the batch is stored, and the watchers get it when Redis is back.
   */
  async #delivered(journal: string, micros: number): Promise<void> {
    const tail = this.#tails.get(journal);
    if (!tail || tail.position >= micros) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      tail.waiting.push({ micros, done: resolve });
      timer = setTimeout(resolve, this.#timeoutMs);
    });
    clearTimeout(timer);
  }

  #streamKey(journal: string): string {
    return `${this.#prefix}j:{${journal}}`;
  }

  /** The newest removed position of a journal, `<seq> <µs>`: in the stream's hash slot. */
  #removedKey(journal: string): string {
    return `${this.#prefix}r:{${journal}}`;
  }

  /**
   * Finds where a new watcher starts: the stream's last entry, asked on the command
   * connection at once, so Redis answers it before any `head()` called after `watch()`.
   */
  #locate(tail: Tail): void {
    tail.locating = true;
    this.#redis.xrevrange(tail.key, '+', '-', 'COUNT', 1).then(
      ([newest]) => {
        tail.locating = false;
        if (this.#tails.get(tail.journal) !== tail) return;
        tail.cursor = newest?.[0] ?? '0-0';
        tail.position = idMicros(tail.cursor);
        settle(tail);
        this.#wake();
      },
      () => {
        // Redis is unreachable: the reader asks again on its next round.
        tail.locating = false;
      },
    );
  }

  #startReader(): void {
    if (this.#reading || this.#closing) return;
    this.#reading = true;
    void this.#read().finally(() => {
      this.#reading = false;
      if (this.#tails.size > 0) this.#startReader();
    });
  }

  /** The blocking reader: one `XREAD` over every watched journal, while anyone watches. */
  async #read(): Promise<void> {
    const redis = (this.#blocking ??= this.#connect(true));
    let backoff = 0;
    while (!this.#closing && this.#tails.size > 0) {
      const tails: Tail[] = [];
      for (const tail of this.#tails.values()) {
        if (tail.cursor !== undefined) tails.push(tail);
        else if (!tail.locating) this.#locate(tail);
      }
      this.#watchdog = setTimeout(() => redis.disconnect(true), BLOCK_MS + this.#timeoutMs);
      try {
        const reply = await redis.xread(
          'COUNT',
          READ_COUNT,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          this.#wakeKey,
          ...tails.map((tail) => tail.key),
          this.#wakeCursor,
          ...tails.map((tail) => tail.cursor!),
        );
        this.#clearWatchdog();
        backoff = 0;
        if (reply) this.#deliver(reply as [string, StreamEntry[]][], tails);
      } catch {
        this.#clearWatchdog();
        if (this.#closing) return;
        // Appends need not wait for watchers that cannot be reached now.
        for (const tail of this.#tails.values()) release(tail);
        // Redis is away: try again after a pause, or as soon as the connection is back.
        backoff = Math.min(backoff * 2 || RETRY_FIRST_MS, RETRY_LAST_MS);
        await this.#pause(backoff);
      }
    }
  }

  /** Hands each whole batch of an `XREAD` reply to the journal's watchers and moves its cursor. */
  #deliver(reply: [string, StreamEntry[]][], tails: readonly Tail[]): void {
    const byKey = new Map(tails.map((tail) => [tail.key, tail]));
    for (const [key, entries] of reply) {
      if (key === this.#wakeKey) {
        this.#wakeCursor = entries.at(-1)?.[0] ?? this.#wakeCursor;
        continue;
      }
      const tail = byKey.get(key);
      for (const [id, fields] of entries) {
        // A watcher may have left (or the store closed) during an earlier batch of this reply.
        if (!tail || this.#tails.get(tail.journal) !== tail) break;
        const { event, batchEnd } = unpackEntry(id, fields);
        tail.partial.push(event);
        tail.cursor = id;
        if (event.seq !== batchEnd) continue;
        const batch = tail.partial;
        tail.partial = [];
        tail.position = idMicros(id);
        this.#watchers.emit(tail.journal, batch);
        settle(tail);
      }
    }
  }

  /** Wakes the blocking reader so that it reads the current set of journals (or stops). */
  #wake(): void {
    if (!this.#reading || this.#closing) return;
    this.#redis.xadd(this.#wakeKey, 'MAXLEN', '1', '*', 'w', '1').catch(() => {});
    this.#redis.pexpire(this.#wakeKey, WAKE_TTL_MS).catch(() => {});
  }

  #clearWatchdog(): void {
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#retryResolve = resolve;
      this.#retryTimer = setTimeout(() => this.#clearRetry(), ms);
    });
  }

  #clearRetry(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const resolve = this.#retryResolve;
    this.#retryResolve = undefined;
    resolve?.();
  }

  #checkOpen(): void {
    if (this.#closing) throw new JournalError(ErrorCode.STORE_UNAVAILABLE, 'the store is closed');
  }
}

/** Resolves the appends whose batch the tail's watchers have had. */
function settle(tail: Tail): void {
  let i = 0;
  while (i < tail.waiting.length && tail.waiting[i]!.micros <= tail.position) tail.waiting[i++]!.done();
  if (i > 0) tail.waiting.splice(0, i);
}

/** Resolves every waiting append: the tail is gone or cannot deliver now. */
function release(tail: Tail): void {
  const waiting = tail.waiting;
  tail.waiting = [];
  for (const waiter of waiting) waiter.done();
}

function checkRedisUrl(url: unknown): string {
  if (typeof url !== 'string') throw new TypeError('options.url must be a redis:// URL string');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`options.url is not a valid URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TypeError(`options.url must use redis: or rediss:, got ${JSON.stringify(parsed.protocol)}`);
  }
  if (parsed.hostname === '') throw new TypeError('options.url must name a host');
  if (!/^(\/\d*)?$/.test(parsed.pathname)) {
    throw new RangeError(`options.url's path must be a database number, got ${JSON.stringify(parsed.pathname)}`);
  }
  return url;
}

function checkJournal(journal: string): void {
  if (typeof journal !== 'string' || !JOURNAL_NAME.test(journal)) {
    throw new JournalError(ErrorCode.INVALID_JOURNAL, `invalid journal name: ${String(journal)}`);
  }
}

/** The hash field of a batch key: long keys by digest; the first character keeps the two forms apart. */
function batchField(key: string): string {
  if (Buffer.byteLength(key) <= MAX_RAW_KEY_BYTES) return `=${key}`;
  return `#${createHash('sha256').update(key).digest('base64')}`;
}

/** `text` with the characters that `SCAN … MATCH` reads as a pattern escaped. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}

/** The stream ID of a timestamp in µs: IDs order as timestamps do, so XRANGE seeks by time. */
function streamId(micros: number): string {
  const ms = Math.floor(micros / 1000);
  return `${ms}-${micros - ms * 1000}`;
}


/**
 * An entry is `<seq>:<batch's last seq>:<name length>:<name><json>` under ID `<ms>-<µs mod 1000>`:
 * a read takes seq, name and timestamp without parsing JSON, as LmdbStore does.
 */
function idMicros(id: string): number {
  const dash = id.indexOf('-');
  return Number(id.slice(0, dash)) * 1000 + Number(id.slice(dash + 1));
}

function unpackEntry(id: string, fields: readonly string[]): { event: StoredEvent; batchEnd: number } {
  const value = fields[1] ?? '';
  const micros = idMicros(id);
  const first = value.indexOf(':');
  const second = value.indexOf(':', first + 1);
  const third = value.indexOf(':', second + 1);
  const nameEnd = third + 1 + Number(value.slice(second + 1, third));
  return {
    event: {
      seq: Number(value.slice(0, first)),
      timestamp: micros / 1e6,
      name: value.slice(third + 1, nameEnd),
      json: value.slice(nameEnd),
    },
    batchEnd: Number(value.slice(first + 1, second)),
  };
}
