/** Retention policies enforced by the server on MemoryStore, LmdbStore and RedisStore: each limit, the background rounds, server.trim(). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode } from '../src/errors.js';
import { JournalServer, type JournalServerOptions } from '../server/journal-server.js';
import { MemoryStore } from '../server/memory-store.js';
import type { JournalStore, StoredEvent } from '../server/store.js';
import { range, readAll } from './harness.js';
import { CountingSlicer, within } from './helpers.js';
import { RetentionWorker } from '../server/retention/retention-worker.js';
import { JournalPolicies } from '../server/journal-policies.js';
import { onEveryStore, type OpenStore } from './fixtures/stores.js';

const LIMIT = { timeout: 60_000 };

const seqsOf = (events: readonly StoredEvent[]) => events.map((event) => event.seq);

function registerRetention(kind: string, open: OpenStore): void {
  describe(`retention on ${kind}`, () => {
    /** A server (not listening unless asked) on a fresh store whose clock starts at `start` seconds. */
    const withServer =
      (journals: NonNullable<JournalServerOptions['journals']>, body: (server: JournalServer, store: JournalStore, clock: { now: number }) => Promise<void>, extra: JournalServerOptions = {}) =>
      async () => {
        const clock = { now: 1_700_000_000 * 1e6 };
        const { store, cleanup } = await open(() => clock.now);
        const server = new JournalServer({ port: 0, store, journals, logger: false, ...extra });
        try {
          await body(server, store, clock);
        } finally {
          await server.close();
          await cleanup();
        }
      };

    it('maxEvents keeps exactly the newest N', LIMIT, withServer({ 'jobs.*': { retention: { maxEvents: 10 } } }, async (server, store) => {
      for (let i = 0; i < 5; i++) await store.append('jobs.a', Array.from({ length: 9 }, (_, j) => ({ name: 'e', context: { i: i * 9 + j } })));
      await store.append('other', [{ name: 'e' }, { name: 'e' }]);
      await server.enforceRetention();
      assert.deepEqual(seqsOf(await readAll(store, 'jobs.a')), range(36, 45));
      assert.deepEqual(seqsOf(await readAll(store, 'other')), [1, 2], 'a journal without retention keeps everything');
      await server.enforceRetention();
      assert.deepEqual(seqsOf(await readAll(store, 'jobs.a')), range(36, 45), 'a second round removes nothing more');
    }));

    it('maxAge removes events older than that many seconds, keeping the newest always', LIMIT, withServer({ j: { retention: { maxAge: 60 } } }, async (server, store, clock) => {
      for (let i = 0; i < 10; i++) {
        await store.append('j', [{ name: 'e', context: { i } }]);
        clock.now += 10e6;
      }
      // Events at 0, 10, …, 90 s; now is 100 s: those before 40 s go.
      await enforceAt(server, clock.now / 1e6);
      assert.deepEqual(seqsOf(await readAll(store, 'j')), range(5, 10));
      clock.now += 1000e6;
      await enforceAt(server, clock.now / 1e6);
      assert.deepEqual(seqsOf(await readAll(store, 'j')), [10], 'an idle journal keeps its newest event');
    }));

    it('maxBytes keeps the newest events that fit, as more come', LIMIT, withServer({ j: { retention: { maxBytes: 2000 } } }, async (server, store) => {
      /** The newest events of `all` whose JSON adds up to 2000 bytes at most. */
      const fitting = (all: readonly StoredEvent[]) => {
        let bytes = 0;
        let from = all.length;
        while (from > 0 && bytes + Buffer.byteLength(all[from - 1]!.json) <= 2000) bytes += Buffer.byteLength(all[--from]!.json);
        return seqsOf(all.slice(from));
      };
      await store.append('j', Array.from({ length: 100 }, (_, i) => ({ name: 'e', context: { i } })));
      let expected = fitting(await readAll(store, 'j'));
      assert.ok(expected.length > 10 && expected.length < 90);
      await server.enforceRetention();
      assert.deepEqual(seqsOf(await readAll(store, 'j')), expected);
      await store.append('j', Array.from({ length: 30 }, (_, i) => ({ name: 'e', context: { i, pad: 'x'.repeat(i) } })));
      expected = fitting(await readAll(store, 'j'));
      await server.enforceRetention();
      assert.deepEqual(seqsOf(await readAll(store, 'j')), expected);
      // A trim by hand in between: the size is counted again.
      await server.trim('j', { beforeSeq: 125 });
      await store.append('j', Array.from({ length: 30 }, (_, i) => ({ name: 'e', context: { i } })));
      expected = fitting(await readAll(store, 'j'));
      await server.enforceRetention();
      assert.deepEqual(seqsOf(await readAll(store, 'j')), expected);
    }));

    it('enforces in the background every retentionInterval while listening', LIMIT, withServer({ j: { retention: { maxEvents: 3 } } }, async (server, store) => {
      await store.append('j', Array.from({ length: 20 }, () => ({ name: 'e' })));
      await server.listen();
      await within((async () => {
        while ((await store.start('j')).first.seq !== 18) await new Promise((resolve) => setTimeout(resolve, 10));
      })(), 5000, 'a background round');
      assert.deepEqual(seqsOf(await readAll(store, 'j')), [18, 19, 20]);
    }, { retentionInterval: 0.02 }));

    it('server.trim answers { trimmed } and refuses bad input with a code', LIMIT, withServer({}, async (server, store) => {
      await store.append('j', Array.from({ length: 20 }, () => ({ name: 'e' })));
      assert.deepEqual(await server.trim('j', { beforeSeq: 6 }), { trimmed: 5 });
      await assert.rejects(server.trim('bad name', { beforeSeq: 6 }), { code: ErrorCode.INVALID_JOURNAL });
      await assert.rejects(server.trim('j', {}), { code: ErrorCode.BAD_REQUEST });
      assert.deepEqual(seqsOf(await readAll(store, 'j')), range(6, 20));
    }));
  });
}

