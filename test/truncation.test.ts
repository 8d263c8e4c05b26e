/** Truncation is never silent: consumers, HTTP queries and `wsjournal tail` say when retention removed what they asked for. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { LmdbStore } from '../server/lmdb-store.js';
import { MemoryStore } from '../server/memory-store.js';
import type { JournalStore } from '../server/store.js';
import { J, SENTINEL, seed } from './client-assertions.js';
import { TcpProxy } from './fixtures/tcp-proxy.js';
import { Harness, turn } from './harness.js';
import { freePort, within } from './helpers.js';

const LIMIT = { timeout: 60_000 };

/** What a consumer emitted, in order: `T<seq>` for 'truncated' (naming its first), the seq of each event, `S` for the sentinel. */
function record(consumer: EventLogConsumer): (string | number)[] {
  const seen: (string | number)[] = [];
  consumer.on('truncated', ({ first }) => seen.push(`T${first.seq}`));
  consumer.on('event', (event: JournalEvent) => {
    if (event !== SENTINEL) seen.push(event.seq!);
  });
  consumer.on('sentinel', () => seen.push('S'));
  // Delivered events leave the queue, so that it never fills and holds the stream back.
  consumer.setCallback(() => {});
  return seen;
}

async function until(test: () => boolean, what: string, ms = 10_000): Promise<void> {
  await within((async () => {
    while (!test()) await new Promise((resolve) => setTimeout(resolve, 5));
  })(), ms, what);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('truncated', () => {
  it("a fresh consumer gets 'truncated' with the oldest kept event before its first event", LIMIT, async (t) => {
    const h = await Harness.start(t);
    const appended = await seed(h.server, 20);
    assert.deepEqual(await h.server.trim(J, { beforeSeq: 11 }), { trimmed: 10 });
    const consumer = h.consumer(J, { includeSentinel: true });
    let info: unknown;
    consumer.on('truncated', (value) => (info = value));
    const seen = record(consumer);
    consumer.start();
    await until(() => seen.includes('S'), 'the sentinel');
    assert.deepEqual(seen, ['T11', ...range(11, 20), 'S']);
    assert.deepEqual(info, { first: { seq: 11, timestamp: appended[10]!.timestamp } });
  });

  it("a consumer resuming from a removed point is told; one resuming after it is not", LIMIT, async (t) => {
    const h = await Harness.start(t);
    const appended = await seed(h.server, 20);
    await h.server.trim(J, { before: appended[10]!.timestamp });
    const early = h.consumer(J, { since: appended[4]!.timestamp, includeSentinel: true });
    const earlySeen = record(early);
    early.start();
    const late = h.consumer(J, { since: appended[11]!.timestamp, includeSentinel: true });
    const lateSeen = record(late);
    late.start();
    // Exactly at the last removed: nothing after it is gone.
    const exact = h.consumer(J, { since: appended[9]!.timestamp, includeSentinel: true });
    const exactSeen = record(exact);
    exact.start();
    await until(() => earlySeen.includes('S') && lateSeen.includes('S') && exactSeen.includes('S'), 'three sentinels');
    assert.deepEqual(earlySeen, ['T11', ...range(11, 20), 'S']);
    assert.deepEqual(lateSeen, [...range(13, 20), 'S']);
    assert.deepEqual(exactSeen, [...range(11, 20), 'S']);
  });

  it("a consumer reconnecting across a trim is told, then goes on from the oldest kept, nothing twice", LIMIT, async (t) => {
    const h = await Harness.start(t);
    const proxy = await TcpProxy.start(Number(new URL(h.url).port));
    t.after(() => proxy.close());
    await seed(h.server, 10);
    const consumer = h.consumer(J, {}, undefined);
    const viaProxy = h.track(new (consumer.constructor as typeof EventLogConsumer)(proxy.url, J, {}));
    const seen = record(viaProxy);
    viaProxy.start();
    await until(() => seen.length === 11, 'ten events and the sentinel').catch((error: Error) => {
      throw new Error(`${error.message}: ${seen.join()}`);
    });
    // Reconnects land on a closed port until the trim is done.
    proxy.retarget(await freePort());
    proxy.cutAll();
    await seed(h.server, 10, J, 'e', 11);
    await h.server.trim(J, { beforeSeq: 15 });
    proxy.retarget(Number(new URL(h.url).port));
    await until(() => seen.length === 11 + 1 + 6, "'truncated' and six events");
    assert.deepEqual(seen, [...range(1, 10), 'S', 'T15', ...range(15, 20)]);
    await h.server.append(J, 'live');
    await until(() => seen.length === 19, 'a live event');
    assert.equal(seen.at(-1), 21);
  });

  it('an HTTP query over a removed range answers truncated: true', LIMIT, async (t) => {
    const h = await Harness.start(t);
    const appended = await seed(h.server, 20);
    await h.server.trim(J, { beforeSeq: 11 });
    const base = h.url.replace('ws://', 'http://');
    const get = async (query: string) => (await (await fetch(`${base}/v1/journals/${J}/events?${query}`)).json()) as { events: { seq: number }[]; truncated?: boolean };
    const all = await get('limit=5');
    assert.equal(all.truncated, true);
    assert.deepEqual(all.events.map((event) => event.seq), range(11, 15));
    assert.equal((await get(`since=${appended[2]!.timestamp}`)).truncated, true);
    assert.equal((await get('after=3')).truncated, true);
    assert.equal((await get(`since=${appended[12]!.timestamp}`)).truncated, undefined);
    assert.equal((await get('after=12')).truncated, undefined);
  });
});

for (const [kind, open] of [
  ['MemoryStore', async () => ({ store: new MemoryStore() as JournalStore, cleanup: async () => {} })],
  [
    'LmdbStore',
    async () => {
      const path = await mkdtemp(join(tmpdir(), 'wsjournal-truncation-'));
      const store = new LmdbStore({ path });
      return { store: store as JournalStore, cleanup: async () => { await store.close(); await rm(path, { recursive: true, force: true }); } };
    },
  ],
] as const) {
  describe(`trims under load on ${kind}`, () => {
    it('appends and subscriptions go on while a trim runs: nothing twice, no hole but the removed prefix', LIMIT, async (t) => {
      const { store, cleanup } = await open();
      const h = await Harness.start(t, { store });
      t.after(cleanup);
      const producer = h.producer(J);
      for (let i = 0; i < 20; i++) await producer.appendMany(Array.from({ length: 1000 }, (_, j) => ({ name: 'e', context: { n: i * 1000 + j } })));
      const live = h.consumer(J, { full: false });
      const liveSeen = record(live);
      live.start();
      await within(new Promise((resolve) => live.once('subscribed', resolve)), 5000, 'subscribed');
      let appending = true;
      let appended = 20_000;
      const appends = (async () => {
        while (appending) {
          await producer.appendMany(Array.from({ length: 20 }, () => ({ name: 'live' })));
          appended += 20;
          await turn();
        }
      })();
      const replaying: (string | number)[][] = [];
      const trim = h.server.trim(J, { beforeSeq: 15_001 });
      // Consumers that start while the trim runs.
      for (let i = 0; i < 3; i++) {
        const consumer = h.consumer(J);
        replaying.push(record(consumer));
        consumer.start();
        await turn();
      }
      assert.deepEqual(await trim, { trimmed: 15_000 });
      appending = false;
      await appends;
      const last = appended;
      await until(() => liveSeen.at(-1) === last && replaying.every((seen) => seen.filter((item) => typeof item === 'number').at(-1) === last), 'every consumer at the head', 30_000).catch((error: Error) => {
        throw new Error(`${error.message}: last ${last}, live at ${String(liveSeen.at(-1))}, replays at ${replaying.map((seen) => `${seen.length}:${String(seen.at(-1))}`).join(' ')}`);
      });
      assert.deepEqual(liveSeen, range(20_001, last));
      for (const seen of replaying) {
        const events = seen.filter((item) => typeof item === 'number') as number[];
        const first = events[0]!;
        assert.ok(first === 1 || first <= 15_001, `starts at ${first}`);
        if (first > 1) assert.equal(seen[0], `T${first}`, "'truncated' before the first event");
        // Every event follows the one before it, unless a 'truncated' naming it comes between them
        // (the trim overtook the replay); nothing twice, and the end is the head.
        let previous = first - 1;
        let told: string | undefined = first > 1 ? `T${first}` : undefined;
        for (const item of seen.slice(first > 1 ? 1 : 0)) {
          if (item === 'S') continue;
          if (typeof item === 'string') {
            told = item;
            continue;
          }
          if (item !== previous + 1) assert.equal(told, `T${item}`, `a hole before ${item} with no 'truncated' naming it: ${JSON.stringify(seen.slice(Math.max(0, seen.indexOf(item) - 3), seen.indexOf(item) + 2))}, starts ${String(seen[0])}`);
          assert.ok(item > previous, `${item} after ${previous}`);
          assert.ok(item === previous + 1 || item <= 15_001, `no hole past the removed prefix: ${previous} to ${item}`);
          previous = item;
          told = undefined;
        }
        assert.equal(previous, last);
      }
    });
  });
}
