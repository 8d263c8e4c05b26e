/**
 * The `JournalStore` contract as a test suite: every store runs the same tests.
 *
 * @example
 * storeConformance('MemoryStore', { persistent: false, clock: false, create: async () => {
 *   const store = new MemoryStore();
 *   return { store, cleanup: () => store.close() };
 * } });
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDEMPOTENCY_KEY_LIMIT } from '../server/store.js';
import type { JournalStore, NewEvent, StoredEvent } from '../server/store.js';
import { registerSchemaConformance } from './store-schema-conformance.js';
import { registerTrimConformance } from './store-trim-conformance.js';

/** Options a factory passes on to the store it opens. */
export interface StoreOpenOptions {
  /** The store's time source in microseconds; only used when the factory declares `clock`. */
  readonly clock?: () => number;
}

export interface StoreFixture {
  /** A fresh, empty store. */
  readonly store: JournalStore;
  /** Closes the newest store of this fixture and opens the same data again (persistent factories only). */
  readonly reopen?: (options?: StoreOpenOptions) => Promise<JournalStore>;
  /** Closes whatever this fixture opened and deletes its data. */
  cleanup(): Promise<void>;
}

export interface StoreFactory {
  /** Whether fixtures have `reopen`: the persistence tests are registered only then. */
  readonly persistent: boolean;
  /** Whether `create` and `reopen` honour `options.clock`: the clock tests are registered only then. */
  readonly clock: boolean;
  create(options?: StoreOpenOptions): Promise<StoreFixture>;
}

const WAIT_MS = 5000;
/** Every test fails rather than hangs. */
const LIMIT = { timeout: 60_000 };

function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function events(count: number, name = 'e', from = 0): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ({ name, context: { i: from + i } }));
}

/** Every event of a journal, read in pages of `pageSize`. */
async function readAll(store: JournalStore, journal: string, pageSize = 1000, after = 0): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (;;) {
    const page = await store.read(journal, after, pageSize);
    assert.ok(page.length <= pageSize, `a page of ${page.length} events exceeds the limit ${pageSize}`);
    if (page.length === 0) return all;
    // Also keeps a store that ignores `after` from looping here forever.
    assert.ok(page[0]!.timestamp > after, `read(${after}) returned an event at ${page[0]!.timestamp}`);
    all.push(...page);
    after = page.at(-1)!.timestamp;
  }
}

function seqs(list: readonly StoredEvent[]): number[] {
  return list.map((event) => event.seq);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function assertIncreasing(list: readonly StoredEvent[]): void {
  for (let i = 1; i < list.length; i++) {
    assert.ok(list[i]!.timestamp > list[i - 1]!.timestamp, `timestamp ${i} does not increase`);
  }
}

async function assertUnavailable(promise: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: unknown }).code, 'STORE_UNAVAILABLE', `${what} after close`);
    return true;
  });
}

