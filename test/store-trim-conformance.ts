/** The trim part of the `JournalStore` contract, registered by `storeConformance` for every store. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { ErrorCode } from '../src/errors.js';
import { TRIM_SLICE_EVENTS } from '../server/store.js';
import type { JournalStore, NewEvent, StoredEvent } from '../server/store.js';
import type { StoreFixture, StoreOpenOptions } from './store-conformance.js';

type WithStore = (body: (store: JournalStore, fixture: StoreFixture) => Promise<void>, options?: StoreOpenOptions) => () => Promise<void>;

const LIMIT = { timeout: 120_000 };

function events(count: number, from = 0): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ({ name: 'e', context: { i: from + i } }));
}

async function readAll(store: JournalStore, journal: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await store.read(journal, after, 5000);
    if (page.length === 0) return all;
    all.push(...page);
    after = page.at(-1)!.timestamp;
  }
}

function assertContiguous(list: readonly StoredEvent[], from: number, to: number): void {
  assert.equal(list.length, to - from + 1, `expected seqs ${from}..${to}, got ${list.length} events from ${list[0]?.seq}`);
  list.forEach((event, i) => assert.equal(event.seq, from + i, `seq at ${i}`));
}

export function registerTrimConformance(withStore: WithStore, reopenOf: ((fixture: StoreFixture) => (options?: StoreOpenOptions) => Promise<JournalStore>) | undefined): void {
  it('trims by seq across batches and chunks, keeping that seq, and says where the journal starts', LIMIT, withStore(async (store) => {
    for (let i = 0; i < 5; i++) await store.append('j', events(300, i * 300));
    assert.deepEqual(await store.start('j'), { first: (({ seq, timestamp }) => ({ seq, timestamp }))((await store.read('j', 0, 1))[0]!), removed: { seq: 0, timestamp: 0 } });
    const all = await readAll(store, 'j');
    assert.deepEqual(await store.trim('j', { beforeSeq: 777 }), { trimmed: 776 });
    const kept = await readAll(store, 'j');
    assertContiguous(kept, 777, 1500);
    assert.deepEqual(kept, all.slice(776));
    const start = await store.start('j');
    assert.deepEqual(start.first, { seq: 777, timestamp: all[776]!.timestamp });
    assert.deepEqual(start.removed, { seq: 776, timestamp: all[775]!.timestamp });
    assert.deepEqual((await store.readFromSeq('j', 1, 2)).map((e) => e.seq), [777, 778]);
    assert.deepEqual((await store.readFromSeq('j', 900, 1)).map((e) => e.seq), [900]);
    assert.deepEqual((await store.readBefore('j', Infinity, 2000)).length, 724);
    assert.deepEqual(await store.head('j'), { seq: 1500, timestamp: all[1499]!.timestamp });
    const [next] = await store.append('j', events(1));
    assert.equal(next!.seq, 1501);
  }));

  it('trims by timestamp: events before it go, the one at it stays', LIMIT, withStore(async (store) => {
    const stored = await store.append('j', events(50));
    assert.deepEqual(await store.trim('j', { before: stored[20]!.timestamp }), { trimmed: 20 });
    assertContiguous(await readAll(store, 'j'), 21, 50);
    // Both bounds: the earlier wins; a bound already passed removes nothing.
    assert.deepEqual(await store.trim('j', { before: stored[40]!.timestamp, beforeSeq: 25 }), { trimmed: 4 });
    assert.deepEqual(await store.trim('j', { beforeSeq: 3 }), { trimmed: 0 });
    assertContiguous(await readAll(store, 'j'), 25, 50);
  }));

  it('always keeps the newest event, from which seqs go on', LIMIT, withStore(async (store) => {
    await store.append('j', events(10));
    assert.deepEqual(await store.trim('j', { before: Infinity }), { trimmed: 9 });
    assert.deepEqual(await store.trim('j', { beforeSeq: 1e9 }), { trimmed: 0 });
    assertContiguous(await readAll(store, 'j'), 10, 10);
    assert.equal((await store.head('j')).seq, 10);
    assert.equal((await store.append('j', events(1)))[0]!.seq, 11);
    assert.deepEqual(await store.trim('nothing', { before: Infinity }), { trimmed: 0 });
    assert.deepEqual(await store.start('nothing'), { first: { seq: 0, timestamp: 0 }, removed: { seq: 0, timestamp: 0 } });
  }));

  it(`removes more than ${TRIM_SLICE_EVENTS} events in steps, while appends go on without a hole`, LIMIT, withStore(async (store) => {
    for (let i = 0; i < 10; i++) await store.append('j', events(1000, i * 1000));
    let appending = true;
    const appends = (async () => {
      let n = 0;
      while (appending) {
        await store.append('j', events(10));
        n += 10;
        // Appends come from sockets, a turn of the event loop apart: a loop of promises alone would starve it.
        await turn();
      }
      return n;
    })();
    const trim = await store.trim('j', { beforeSeq: 9001 });
    appending = false;
    const added = await appends;
    assert.equal(trim.trimmed, 9000);
    assertContiguous(await readAll(store, 'j'), 9001, 10_000 + added);
    assert.equal((await store.start('j')).removed.seq, 9000);
  }));

  it('refuses a trim without a bound, or with a bad one, with BAD_REQUEST', LIMIT, withStore(async (store) => {
    await store.append('j', events(3));
    for (const options of [{}, { before: Number.NaN }, { beforeSeq: -1 }, { beforeSeq: 1.5 }, { before: '1' as unknown as number }]) {
      await assert.rejects(store.trim('j', options), (error: { code?: string }) => error.code === ErrorCode.BAD_REQUEST, JSON.stringify(options));
    }
    assertContiguous(await readAll(store, 'j'), 1, 3);
  }));

  if (reopenOf !== undefined) {
    it('keeps a trim across a reopen', LIMIT, withStore(async (store, fixture) => {
      await store.append('j', events(400));
      await store.trim('j', { beforeSeq: 201 });
      const reopened = await reopenOf(fixture)();
      assertContiguous(await readAll(reopened, 'j'), 201, 400);
      assert.equal((await reopened.start('j')).removed.seq, 200);
      assert.equal((await reopened.append('j', events(1)))[0]!.seq, 401);
    }));
  }
}