/** One retention round as if the wall clock read `seconds`. */
async function enforceAt(server: JournalServer, seconds: number): Promise<void> {
  const realNow = Date.now;
  Date.now = () => seconds * 1000;
  try {
    await server.enforceRetention();
  } finally {
    Date.now = realNow;
  }
}

describe('retention options', () => {
  it('refuses a bad retention policy or interval at construction, naming it', LIMIT, () => {
    const bad: [JournalServerOptions, RegExp][] = [
      [{ journals: { j: { retention: { maxAge: -1 } } } }, /retention\.maxAge/],
      [{ journals: { j: { retention: { maxEvents: 1.5 } } } }, /retention\.maxEvents/],
      [{ journals: { j: { retention: { maxBytes: 0 } } } }, /retention\.maxBytes/],
      [{ journals: { j: { retention: { archive: 'yes' as unknown as boolean } } } }, /retention\.archive/],
      [{ journals: { j: { retention: { maxRows: 1 } as never } } }, /maxRows/],
      [{ retentionInterval: 0 }, /retentionInterval/],
    ];
    for (const [options, message] of bad) assert.throws(() => new JournalServer({ store: new MemoryStore(), ...options }), message);
  });
});

describe('retention rounds', () => {
  it('read the store a slice at a time through the scheduler, and keep what maxBytes allows', LIMIT, async () => {
    const store = new MemoryStore();
    const stored = await store.append('j', Array.from({ length: 3_000 }, (_, i) => ({ name: 'e', context: { i } })));
    const scheduler = new CountingSlicer();
    const removed: number[] = [];
    const worker = new RetentionWorker({
      store,
      policies: new JournalPolicies({ j: { retention: { maxBytes: 10_000 } } }),
      interval: 60_000,
      scheduler,
      remove: async (journal, beforeSeq) => {
        removed.push(beforeSeq);
        return (await store.trim(journal, { beforeSeq })).trimmed;
      },
    });
    await worker.runOnce();
    await worker.close();
    scheduler.close();
    // Sizing the journal (3,000 events) and finding the cut each read 256 events a slice.
    assert.ok(scheduler.slices >= 3_000 / 256, `${scheduler.slices} slices`);
    let bytes = 0;
    let from = stored.length;
    while (from > 0 && bytes + Buffer.byteLength(stored[from - 1]!.json) <= 10_000) bytes += Buffer.byteLength(stored[--from]!.json);
    assert.deepEqual(removed, [stored[from]!.seq]);
    assert.deepEqual(seqsOf(await readAll(store, 'j')), seqsOf(stored.slice(from)));
  });
});

await onEveryStore({ title: 'retention', file: 'test/retention.test.ts', tag: 'retention' }, registerRetention);
