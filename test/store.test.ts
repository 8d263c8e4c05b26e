/** The store conformance suite on every embedded store, plus LmdbStore's own tests. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { nextMicros } from '../server/encode.js';
import { LmdbStore, type LmdbStoreOptions } from '../server/lmdb-store.js';
import { MemoryStore } from '../server/memory-store.js';
import type { StoredEvent } from '../server/store.js';
import { collidingKeys } from './helpers.js';
import { storeConformance, type StoreFactory, type StoreOpenOptions } from './store-conformance.js';

/** Every test fails rather than hangs. */
const LIMIT = { timeout: 60_000 };
const tempDir = () => mkdtemp(join(tmpdir(), 'wsjournal-store-'));

storeConformance('MemoryStore', {
  persistent: false,
  clock: false,
  async create() {
    const store = new MemoryStore();
    return { store, cleanup: () => store.close() };
  },
});

const lmdbFactory: StoreFactory = {
  persistent: true,
  clock: true,
  async create(options: StoreOpenOptions = {}) {
    const path = await tempDir();
    let current = new LmdbStore({ path, ...options });
    return {
      store: current,
      async reopen(reopenOptions: StoreOpenOptions = {}) {
        await current.close();
        current = new LmdbStore({ path, ...reopenOptions });
        return current;
      },
      async cleanup() {
        await current.close();
        await rm(path, { recursive: true, force: true });
      },
    };
  },
};

storeConformance('LmdbStore', lmdbFactory);

describe('nextMicros', () => {
  it('follows the clock while it is ahead, and steps one microsecond past the last otherwise', LIMIT, () => {
    assert.equal(nextMicros(100, 250), 250);
    assert.equal(nextMicros(100, 101), 101);
    assert.equal(nextMicros(100, 100), 101);
    assert.equal(nextMicros(100, 40), 101);
  });
});