/** Registers the conformance tests for one store under `describe(name)`. */
export function storeConformance(name: string, factory: StoreFactory): void {
  /** Runs `body` on a fresh fixture and always cleans up. */
  const withStore = (body: (store: JournalStore, fixture: StoreFixture) => Promise<void>, options?: StoreOpenOptions) =>
    async () => {
      const fixture = await factory.create(options);
      try {
        await body(fixture.store, fixture);
      } finally {
        await fixture.cleanup();
      }
    };

  describe(`${name} conforms to JournalStore`, () => {
    it('reports an unknown journal as empty', LIMIT, withStore(async (store) => {
      assert.deepEqual(await store.head('nothing'), { seq: 0, timestamp: 0 });
      assert.deepEqual(await store.read('nothing', 0, 10), []);
    }));

    it('numbers events from 1 without holes and reads back what append returned', LIMIT, withStore(async (store) => {
      const returned: StoredEvent[] = [];
      for (const size of [1, 3, 1, 5, 2]) returned.push(...(await store.append('j', events(size))));
      assert.deepEqual(seqs(returned), range(1, 12));
      assert.deepEqual(await readAll(store, 'j'), returned);
      const last = returned.at(-1)!;
      assert.deepEqual(await store.head('j'), { seq: last.seq, timestamp: last.timestamp });
    }));

    it('gives strictly increasing, unique timestamps of whole microseconds', LIMIT, withStore(async (store) => {
      const batches = await Promise.all(Array.from({ length: 50 }, () => store.append('j', events(20))));
      const all = await readAll(store, 'j');
      assert.equal(all.length, 1000);
      assertIncreasing(all);
      assert.equal(new Set(all.map((event) => event.timestamp)).size, 1000);
      for (const event of all) {
        const micros = Math.round(event.timestamp * 1e6);
        assert.equal(micros / 1e6, event.timestamp, `${event.timestamp} is not a whole microsecond`);
      }
      assert.deepEqual(batches.flat(), all);
      const now = Date.now() / 1000;
      assert.ok(Math.abs(all[0]!.timestamp - now) < 3600, 'timestamps are seconds since the epoch');
    }));

    it('encodes each event as {name,timestamp,context,seq} matching its fields', LIMIT, withStore(async (store) => {
      const [event] = await store.append('j', [{ name: 'job.state', context: { id: 7, state: 'RUN' } }]);
      for (const stored of [event!, ...(await store.read('j', 0, 1))]) {
        const entry = JSON.parse(stored.json) as Record<string, unknown>;
        assert.deepEqual(Object.keys(entry), ['name', 'timestamp', 'context', 'seq']);
        assert.deepEqual(entry, { name: 'job.state', timestamp: stored.timestamp, context: { id: 7, state: 'RUN' }, seq: stored.seq });
        assert.equal(stored.name, 'job.state');
      }
    }));

    it('round-trips unicode names and nested contexts', LIMIT, withStore(async (store) => {
      const odd = [
        { name: 'ünïcødé ✓ 日本語 🚀', context: { 'clé 🔑': 'välue', emoji: '👩‍👩‍👧', rtl: 'שלום' } },
        { name: 'quote"back\\slash\nnew:line:', context: { deep: { a: [1, { b: [null, true, 2.5, -0.1] }], s: '\u0000\u2028' } } },
        { name: 'empty', context: {} },
        { name: ':3:abc', context: { 'k:': ':v', n: Number.MAX_SAFE_INTEGER } },
      ];
      const returned = await store.append('u', odd);
      const read = await store.read('u', 0, 10);
      assert.deepEqual(read, returned);
      read.forEach((event, i) => {
        const entry = JSON.parse(event.json) as { name: string; context: unknown };
        assert.equal(event.name, odd[i]!.name);
        assert.equal(entry.name, odd[i]!.name);
        assert.deepEqual(entry.context, odd[i]!.context);
      });
    }));

    it('stores each batch contiguously, all or nothing', LIMIT, withStore(async (store) => {
      const pending = Array.from({ length: 40 }, (_, i) => store.append('j', events((i % 7) + 1, `b${i}`)));
      const batches = await Promise.all(pending);
      for (const batch of batches) {
        assert.deepEqual(seqs(batch), range(batch[0]!.seq, batch[0]!.seq + batch.length - 1));
        assert.ok(batch.every((event) => event.name === batch[0]!.name));
      }
      const before = await store.head('j');
      const bad = [{ name: 'ok', context: {} }, { name: 'bad', context: { n: 1n } as Record<string, unknown> }];
      await assert.rejects(store.append('j', bad));
      assert.deepEqual(await store.head('j'), before);
      const [next] = await store.append('j', events(1, 'after'));
      assert.equal(next!.seq, before.seq + 1);
      const all = await readAll(store, 'j');
      assert.deepEqual(seqs(all), range(1, before.seq + 1));
      assert.ok(!all.some((event) => event.name === 'ok' || event.name === 'bad'));
    }));

    it('stores batches in call order, however many are in flight', LIMIT, withStore(async (store) => {
      const pending: Promise<StoredEvent[]>[] = [];
      for (let i = 0; i < 600; i++) {
        pending.push(store.append('j', events((i % 3) + 1, `call${i}`)));
        // Let some calls land in later event-loop turns than others.
        if (i % 97 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const batches = await within(Promise.all(pending), '600 appends');
      const order = batches.flat();
      assert.deepEqual(seqs(order), range(1, order.length));
      assert.deepEqual(
        order.map((event) => event.name),
        batches.flatMap((batch, i) => batch.map(() => `call${i}`)),
      );
      assert.deepEqual(await readAll(store, 'j', 250), order);
    }));

    it('stores nothing for an empty batch', LIMIT, withStore(async (store) => {
      await store.append('j', events(2));
      assert.deepEqual(await store.append('j', []), []);
      assert.equal((await store.head('j')).seq, 2);
    }));

    it('reads every event through pages of any size', LIMIT, withStore(async (store) => {
      const appended: StoredEvent[] = [];
      for (let i = 0; i < 25; i++) appended.push(...(await store.append('j', events(10, 'p', i * 10))));
      for (const size of [1, 3, 7, 10, 64, 250, 251, 1000]) {
        assert.deepEqual(await readAll(store, 'j', size), appended, `pages of ${size}`);
      }
    }));

    it('reads strictly after a timestamp', LIMIT, withStore(async (store) => {
      const all = await store.append('j', events(10));
      const k = all[4]!;
      assert.deepEqual(await store.read('j', k.timestamp, 100), all.slice(5), 'after exactly an event');
      assert.deepEqual(await store.read('j', k.timestamp + 0.5e-6, 100), all.slice(5), 'after a half microsecond');
      assert.deepEqual(await store.read('j', k.timestamp - 0.5e-6, 100), all.slice(4), 'just before an event');
      assert.deepEqual(await store.read('j', all[0]!.timestamp - 1, 100), all, 'before all');
      assert.deepEqual(await store.read('j', 0, 100), all, 'after 0');
      assert.deepEqual(await store.read('j', all.at(-1)!.timestamp, 100), [], 'after the last');
      assert.deepEqual(await store.read('j', all.at(-1)!.timestamp + 3600, 100), [], 'after all');
      assert.deepEqual(await store.read('j', k.timestamp, 2), all.slice(5, 7), 'limit');
    }));

    it('reads backwards from before a timestamp, newest first', LIMIT, withStore(async (store) => {
      const all: StoredEvent[] = [];
      for (let i = 0; i < 30; i++) all.push(...(await store.append('j', events(10, 'b', i * 10))));
      const newest = [...all].reverse();
      assert.deepEqual(await store.readBefore('j', Infinity, 1000), newest, 'from the head');
      const k = all[150]!;
      assert.deepEqual(await store.readBefore('j', k.timestamp, 5), newest.slice(150, 155), 'strictly before an event');
      assert.deepEqual(await store.readBefore('j', k.timestamp + 0.5e-6, 2), [all[150], all[149]], 'a half microsecond after an event');
      assert.deepEqual(await store.readBefore('j', all[0]!.timestamp, 10), [], 'before the first');
      assert.deepEqual(await store.readBefore('j', all.at(-1)!.timestamp + 3600, 3), newest.slice(0, 3), 'after the last');
      assert.deepEqual(await store.readBefore('nothing', Infinity, 10), [], 'an unknown journal');
      // Every event once, through pages of any size, as a query reads a journal backwards.
      for (const size of [1, 7, 128, 129, 1000]) {
        const read: StoredEvent[] = [];
        let before = Infinity;
        for (;;) {
          const page = await store.readBefore('j', before, size);
          assert.ok(page.length <= size);
          if (page.length === 0) break;
          read.push(...page);
          before = page.at(-1)!.timestamp;
        }
        assert.deepEqual(read, newest, `pages of ${size}`);
      }
    }));

    it('seeks by seq', LIMIT, withStore(async (store) => {
      const all: StoredEvent[] = [];
      for (const size of [1, 200, 3, 500, 1, 295]) all.push(...(await store.append('j', events(size, 's'))));
      for (const seq of [1, 2, 128, 129, 200, 201, 204, 705, 999, 1000]) {
        assert.deepEqual(await store.readFromSeq('j', seq, 3), all.slice(seq - 1, seq + 2), `from seq ${seq}`);
      }
      assert.deepEqual(await store.readFromSeq('j', 0, 2), all.slice(0, 2), 'seq 0 reads from the first');
      assert.deepEqual(await store.readFromSeq('j', 1001, 5), [], 'past the head');
      assert.deepEqual(await store.readFromSeq('nothing', 1, 5), [], 'an unknown journal');
      assert.deepEqual(await store.readFromSeq('j', 990, 1000), all.slice(989), 'up to the head');
    }));

    it('lists journals in name order with their heads, a page at a time', LIMIT, withStore(async (store) => {
      assert.deepEqual(await store.listJournals(undefined, 10), []);
      const names = ['b', 'a.1', 'a', 'c-2', 'B', 'a_0'];
      const heads = new Map<string, StoredEvent>();
      for (const [i, name] of names.entries()) heads.set(name, (await store.append(name, events(i + 1))).at(-1)!);
      await store.head('never-written');
      const sorted = [...names].sort();
      const expected = sorted.map((name) => ({ name, head: { seq: heads.get(name)!.seq, timestamp: heads.get(name)!.timestamp } }));
      assert.deepEqual(await store.listJournals(undefined, 100), expected);
      assert.deepEqual(await store.listJournals(undefined, 2), expected.slice(0, 2));
      assert.deepEqual(await store.listJournals('a', 2), expected.slice(2, 4), 'after a name, exclusive');
      assert.deepEqual(await store.listJournals('a.0', 100), expected.slice(2), 'after a name that is not a journal');
      assert.deepEqual(await store.listJournals('c-2', 10), []);
      const [newer] = await store.append('a', events(1));
      assert.deepEqual((await store.listJournals(undefined, 100)).find((journal) => journal.name === 'a')?.head, { seq: newer!.seq, timestamp: newer!.timestamp });
    }));

    it('says whether it can take appends', LIMIT, withStore(async (store) => {
      await store.check();
      await store.close();
      await assertUnavailable(store.check(), 'check');
      await assertUnavailable(store.readBefore('j', Infinity, 1), 'readBefore');
      await assertUnavailable(store.readFromSeq('j', 1, 1), 'readFromSeq');
      await assertUnavailable(store.listJournals(undefined, 1), 'listJournals');
    }));

    it('keeps journals apart', LIMIT, withStore(async (store) => {
      await Promise.all([
        store.append('a', events(3, 'a')),
        store.append('b', events(2, 'b')),
        store.append('a', events(1, 'a')),
        store.append('a.b-c_d', events(1, 'x')),
      ]);
      const a = await readAll(store, 'a');
      const b = await readAll(store, 'b');
      assert.deepEqual(seqs(a), [1, 2, 3, 4]);
      assert.deepEqual(seqs(b), [1, 2]);
      assert.ok(a.every((event) => event.name === 'a') && b.every((event) => event.name === 'b'));
      assert.equal((await store.head('a')).seq, 4);
      assert.equal((await store.head('b')).seq, 2);
      assert.equal((await store.head('a.b-c_d')).seq, 1);
      assert.equal((await store.head('A')).seq, 0);
    }));

    it('tells watchers of each batch once it is readable, in order, until they unsubscribe', LIMIT, withStore(async (store) => {
      const seen: StoredEvent[][] = [];
      const readable: Promise<boolean>[] = [];
      let done!: () => void;
      const all = new Promise<void>((resolve) => (done = resolve));
      const stop = store.watch('j', (batch) => {
        seen.push([...batch]);
        const last = batch.at(-1)!;
        readable.push(store.read('j', 0, 1000).then((page) => page.some((event) => event.json === last.json)));
        if (seen.length === 30) done();
      });
      const other: StoredEvent[][] = [];
      const stopOther = store.watch('other', (batch) => other.push([...batch]));
      const returned = await Promise.all(Array.from({ length: 30 }, (_, i) => store.append('j', events((i % 4) + 1))));
      await within(all, '30 batches');
      assert.deepEqual(seen, returned);
      assert.deepEqual(await Promise.all(readable), readable.map(() => true));
      assert.deepEqual(other, []);
      stop();
      stop();
      await store.append('j', events(1));
      assert.equal(seen.length, 30);
      const [o] = await store.append('other', events(1));
      assert.deepEqual(other, [[o]]);
      stopOther();
    }));

    it('stores a keyed batch once and returns it again for the same key', LIMIT, withStore(async (store) => {
      const first = await store.append('j', events(3, 'first'), { key: 'k1' });
      const again = await store.append('j', events(2, 'second'), { key: 'k1' });
      assert.deepEqual(again, first);
      const [twin, twin2] = await Promise.all([
        store.append('j', events(2, 'twin'), { key: 'k2' }),
        store.append('j', events(2, 'twin-retry'), { key: 'k2' }),
      ]);
      assert.deepEqual(twin2, twin);
      assert.deepEqual(seqs(twin!), [4, 5]);
      const long = 'L'.repeat(5000);
      const [l1, l2] = [await store.append('j', events(1, 'long'), { key: long }), await store.append('j', events(1), { key: long })];
      assert.deepEqual(l2, l1);
      assert.deepEqual(seqs(await store.append('other', events(1), { key: 'k1' })), [1], 'keys are per journal');
      assert.deepEqual(seqs(await readAll(store, 'j')), range(1, 6));
      assert.deepEqual((await readAll(store, 'j')).map((event) => event.name), ['first', 'first', 'first', 'twin', 'twin', 'long']);
    }));

    it(`remembers the last ${IDEMPOTENCY_KEY_LIMIT} keys of a journal`, LIMIT, withStore(async (store) => {
      const pending: Promise<StoredEvent[]>[] = [];
      for (let i = 0; i <= IDEMPOTENCY_KEY_LIMIT; i++) pending.push(store.append('j', events(1, `k${i}`), { key: `k${i}` }));
      await within(Promise.all(pending), `${IDEMPOTENCY_KEY_LIMIT + 1} keyed appends`, 60_000);
      const total = IDEMPOTENCY_KEY_LIMIT + 1;
      assert.deepEqual(seqs(await store.append('j', events(1), { key: 'k1' })), [2], 'k1 is still remembered');
      assert.deepEqual(seqs(await store.append('j', events(1, 'again'), { key: 'k0' })), [total + 1], 'k0 is forgotten');
      assert.deepEqual(seqs(await store.append('j', events(1), { key: 'k0' })), [total + 1], 'k0 is remembered anew');
    }));

    it('closes idempotently; later calls reject with STORE_UNAVAILABLE', LIMIT, withStore(async (store) => {
      const appending = store.append('j', events(2));
      await Promise.all([store.close(), store.close()]);
      assert.equal((await appending).length, 2, 'appends made before close still complete');
      await store.close();
      await assertUnavailable(store.append('j', events(1)), 'append');
      await assertUnavailable(store.read('j', 0, 1), 'read');
      await assertUnavailable(store.head('j'), 'head');
    }));

    registerPreserve(withStore);
    if (factory.persistent) registerPersistence(withStore);
    if (factory.clock) registerClock(factory, withStore);
    registerSchemaConformance(withStore, factory.persistent ? reopenOf : undefined);
    registerTrimConformance(withStore, factory.persistent ? reopenOf : undefined);
  });
}

/** Events at the given seqs and timestamps (seconds), as an append with `preserve` carries them. */
function positioned(list: readonly [seq: number, timestamp: number][], name = 'moved'): NewEvent[] {
  return list.map(([seq, timestamp], i) => ({ name, context: { i }, seq, timestamp }));
}

async function assertOutOfOrder(promise: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: unknown }).code, 'OUT_OF_ORDER', what);
    return true;
  });
}

