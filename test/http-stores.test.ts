/**
 * The same HTTP queries on every store: LmdbStore (its events partly in LMDB, partly only in
 * the write-ahead log), RedisStore (skipped with the reason when Redis is not reachable) and
 * MemoryStore; each page through real HTTP, compared with the store's own full read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JournalServer } from '../server/journal-server.js';
import type { StoredEvent } from '../server/store.js';
import { JournalClient } from '../src/journal-client.js';
import { range, readAll } from './harness.js';
import { get, where } from './http-client.js';
import { startServer } from './helpers.js';
import { onEveryStore, type OpenStore } from './fixtures/stores.js';
import type { StoreFixture } from './store-conformance.js';

const LIMIT = { timeout: 60_000 };

function queryConformance(name: string, open: OpenStore): void {
  describe(`HTTP queries on ${name}`, () => {
    let fixture: StoreFixture;
    let server: JournalServer;
    let all: StoredEvent[];
    let client: JournalClient;

    it('serves a journal of 3,000 events appended in batches', LIMIT, async () => {
      fixture = await open();
      server = await startServer({ store: fixture.store });
      client = new JournalClient(server.url);
      for (let i = 0; i < 30; i++) {
        await fixture.store.append(
          'q',
          Array.from({ length: 100 }, (_, n) => ({ name: n % 10 === 0 ? 'log' : 'job', context: { i: i * 100 + n, levelno: n % 50, user: { id: n % 7 } } })),
        );
      }
      await fixture.store.append('other', [{ name: 'x', context: {} }]);
      all = await readAll(fixture.store, 'q');
      assert.equal(all.length, 3000);
    });

    const entries = (events: readonly StoredEvent[]) => events.map((event) => JSON.parse(event.json) as { seq: number; context: Record<string, any> });
    const seqs = async (query: Parameters<JournalClient['events']>[1]) => {
      const seen: number[] = [];
      for await (const event of client.events('q', query)) seen.push(event.seq!);
      return seen;
    };

    it('pages oldest first and newest first through every event', LIMIT, async () => {
      assert.deepEqual(await seqs({ pageSize: 256 }), all.map((event) => event.seq));
      assert.deepEqual(await seqs({ order: 'desc', pageSize: 333 }), all.map((event) => event.seq).reverse());
    });

    it('reads windows by time and by seq, both ways', LIMIT, async () => {
      const ts = (seq: number) => all[seq - 1]!.timestamp;
      assert.deepEqual(await seqs({ since: ts(1200), until: ts(1450), pageSize: 100 }), range(1201, 1450));
      assert.deepEqual(await seqs({ since: ts(1200), until: ts(1450), order: 'desc', pageSize: 100 }), range(1201, 1450).reverse());
      assert.deepEqual(await seqs({ after: 2990 }), range(2991, 3000));
      assert.deepEqual(await seqs({ after: 1000, limit: 5 }), range(1001, 1005));
      assert.deepEqual(await seqs({ after: 2995, order: 'desc' }), [3000, 2999, 2998, 2997, 2996]);
      assert.deepEqual(await seqs({ order: 'desc', limit: 3 }), [3000, 2999, 2998]);
    });

    it('filters with names, level and where as the full read does', LIMIT, async () => {
      const reference = entries(all);
      assert.deepEqual(await seqs({ names: ['log'], pageSize: 100 }), reference.filter((_, i) => all[i]!.name === 'log').map((entry) => entry.seq));
      assert.deepEqual(
        await seqs({ level: 'warning', order: 'desc' }),
        reference.filter((entry, i) => all[i]!.name === 'log' && entry.context['levelno'] >= 30).map((entry) => entry.seq).reverse(),
      );
      assert.deepEqual(
        await seqs({ where: { 'context.user.id': 3, 'context.i': { $gte: 2500 } }, order: 'desc', limit: 20 }),
        reference.filter((entry) => entry.context['user'].id === 3 && entry.context['i'] >= 2500).map((entry) => entry.seq).reverse().slice(0, 20),
      );
    });

    it('reads one event by seq and lists the journals', LIMIT, async () => {
      for (const seq of [1, 129, 1500, 3000]) assert.deepEqual((await client.event('q', seq))?.toJSON(), new JournalEventLike(all[seq - 1]!).json());
      assert.equal(await client.event('q', 3001), undefined);
      assert.deepEqual(
        (await client.journals()).map((journal) => [journal.name, journal.head.seq]),
        [['other', 1], ['q', 3000]],
      );
      const page = await get(server, `/v1/journals/q/events?${where({ seq: { $in: [7, 2999] } })}&order=desc`);
      assert.deepEqual(page.json.events.map((event: { seq: number }) => event.seq), [2999, 7]);
    });

    it('closes', LIMIT, async () => {
      await server.close();
      await fixture.cleanup();
    });
  });
}

/** What `JournalEvent.toJSON()` gives for a stored event. */
class JournalEventLike {
  readonly #entry: Record<string, unknown>;

  constructor(event: StoredEvent) {
    this.#entry = JSON.parse(event.json) as Record<string, unknown>;
  }

  json(): Record<string, unknown> {
    const { name, timestamp, context, seq } = this.#entry;
    return { timestamp, context, name, seq };
  }
}

await onEveryStore({ title: 'HTTP queries', file: 'test/http-stores.test.ts', tag: 'http' }, queryConformance);