describe('LmdbStore', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir();
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rejects bad options, naming them', LIMIT, async () => {
    const bad: [unknown, RegExp][] = [
      [undefined, /options must be an object/],
      [{}, /options\.path/],
      [{ path: '' }, /options\.path/],
      [{ path: 42 }, /options\.path/],
      [{ path: join(dir, 'x'), clock: 5 }, /options\.clock/],
    ];
    for (const [options, message] of bad) {
      assert.throws(() => new LmdbStore(options as LmdbStoreOptions), (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(error.message, message);
        return true;
      });
    }
    for (const name of ['maxCachedJournals', 'maxBacklogEvents']) {
      for (const value of [0, -1, 1.5]) {
        assert.throws(() => new LmdbStore({ path: join(dir, 'x'), [name]: value }), { name: 'RangeError', message: new RegExp(`options\\.${name}`) });
      }
      assert.throws(() => new LmdbStore({ path: join(dir, 'x'), [name]: '5' }), { name: 'TypeError', message: new RegExp(`options\\.${name}`) });
    }
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a directory');
    assert.throws(() => new LmdbStore({ path: join(file, 'db') }), { code: 'STORE_UNAVAILABLE' });
  });

  it('past maxBacklogEvents waiting for LMDB, acknowledges an append only once LMDB holds it', LIMIT, async () => {
    const store = new LmdbStore({ path: join(dir, 'backlog'), maxBacklogEvents: 100 });
    // LMDB transactions start at least 10 ms apart: the 300 appends below wait for the same
    // one, while the log fsyncs them at once.
    await store.append('j', [{ name: 'first', context: {} }]);
    let flushed = false;
    const appends = Array.from({ length: 300 }, (_, i) => store.append('j', [{ name: 'e', context: { i } }]));
    void store.flush().then(() => (flushed = true));
    const early: number[] = [];
    await Promise.all(
      appends.map((append, i) =>
        append.then(([event]) => {
          assert.equal(event!.seq, i + 2);
          if (!flushed) early.push(i + 1);
        }),
      ),
    );
    // At most the first 100 of the 300 are within the bound: the rest are acknowledged only once LMDB holds them.
    const late = early.filter((n) => n > 100);
    assert.equal(late.length, 0, `${late.length} appends past the bound (the first: #${late[0]}) were acknowledged before LMDB held them`);
    assert.deepEqual((await store.read('j', 0, 1000)).map((event) => event.seq), Array.from({ length: 301 }, (_, i) => i + 1));
    await store.close();
  });

  it('keeps at most maxCachedJournals idle journals in memory; a dropped one reloads its head and batch keys from disk', LIMIT, async () => {
    const store = new LmdbStore({ path: join(dir, 'lru'), maxCachedJournals: 3 });
    try {
      const first = new Map<string, StoredEvent[]>();
      for (let j = 0; j < 10; j++) {
        const journal = `lru-${j}`;
        first.set(journal, await store.append(journal, [{ name: 'a', context: { j } }], { key: `key-${j}` }));
        // A journal is idle, and may be dropped, once LMDB holds all of it.
        await store.flush();
        assert.ok(store.cachedJournals <= 3, `${store.cachedJournals} journals cached`);
      }
      // lru-0 was dropped long ago: the same key gives the stored batch back, and stores nothing.
      for (let j = 0; j < 10; j++) {
        const journal = `lru-${j}`;
        assert.deepEqual(await store.append(journal, [{ name: 'again', context: {} }], { key: `key-${j}` }), first.get(journal));
      }
      for (let j = 0; j < 10; j++) {
        const [next] = await store.append(`lru-${j}`, [{ name: 'b', context: {} }]);
        assert.equal(next!.seq, 2, 'seq goes on from the head on disk');
        assert.ok(next!.timestamp > first.get(`lru-${j}`)![0]!.timestamp);
        assert.deepEqual((await store.read(`lru-${j}`, 0, 10)).map((event) => event.name), ['a', 'b']);
      }
    } finally {
      await store.close();
    }
  });

  it('tells apart two batch keys with the same hash: each is stored once', LIMIT, async () => {
    const store = new LmdbStore({ path: join(dir, 'collide') });
    try {
      const [a, b] = collidingKeys();
      const first = await store.append('j', [{ name: 'a', context: {} }], { key: a });
      const second = await store.append('j', [{ name: 'b', context: {} }], { key: b });
      assert.deepEqual(second.map((event) => event.seq), [2], 'the second key is a new batch');
      assert.deepEqual(await store.append('j', [{ name: 'a-again', context: {} }], { key: a }), first);
      assert.deepEqual(await store.append('j', [{ name: 'b-again', context: {} }], { key: b }), second);
      assert.deepEqual((await store.read('j', 0, 10)).map((event) => event.name), ['a', 'b']);
    } finally {
      await store.close();
    }
  });

  it('never drops a journal with appends in flight: 40 journals × 5 concurrent appends with room for 2', LIMIT, async () => {
    const store = new LmdbStore({ path: join(dir, 'lru-busy'), maxCachedJournals: 2 });
    try {
      const all: Promise<StoredEvent[]>[] = [];
      for (let round = 0; round < 5; round++) {
        for (let j = 0; j < 40; j++) all.push(store.append(`busy-${j}`, [{ name: `r${round}`, context: {} }], { key: `k-${j}-${round}` }));
      }
      assert.ok(store.cachedJournals > 2, 'busy journals stay cached beyond the limit');
      await Promise.all(all);
      // Idle once LMDB holds every batch; the next transaction drops what is past the limit.
      await store.flush();
      await store.append('busy-0', [{ name: 'after', context: {} }]);
      await store.flush();
      assert.ok(store.cachedJournals <= 2, `${store.cachedJournals} journals cached once idle`);
      for (let j = 0; j < 40; j++) {
        const events = await store.read(`busy-${j}`, 0, 10);
        assert.deepEqual(events.map((event) => event.seq).slice(0, 5), [1, 2, 3, 4, 5]);
        assert.deepEqual(events.map((event) => event.name).slice(0, 5), ['r0', 'r1', 'r2', 'r3', 'r4']);
      }
    } finally {
      await store.close();
    }
  });

  it('keeps many journals across close and reopen', LIMIT, async () => {
    const path = join(dir, 'many');
    const store = new LmdbStore({ path });
    const pending: Promise<StoredEvent[]>[] = [];
    for (let round = 0; round < 5; round++) {
      for (let j = 0; j < 200; j++) {
        if (j % 5 >= round) pending.push(store.append(`journal-${j}`, [{ name: `r${round}`, context: { j, round } }]));
      }
    }
    const written = (await Promise.all(pending)).flat();
    await store.close();
    const reopened = new LmdbStore({ path });
    try {
      for (let j = 0; j < 200; j++) {
        const expected = written.filter((event) => (JSON.parse(event.json) as { context: { j: number } }).context.j === j);
        assert.equal(expected.length, (j % 5) + 1);
        assert.deepEqual(await reopened.read(`journal-${j}`, 0, 100), expected);
        assert.deepEqual(await reopened.head(`journal-${j}`), { seq: expected.length, timestamp: expected.at(-1)!.timestamp });
      }
    } finally {
      await reopened.close();
    }
  });

  it('pages through a 100,000-event journal', LIMIT, async () => {
    const store = new LmdbStore({ path: join(dir, 'big') });
    try {
      for (let chunk = 0; chunk < 10; chunk++) {
        const batches = Array.from({ length: 10 }, (_, b) =>
          store.append('big', Array.from({ length: 1000 }, (_, i) => ({ name: 'tick', context: { n: (chunk * 10 + b) * 1000 + i } }))),
        );
        await Promise.all(batches);
      }
      for (const limit of [1000, 997]) {
        let after = 0;
        let expected = 1;
        let pages = 0;
        for (;;) {
          const page = await store.read('big', after, limit);
          if (page.length === 0) break;
          assert.ok(page.length <= limit && page[0]!.timestamp > after);
          for (const event of page) assert.equal(event.seq, expected++);
          after = page.at(-1)!.timestamp;
          pages++;
        }
        assert.equal(expected - 1, 100_000);
        assert.equal(pages, Math.ceil(100_000 / limit));
      }
    } finally {
      await store.close();
    }
  });

  it('keeps every acknowledged event when the process is killed with SIGKILL', LIMIT, async () => {
    const path = join(dir, 'crash');
    const child = spawn(process.execPath, ['--input-type=module', '-e', CRASH_WRITER], {
      env: { ...process.env, STORE_MODULE: new URL('../server/lmdb-store.js', import.meta.url).href, STORE_PATH: path },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const acked: number[] = [];
    const enough = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        acked.push(Number(line));
        if (acked.length === 2000) resolve();
      });
      void exited.then(() => reject(new Error(`the writer exited after ${acked.length} acknowledgements`)));
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      await enough;
    } finally {
      clearTimeout(timer);
      child.kill('SIGKILL');
    }
    assert.equal(await exited, 'SIGKILL');
    const store = new LmdbStore({ path });
    try {
      const head = await store.head('crash');
      const maxAcked = Math.max(...acked);
      assert.ok(head.seq >= maxAcked, `head ${head.seq} lost acknowledged seq ${maxAcked}`);
      const all: StoredEvent[] = [];
      for (let after = 0; ; ) {
        const page = await store.read('crash', after, 5000);
        if (page.length === 0) break;
        assert.ok(page[0]!.timestamp > after);
        all.push(...page);
        after = page.at(-1)!.timestamp;
      }
      assert.deepEqual(all.map((event) => event.seq), Array.from({ length: head.seq }, (_, i) => i + 1));
      const [next] = await store.append('crash', [{ name: 'after', context: {} }]);
      assert.equal(next!.seq, head.seq + 1);
      assert.ok(next!.timestamp > all.at(-1)!.timestamp);
    } finally {
      await store.close();
    }
  });
});

/** Appends forever, 50 appends in flight, printing each acknowledged seq. */
const CRASH_WRITER = `
const { LmdbStore } = await import(process.env.STORE_MODULE);
const store = new LmdbStore({ path: process.env.STORE_PATH });
let n = 0;
const writer = async () => {
  for (;;) {
    const [event] = await store.append('crash', [{ name: 'e', context: { n: n++ } }]);
    process.stdout.write(event.seq + '\\n');
  }
};
for (let i = 0; i < 50; i++) void writer();
`;