function registerPreserve(withStore: WithStore): void {
  it('stores a batch appended with preserve at the seqs and timestamps its events carry', LIMIT, withStore(async (store) => {
    const batch = positioned([[5, 1000.000001], [6, 1000.5], [9, 1001]]);
    const stored = await store.append('j', batch, { preserve: true });
    assert.deepEqual(stored.map((event) => [event.seq, event.timestamp]), [[5, 1000.000001], [6, 1000.5], [9, 1001]]);
    for (const [i, event] of stored.entries()) {
      assert.deepEqual(JSON.parse(event.json), { name: 'moved', timestamp: event.timestamp, context: { i }, seq: event.seq });
    }
    assert.deepEqual(await readAll(store, 'j'), stored);
    assert.deepEqual(await store.read('j', 1000.5, 10), stored.slice(2));
    assert.deepEqual(await store.head('j'), { seq: 9, timestamp: 1001 });
    const named = { name: 'moved', context: { i: 0 }, seq: 10, timestamp: 1001.000001, schema: { id: 'urn:test:moved', version: 2 } };
    const more = await store.append('j', [named, ...positioned([[11, 2000]])], { preserve: true });
    assert.deepEqual(seqs(more), [10, 11]);
    assert.deepEqual(JSON.parse(more[0]!.json), { name: 'moved', timestamp: 1001.000001, context: { i: 0 }, seq: 10, schema: { id: 'urn:test:moved', version: 2 } }, 'a preserved event keeps its schema');
    // An ordinary append goes on from the head: the next seq, and a timestamp past it.
    const [next] = await store.append('j', events(1, 'after'));
    assert.equal(next!.seq, 12);
    assert.ok(next!.timestamp > 2000);
    assert.deepEqual(seqs(await readAll(store, 'j')), [5, 6, 9, 10, 11, 12]);
    // The seeks by seq and backwards go over the gaps.
    assert.deepEqual(seqs(await store.readFromSeq('j', 7, 3)), [9, 10, 11]);
    assert.deepEqual(seqs(await store.readFromSeq('j', 1, 2)), [5, 6]);
    assert.deepEqual(seqs(await store.readBefore('j', Infinity, 4)), [12, 11, 10, 9]);
  }));

  it('finds by seq a preserved batch whose seqs start past the one asked for, also before the append resolves', LIMIT, withStore(async (store) => {
    // Not awaited: a store that commits in the background (LmdbStore) does not hold the batch yet.
    const appended = store.append('j', positioned([[5, 1000], [6, 1001]]), { preserve: true });
    assert.deepEqual(seqs(await store.readFromSeq('j', 1, 2)), [5, 6]);
    await appended;
    assert.deepEqual(seqs(await store.readFromSeq('j', 1, 2)), [5, 6]);
  }));

  it('refuses with OUT_OF_ORDER, storing nothing, a preserving batch that does not continue the journal', LIMIT, withStore(async (store) => {
    await store.append('j', positioned([[3, 500], [4, 501]]), { preserve: true });
    const head = await store.head('j');
    await assertOutOfOrder(store.append('j', positioned([[4, 600]]), { preserve: true }), 'a seq at the head');
    await assertOutOfOrder(store.append('j', positioned([[2, 600]]), { preserve: true }), 'a seq below the head');
    await assertOutOfOrder(store.append('j', positioned([[5, 501]]), { preserve: true }), 'a timestamp at the head');
    await assertOutOfOrder(store.append('j', positioned([[5, 400]]), { preserve: true }), 'a timestamp below the head');
    await assertOutOfOrder(store.append('j', positioned([[5, 600], [7, 599]]), { preserve: true }), 'timestamps going back');
    await assertOutOfOrder(store.append('j', positioned([[5, 600], [5, 601]]), { preserve: true }), 'a seq repeated');
    await assertOutOfOrder(store.append('j', positioned([[6, 600], [5, 601]]), { preserve: true }), 'seqs going back');
    await assert.rejects(store.append('j', [{ name: 'no-position', context: {} }], { preserve: true }), { code: 'INVALID_EVENT' });
    await assert.rejects(store.append('j', positioned([[5, 0]]), { preserve: true }), { code: 'INVALID_EVENT' });
    assert.deepEqual(await store.head('j'), head);
    assert.deepEqual(seqs(await readAll(store, 'j')), [3, 4]);
    // Ordinary appends take no position from their events.
    const [plain] = await store.append('j', positioned([[100, 700]]));
    assert.equal(plain!.seq, 5);
    assert.notEqual(plain!.timestamp, 700);
    await assertOutOfOrder(store.append('j', positioned([[6, 700]]), { preserve: true }), 'after an ordinary append, below its timestamp');
  }));

  it('keeps a keyed preserving batch once and tells watchers of it', LIMIT, withStore(async (store) => {
    const seen: StoredEvent[][] = [];
    let done!: () => void;
    const twice = new Promise<void>((resolve) => (done = resolve));
    const stop = store.watch('j', (batch) => {
      seen.push([...batch]);
      if (seen.length === 2) done();
    });
    const first = await store.append('j', positioned([[1, 10], [2, 11]]), { preserve: true, key: 'import-1' });
    assert.deepEqual(await store.append('j', positioned([[1, 10], [2, 11]]), { preserve: true, key: 'import-1' }), first);
    const second = await store.append('j', positioned([[3, 12]]), { preserve: true, key: 'import-2' });
    await within(twice, 'two batches');
    stop();
    assert.deepEqual(seen, [first, second]);
    assert.deepEqual(seqs(await readAll(store, 'j')), [1, 2, 3]);
  }));
}

