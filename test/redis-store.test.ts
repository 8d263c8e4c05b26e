/**
 * RedisStore against a real Redis: the store conformance suite, then what only a shared
 * store has to do: several stores on one journal, dropped connections, Redis away.
 * Skips with the reason when Redis is not reachable, unless WSJOURNAL_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { encodeEvent } from '../server/encode.js';
import { RedisStore, type RedisStoreOptions } from '../server/redis-store.js';
import type { JournalStore, NewEvent, StoredEvent } from '../server/store.js';
import { TcpProxy } from './fixtures/tcp-proxy.js';
import { freePort, Signal, within } from './helpers.js';
import { storeConformance, type StoreOpenOptions } from './store-conformance.js';
import { REDIS_URL, withRedis } from './redis-available.js';
import { deleteKeys } from './fixtures/redis-keys.js';

/** Every key this run writes starts with this, and is deleted at the end. */
const RUN_PREFIX = `wsjournal-test:${randomUUID()}:`;
/** Every test fails rather than hangs. */
const LIMIT = { timeout: 60_000 };

await withRedis('RedisStore', 'test/redis-store.test.ts', registerTests);

function registerTests(): void {
  const admin = new Redis(REDIS_URL, { maxRetriesPerRequest: 0 });
  admin.on('error', () => {});
  let prefixes = 0;
  const freshPrefix = () => `${RUN_PREFIX}${++prefixes}:`;

  after(async () => {
    await deleteKeys(admin, RUN_PREFIX);
    await admin.quit();
  });

  const open = (options: Partial<RedisStoreOptions> & { prefix: string }) => new RedisStore({ url: REDIS_URL, ...options });

  storeConformance('RedisStore', {
    persistent: true,
    clock: true,
    async create(options: StoreOpenOptions = {}) {
      const prefix = freshPrefix();
      let current = open({ prefix, ...options });
      return {
        store: current,
        async reopen(reopenOptions: StoreOpenOptions = {}) {
          await current.close();
          current = open({ prefix, ...reopenOptions });
          return current;
        },
        async cleanup() {
          await current.close();
          await deleteKeys(admin, prefix);
        },
      };
    },
  });

  describe('RedisStore', () => {
    /** Stores opened by a test, closed after it. */
    const stores = new Set<RedisStore>();
    const store = (options: Partial<RedisStoreOptions> = {}): RedisStore => {
      const opened = open({ ...options, prefix: options.prefix ?? freshPrefix() });
      stores.add(opened);
      return opened;
    };
    const closeAll = async () => {
      await Promise.all([...stores].map((opened) => opened.close()));
      stores.clear();
    };

    it('rejects bad options, naming them', LIMIT, () => {
      const bad: [unknown, ErrorConstructor, RegExp][] = [
        [undefined, TypeError, /options must be an object/],
        [{}, TypeError, /options\.url/],
        [{ url: 42 }, TypeError, /options\.url/],
        [{ url: 'not a url' }, TypeError, /options\.url/],
        [{ url: 'http://127.0.0.1:6379' }, TypeError, /options\.url must use redis:/],
        [{ url: 'redis://127.0.0.1:6379/zero' }, RangeError, /options\.url/],
        [{ url: REDIS_URL, prefix: 5 }, TypeError, /options\.prefix/],
        [{ url: REDIS_URL, prefix: 'a{b}' }, RangeError, /options\.prefix/],
        [{ url: REDIS_URL, connectionName: 'two words' }, RangeError, /options\.connectionName/],
        [{ url: REDIS_URL, timeout: '5' }, TypeError, /options\.timeout/],
        [{ url: REDIS_URL, timeout: 0 }, RangeError, /options\.timeout/],
        [{ url: REDIS_URL, timeout: Infinity }, RangeError, /options\.timeout/],
        [{ url: REDIS_URL, clock: 5 }, TypeError, /options\.clock/],
        [{ url: REDIS_URL, port: 6379 }, TypeError, /options\.port is not a known option/],
      ];
      for (const [options, type, message] of bad) {
        assert.throws(() => new RedisStore(options as RedisStoreOptions), (error: unknown) => {
          assert.ok(error instanceof type, `${String(error)} for ${JSON.stringify(options)}`);
          assert.match((error as Error).message, message);
          return true;
        });
      }
    });

    it('stores the wire JSON that encodeEvent makes, whole seconds and all', LIMIT, async (t) => {
      t.after(closeAll);
      let now = 1_700_000_000_000_000;
      const s = store({ clock: () => now });
      const odd: NewEvent[] = [
        { name: 'a', context: {} },
        { name: 'ünï "q" \\ 🚀', context: { x: [1, 2.5, null], s: '\u2028' } },
      ];
      const returned = [...(await s.append('j', odd))];
      now = 1_700_000_000_100_000;
      returned.push(...(await s.append('j', odd)));
      now = 1_700_000_001_234_560;
      returned.push(...(await s.append('j', odd)));
      assert.deepEqual(
        returned.map((event) => event.timestamp),
        [1700000000, 1700000000.000001, 1700000000.1, 1700000000.100001, 1700000001.23456, 1700000001.234561],
      );
      const expected = returned.map((event, i) => encodeEvent(event.seq, Math.round(event.timestamp * 1e6), odd[i % 2]!));
      assert.deepEqual(returned, expected);
      assert.deepEqual(await s.read('j', 0, 100), expected);
    });

    it('delivers a batch larger than one blocking read whole', LIMIT, async (t) => {
      t.after(closeAll);
      const s = store();
      const signal = new Signal();
      const seen: StoredEvent[][] = [];
      s.watch('big', (batch) => {
        seen.push([...batch]);
        signal.notify();
      });
      await s.head('big');
      const batches = [await s.append('big', events(2500, 'x')), await s.append('big', events(1, 'y')), await s.append('big', events(1001, 'z'))];
      await signal.until(() => seen.length === 3, 10_000, 'three batches');
      assert.deepEqual(seen, batches);
    });

    it('starts a watcher at the head again after everyone stopped watching', LIMIT, async (t) => {
      t.after(closeAll);
      const s = store();
      const signal = new Signal();
      const first: StoredEvent[] = [];
      const stop = s.watch('j', (batch) => {
        first.push(...batch);
        signal.notify();
      });
      await s.head('j');
      const [one] = await s.append('j', events(1));
      await signal.until(() => first.length === 1, 5000, 'the first event');
      stop();
      await s.append('j', events(2));
      const second: StoredEvent[] = [];
      s.watch('j', (batch) => {
        second.push(...batch);
        signal.notify();
      });
      assert.equal((await s.head('j')).seq, 3);
      const [four] = await s.append('j', events(1));
      await signal.until(() => second.length >= 1, 5000, 'the event after the second watch');
      assert.deepEqual(first, [one]);
      assert.deepEqual(second, [four]);
    });

    it('gives two stores appending to one journal one gap-free sequence, watched in the same order', LIMIT, async (t) => {
      t.after(closeAll);
      const prefix = freshPrefix();
      const [a, b] = [store({ prefix }), store({ prefix })];
      const seenA: StoredEvent[][] = [];
      const seenB: StoredEvent[][] = [];
      const total = 2 * (1 + 2 + 3 + 4 + 5) * 20;
      const count = (seen: StoredEvent[][]) => seen.reduce((sum, batch) => sum + batch.length, 0);
      const signal = new Signal();
      a.watch('j', (batch) => {
        seenA.push([...batch]);
        signal.notify();
      });
      b.watch('j', (batch) => {
        seenB.push([...batch]);
        signal.notify();
      });
      // A head() after watch() resolves once the watcher is in place.
      await Promise.all([a.head('j'), b.head('j')]);
      const pending: Promise<StoredEvent[]>[] = [];
      for (let i = 0; i < 100; i++) {
        pending.push(a.append('j', events((i % 5) + 1, `a${i}`)), b.append('j', events((i % 5) + 1, `b${i}`)));
      }
      const returned = await Promise.all(pending);
      await signal.until(() => count(seenA) === total && count(seenB) === total, 10_000, `${total} events at both watchers`);
      const all = await readAll(a, 'j');
      assert.deepEqual(seqs(all), range(1, total));
      assertIncreasing(all);
      assert.deepEqual(seenA, seenB);
      assert.deepEqual(seenA.flat(), all);
      assert.deepEqual(
        [...returned].sort((x, y) => x[0]!.seq - y[0]!.seq),
        seenA,
        'each append is one batch, as the watchers see it',
      );
      assert.deepEqual(await readAll(b, 'j'), all);
    });

    it('starts a watcher no later than a head() called after it, while another store appends flat out', LIMIT, async (t) => {
      t.after(closeAll);
      const prefix = freshPrefix();
      const [watcher, writer] = [store({ prefix }), store({ prefix })];
      let writing = true;
      const written = (async () => {
        let n = 0;
        while (writing) await writer.append('j', events((n++ % 3) + 1));
      })();
      try {
        for (let round = 0; round < 20; round++) {
          const signal = new Signal();
          const seen: StoredEvent[] = [];
          const stop = watcher.watch('j', (batch) => {
            seen.push(...batch);
            signal.notify();
          });
          const head = await watcher.head('j');
          await signal.until(() => seen.some((event) => event.seq >= head.seq + 10), 5000, `10 events after seq ${head.seq}`);
          stop();
          const live = seqs(seen.filter((event) => event.seq > head.seq));
          assert.deepEqual(live, range(head.seq + 1, live.at(-1)!), `round ${round}: no gap after the head`);
        }
      } finally {
        writing = false;
        await written;
      }
    });

    it('keeps watching through killed connections, losing and repeating nothing; appends fail only with STORE_UNAVAILABLE', LIMIT, async (t) => {
      t.after(closeAll);
      const prefix = freshPrefix();
      const name = `wsjournal-test-${randomUUID()}`;
      const [a, b] = [store({ prefix, connectionName: name }), store({ prefix })];
      const signal = new Signal();
      const seen: StoredEvent[] = [];
      a.watch('j', (batch) => {
        seen.push(...batch);
        signal.notify();
      });
      await a.head('j');
      let writing = true;
      const failures: unknown[] = [];
      const attempted: { name: string; size: number; ok: boolean }[] = [];
      let succeeded = 0;
      const writers = [
        (async () => {
          for (let n = 0; writing; n++) await b.append('j', events((n % 4) + 1, `b${n}`));
        })(),
        (async () => {
          for (let n = 0; writing; n++) {
            const record = { name: `a${n}`, size: (n % 4) + 1, ok: false };
            attempted.push(record);
            try {
              await a.append('j', events(record.size, record.name));
              record.ok = true;
              succeeded++;
              signal.notify();
            } catch (error) {
              failures.push(error);
            }
          }
        })(),
      ];
      try {
        for (let kill = 0; kill < 5; kill++) {
          const [seenBefore, succeededBefore] = [seen.length, succeeded];
          // Both connections are back: the watcher delivers and an append of `a` succeeds.
          await signal.until(() => seen.length > seenBefore + 50 && succeeded > succeededBefore, 10_000, `progress before kill ${kill}`);
          assert.equal(await killClients(admin, name), 2, 'the command and the watch connection');
        }
        const [seenBefore, succeededBefore] = [seen.length, succeeded];
        await signal.until(() => seen.length > seenBefore && succeeded > succeededBefore, 10_000, 'progress after the last kill');
      } finally {
        writing = false;
        await Promise.all(writers);
      }
      const all = await readAll(b, 'j');
      await signal.until(() => seen.length >= all.length, 10_000, 'the watcher to catch up');
      assert.deepEqual(seqs(seen), range(1, all.length), 'no event lost or repeated');
      assert.deepEqual(seen, all);
      for (const error of failures) assert.equal((error as { code?: unknown }).code, 'STORE_UNAVAILABLE', String(error));
      const stored = new Map<string, number>();
      for (const event of all) stored.set(event.name, (stored.get(event.name) ?? 0) + 1);
      for (const { name: batch, size, ok } of attempted) {
        const count = stored.get(batch) ?? 0;
        if (ok) assert.equal(count, size, `${batch} was acknowledged`);
        else assert.ok(count === 0 || count === size, `${batch} failed and is stored whole or not at all, not ${count} of ${size}`);
      }
    });

    it('fails fast while Redis is away, and the watcher resumes without loss when it is back', LIMIT, async (t) => {
      t.after(closeAll);
      const redisPort = Number(new URL(REDIS_URL).port || 6379);
      const proxy = await TcpProxy.start(redisPort);
      t.after(() => proxy.close());
      const prefix = freshPrefix();
      const db = new URL(REDIS_URL).pathname;
      const a = store({ prefix, url: `redis://127.0.0.1:${proxy.port}${db}`, timeout: 2 });
      const b = store({ prefix });
      const signal = new Signal();
      const seen: StoredEvent[] = [];
      a.watch('j', (batch) => {
        seen.push(...batch);
        signal.notify();
      });
      await a.head('j');
      await b.append('j', events(5));
      await signal.until(() => seen.length === 5, 5000, 'events before the outage');

      // Redis goes away: connections drop and new ones are refused.
      proxy.retarget(await freePort());
      proxy.cutAll();
      await failUnavailable([
        ['append', () => a.append('j', events(1, 'lost'))],
        ['read', () => a.read('j', 0, 10)],
        ['head', () => a.head('j')],
      ]);
      const during = await b.append('j', events(20, 'during'));

      proxy.retarget(redisPort);
      await signal.until(() => seen.length >= 25, 10_000, 'the watcher to resume');
      let next: StoredEvent[] | undefined;
      for (let attempt = 0; next === undefined; attempt++) {
        // Each attempt settles within one reconnection delay; the store reconnects by itself.
        next = await a.append('j', events(1, 'after')).catch((error: unknown) => {
          assert.equal((error as { code?: unknown }).code, 'STORE_UNAVAILABLE');
          assert.ok(attempt < 20, 'the store reconnects');
          return undefined;
        });
      }
      await signal.until(() => seen.length === 26, 5000, 'the append after the outage');
      assert.deepEqual(seqs(seen), range(1, 26));
      assert.deepEqual(seen.slice(5, 25), during);
      assert.deepEqual(seen[25], next[0]);
      assert.ok(!seen.some((event) => event.name === 'lost'));
    });

    it('rejects promptly with STORE_UNAVAILABLE when nothing listens at the URL', LIMIT, async (t) => {
      t.after(closeAll);
      const s = store({ url: `redis://127.0.0.1:${await freePort()}`, timeout: 2 });
      const stop = s.watch('j', () => assert.fail('nothing can be appended'));
      await failUnavailable([
        ['append', () => s.append('j', events(1))],
        ['read', () => s.read('j', 0, 10)],
        ['head', () => s.head('j')],
        ['append again', () => s.append('j', events(1))],
      ]);
      stop();
      await within(s.close(), 3000, 'close');
    });

    it('rejects with STORE_UNAVAILABLE within its timeout when the server accepts connections but never answers', LIMIT, async (t) => {
      t.after(closeAll);
      const sockets = new Set<net.Socket>();
      const silent = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('error', () => {});
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      t.after(async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      });
      const s = store({ url: `redis://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, timeout: 0.5 });
      const stop = s.watch('j', () => assert.fail('nothing can be appended'));
      const results = await within(
        Promise.allSettled([s.append('j', events(1)), s.read('j', 0, 10), s.head('j')]),
        3000,
        'the calls to fail',
      );
      for (const result of results) {
        assert.equal(result.status, 'rejected');
        assert.equal((result.reason as { code?: unknown }).code, 'STORE_UNAVAILABLE', String(result.reason));
      }
      stop();
      await within(s.close(), 3000, 'close');
    });
  });
}

function events(count: number, name = 'e'): NewEvent[] {
  return Array.from({ length: count }, (_, i) => ({ name, context: { i } }));
}

function seqs(list: readonly StoredEvent[]): number[] {
  return list.map((event) => event.seq);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function assertIncreasing(list: readonly StoredEvent[]): void {
  for (let i = 1; i < list.length; i++) assert.ok(list[i]!.timestamp > list[i - 1]!.timestamp, `timestamp ${i} does not increase`);
}

async function readAll(store: JournalStore, journal: string): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (let after = 0; ; ) {
    const page = await store.read(journal, after, 1000);
    if (page.length === 0) return all;
    all.push(...page);
    after = page.at(-1)!.timestamp;
  }
}



/** Kills the connections named `name` and `name:watch` (this test's store only); returns how many. */
async function killClients(admin: Redis, name: string): Promise<number> {
  const list = (await admin.call('CLIENT', 'LIST')) as string;
  const ids = list
    .split('\n')
    .filter((line) => {
      const client = / name=(\S*)/.exec(line)?.[1];
      return client === name || client === `${name}:watch`;
    })
    .map((line) => /^id=(\d+)/.exec(line)![1]!);
  for (const id of ids) await admin.call('CLIENT', 'KILL', 'ID', id);
  return ids.length;
}

/** Each call, in turn, rejects with STORE_UNAVAILABLE within 3 s. */
async function failUnavailable(calls: readonly (readonly [what: string, call: () => Promise<unknown>])[]): Promise<void> {
  for (const [what, call] of calls) {
    await within(
      assert.rejects(call(), (error: unknown) => {
        assert.equal((error as { code?: unknown }).code, 'STORE_UNAVAILABLE', `${what}: ${String(error)}`);
        return true;
      }),
      3000,
      `${what} to fail`,
    );
  }
}