export type WithStore = (
  body: (store: JournalStore, fixture: StoreFixture) => Promise<void>,
  options?: StoreOpenOptions,
) => () => Promise<void>;

export function reopenOf(fixture: StoreFixture): (options?: StoreOpenOptions) => Promise<JournalStore> {
  assert.ok(fixture.reopen, 'a persistent factory gives fixtures a reopen()');
  return fixture.reopen;
}

function registerPersistence(withStore: WithStore): void {
  it('keeps events across reopen, and seq and timestamps go on increasing', LIMIT, withStore(async (store, fixture) => {
    const before = [...(await store.append('j', events(5))), ...(await store.append('j', events(2)))];
    const reopened = await reopenOf(fixture)();
    assert.deepEqual(await reopened.head('j'), { seq: 7, timestamp: before.at(-1)!.timestamp });
    assert.deepEqual(await readAll(reopened, 'j'), before);
    const after = await reopened.append('j', events(3));
    assert.deepEqual(seqs(after), [8, 9, 10]);
    assertIncreasing([...before, ...after]);
  }));

  it('remembers batch keys across reopen', LIMIT, withStore(async (store, fixture) => {
    const first = await store.append('j', events(2), { key: 'retry-me' });
    await store.append('j', events(1));
    const second = await store.append('j', events(3), { key: 'a:key:with:colons' });
    const before = await readAll(store, 'j');
    const reopened = await reopenOf(fixture)();
    assert.deepEqual(await reopened.append('j', events(4), { key: 'retry-me' }), first);
    assert.deepEqual(await reopened.append('j', events(1), { key: 'a:key:with:colons' }), second);
    assert.equal((await reopened.head('j')).seq, 6);
    assert.deepEqual(await readAll(reopened, 'j'), before, 'reads are the same events as before the reopen');
    assert.deepEqual(seqs(await reopened.append('j', events(1), { key: 'new' })), [7], 'a new key is stored');
  }));

  it('reads backwards, seeks by seq and lists journals after reopen', LIMIT, withStore(async (store, fixture) => {
    const all: StoredEvent[] = [];
    for (let i = 0; i < 20; i++) all.push(...(await store.append('j', events(50))));
    await store.append('k', events(2));
    const reopened = await reopenOf(fixture)();
    assert.deepEqual(await reopened.readBefore('j', all[700]!.timestamp, 300), all.slice(400, 700).reverse());
    assert.deepEqual(await reopened.readFromSeq('j', 333, 300), all.slice(332, 632));
    assert.deepEqual((await reopened.listJournals(undefined, 10)).map((journal) => [journal.name, journal.head.seq]), [['j', 1000], ['k', 2]]);
    const more = await reopened.append('j', events(5));
    assert.deepEqual(await reopened.readBefore('j', Infinity, 7), [...[...more].reverse(), all[999], all[998]], 'the newest, not yet in the store behind, first');
    assert.deepEqual(await reopened.readFromSeq('j', 999, 3), [all[998], all[999], more[0]], 'across what is stored and what is not yet');
  }));

  it('keeps preserved seqs and timestamps across reopen, gaps included', LIMIT, withStore(async (store, fixture) => {
    const moved = await store.append('j', positioned([[40, 3000], [41, 3000.25], [57, 3001]]), { preserve: true });
    const reopened = await reopenOf(fixture)();
    assert.deepEqual(await readAll(reopened, 'j'), moved);
    assert.deepEqual(await reopened.head('j'), { seq: 57, timestamp: 3001 });
    const [next] = await reopened.append('j', events(1));
    assert.equal(next!.seq, 58);
  }));

  it('keeps appends made just before close', LIMIT, withStore(async (store, fixture) => {
    const pending = Array.from({ length: 20 }, () => store.append('j', events(5)));
    const reopened = await reopenOf(fixture)();
    const returned = (await Promise.all(pending)).flat();
    assert.deepEqual(await readAll(reopened, 'j'), returned);
  }));
}

function registerClock(factory: StoreFactory, withStore: WithStore): void {
  const HOUR = 3600 * 1e6;
  it('keeps timestamps increasing when the clock goes back', LIMIT, async () => {
    let now = Date.now() * 1000;
    const clock = () => now;
    const start = now;
    await withStore(async (store) => {
      const [a] = await store.append('j', events(1));
      now -= HOUR;
      const [b, c] = await store.append('j', events(2));
      assert.deepEqual([a, b, c].map((event) => event!.timestamp), [start / 1e6, (start + 1) / 1e6, (start + 2) / 1e6]);
      now = start + HOUR;
      const [d] = await store.append('j', events(1));
      assert.equal(d!.timestamp, now / 1e6, 'follows the clock again once it is ahead');
    }, { clock })();
  });

  if (!factory.persistent) return;
  it('keeps timestamps increasing across reopen when the stored head is ahead of the clock', LIMIT, async () => {
    const future = Date.now() * 1000 + HOUR;
    await withStore(async (store, fixture) => {
      const stored = await store.append('j', events(3));
      const last = stored.at(-1)!;
      assert.equal(Math.round(last.timestamp * 1e6), future + 2);
      const reopened = await reopenOf(fixture)(); // the real clock, an hour behind the head
      const [next] = await reopened.append('j', events(1));
      assert.equal(Math.round(next!.timestamp * 1e6), future + 3);
      assert.equal(next!.seq, 4);
    }, { clock: () => future })();
  });
}
