/**
 * LmdbStore's record layout (server/lmdb-records.ts): chunks of events keyed
 * by their last event, read back from any position, and the one-event records
 * of earlier versions read alongside them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { open } from 'lmdb';
import { formatMicros } from '../server/encode.js';
import { LmdbStore } from '../server/lmdb-store.js';
import { CHUNK_EVENTS, CHUNK_UNITS, ChunkWriter, RecordReader } from '../server/lmdb-records.js';
import type { StoredEvent } from '../server/store.js';

const LIMIT = { timeout: 60_000 };

async function scratch(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wsjournal-records-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every event of `journal`, read in pages of `limit` from the start. */
async function readAll(store: LmdbStore, journal: string, limit: number): Promise<StoredEvent[]> {
  const all: StoredEvent[] = [];
  for (let after = 0; ; ) {
    const page = await store.read(journal, after, limit);
    if (page.length === 0) return all;
    all.push(...page);
    after = page.at(-1)!.timestamp;
  }
}

describe('ChunkWriter and RecordReader', () => {
  it('read back every event in order, across chunk boundaries, whatever the values hold', LIMIT, () => {
    // Mostly small values, so that runs of them fill chunks to CHUNK_EVENTS; now and then one near a chunk's size.
    const value = fc.oneof(
      { arbitrary: fc.string({ maxLength: 40 }), weight: 30 },
      // Any code point, so that chunks of many multi-byte characters outgrow a one-byte-per-unit estimate.
      { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 10 },
      { arbitrary: fc.constantFrom('k3:1:x1:1:a{}', ':::', '~1:', 'é😀\n\t', ''), weight: 10 },
      { arbitrary: fc.integer({ min: -10, max: 10 }).map((n) => 'y'.repeat(CHUNK_UNITS + n)), weight: 1 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), value), { minLength: 1, maxLength: 3 * CHUNK_EVENTS, size: 'max' }), fc.nat(1e12), (entries, start) => {
        const chunks: [number, string][] = [];
        const writer = new ChunkWriter((last, chunk) => chunks.push([last, chunk]));
        let micros = start;
        const written: [number, string][] = [];
        for (const [step, text] of entries) {
          micros += step;
          writer.add(micros, text);
          written.push([micros, text]);
        }
        writer.end();
        const read: [number, string][] = [];
        const reader = new RecordReader();
        for (const [last, chunk] of chunks) {
          reader.reset(last, chunk);
          const before = read.length;
          while (reader.next()) read.push([reader.micros, chunk.slice(reader.start, reader.end)]);
          assert.equal(read.at(-1)![0], last, 'a chunk is keyed by its last event');
          const count = read.length - before;
          const units = read.slice(before).reduce((sum, [, text]) => sum + text.length, 0);
          assert.ok(count <= CHUNK_EVENTS && (units <= CHUNK_UNITS || count === 1), `a chunk of ${count} events and ${units} units`);
        }
        assert.deepEqual(read, written);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps a chunk of values of multi-byte characters whole', LIMIT, () => {
    const chunks: [number, string][] = [];
    const writer = new ChunkWriter((last, chunk) => chunks.push([last, chunk]));
    const written = Array.from({ length: CHUNK_EVENTS }, (_, i): [number, string] => [1000 + i, `${'é'.repeat(100)}${'😀'.repeat(i % 7)}✓`]);
    for (const [micros, value] of written) writer.add(micros, value);
    writer.end();
    assert.equal(chunks.length, 1);
    const reader = new RecordReader().reset(chunks[0]![0], chunks[0]![1]);
    const read: [number, string][] = [];
    while (reader.next()) read.push([reader.micros, chunks[0]![1].slice(reader.start, reader.end)]);
    assert.deepEqual(read, written);
  });

  it('read an earlier version\'s one-event value as one event at its key', LIMIT, () => {
    const reader = new RecordReader().reset(1_700_000_000_123_456, '7:6:submit{"name":"submit"}');
    assert.equal(reader.next(), true);
    assert.equal(reader.micros, 1_700_000_000_123_456);
    assert.deepEqual(reader.event(), { seq: 7, timestamp: 1_700_000_000.123456, name: 'submit', json: '{"name":"submit"}' });
    assert.equal(reader.next(), false);
  });
});

describe('LmdbStore in chunks', () => {
  it('reads a transaction of many events and of events larger than a chunk from any position', LIMIT, async (t) => {
    const path = await scratch(t);
    const store = new LmdbStore({ path });
    try {
      // Appends of one turn share a transaction: 3 × 150 events and two events over a chunk's size.
      const big = 'x'.repeat(CHUNK_UNITS + 100);
      const batches = [
        store.append('j', Array.from({ length: 150 }, (_, i) => ({ name: 'a', context: { i } }))),
        store.append('j', [{ name: 'big', context: { big } }, { name: 'big', context: { big } }]),
        store.append('j', Array.from({ length: 150 }, (_, i) => ({ name: 'b', context: { i } })), { key: 'middle' }),
        store.append('j', Array.from({ length: 150 }, (_, i) => ({ name: 'c', context: { i } }))),
      ];
      const appended = (await Promise.all(batches)).flat();
      await store.flush();
      for (const limit of [1, 7, 100, 128, 129, 1000]) assert.deepEqual(await readAll(store, 'j', limit), appended, `pages of ${limit}`);
      for (const from of [0, 1, 127, 128, 129, 150, 151, 152, 300, 451]) {
        const after = from === 0 ? 0 : appended[from - 1]!.timestamp;
        assert.deepEqual(await store.read('j', after, 5), appended.slice(from, from + 5), `after event ${from}`);
        // Between two events: the first microsecond after `after` is not one of them.
        assert.deepEqual(await store.read('j', after + 0.0000004, 5), appended.slice(from, from + 5), `just after event ${from}`);
      }
      // The keyed batch starts inside a chunk; its key is found again, here and after a reopen.
      const keyed = appended.slice(152, 302);
      assert.deepEqual(await store.append('j', [{ name: 'again', context: {} }], { key: 'middle' }), keyed);
      await store.close();
      const reopened = new LmdbStore({ path });
      try {
        assert.deepEqual(await reopened.append('j', [{ name: 'again', context: {} }], { key: 'middle' }), keyed);
        assert.deepEqual(await readAll(reopened, 'j', 100), appended);
        assert.deepEqual(await reopened.head('j'), { seq: 452, timestamp: appended.at(-1)!.timestamp });
      } finally {
        await reopened.close();
      }
    } finally {
      await store.close();
    }
  });

  it('reads, goes on from, and finds the batch keys of a journal an earlier version stored one event per record', LIMIT, async (t) => {
    const path = await scratch(t);
    const base = 1_700_000_000_000_000;
    const legacy: StoredEvent[] = [];
    const root = open({ path, noSubdir: false });
    const events = root.openDB<string, [string, number]>({ name: 'events', encoding: 'string' });
    const heads = root.openDB<[number, number], string>({ name: 'heads', useVersions: true });
    await root.transaction(() => {
      for (let seq = 1; seq <= 5; seq++) {
        const micros = base + seq * 10;
        const json = `{"name":"old","timestamp":${formatMicros(micros)},"context":{"n":${seq}},"seq":${seq}}`;
        legacy.push({ seq, timestamp: micros / 1e6, name: 'old', json });
        // Events 2-3 were a keyed batch: its key rode in front of its first event.
        void events.put(['j', micros], `${seq === 2 ? 'k2:6:legacy' : ''}${seq}:3:old${json}`);
      }
      void heads.put('j', [5, base + 50]);
    });
    await root.close();

    const store = new LmdbStore({ path });
    try {
      assert.deepEqual(await store.read('j', 0, 10), legacy);
      assert.deepEqual(await store.read('j', legacy[2]!.timestamp, 10), legacy.slice(3));
      assert.deepEqual(await store.head('j'), { seq: 5, timestamp: legacy[4]!.timestamp });
      assert.deepEqual(await store.append('j', [{ name: 'resent', context: {} }], { key: 'legacy' }), legacy.slice(1, 3));
      const added = await store.append('j', [{ name: 'new', context: {} }, { name: 'new', context: {} }], { key: 'new' });
      assert.deepEqual(added.map((event) => event.seq), [6, 7]);
      await store.flush();
      assert.deepEqual(await readAll(store, 'j', 3), [...legacy, ...added]);
      assert.deepEqual(await store.read('j', legacy[4]!.timestamp, 10), added);
    } finally {
      await store.close();
    }
    const reopened = new LmdbStore({ path });
    try {
      assert.deepEqual(await reopened.append('j', [{ name: 'resent', context: {} }], { key: 'legacy' }), legacy.slice(1, 3));
      assert.equal((await reopened.append('j', [{ name: 'resent', context: {} }], { key: 'new' }))[0]!.seq, 6);
    } finally {
      await reopened.close();
    }
  });
});

describe('formatMicros', () => {
  it('prints a timestamp exactly as String(micros / 1e6) does', LIMIT, () => {
    for (const micros of [0, 1, 9, 10, 100_000, 999_999, 1_000_000, 1_000_001, 1_500_000, 1_700_000_000_000_000, 1_700_000_000_100_000]) {
      assert.equal(formatMicros(micros), String(micros / 1e6), `${micros}`);
    }
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 1_500_000_000_000_000, max: 2_500_000_000_000_000 }), fc.maxSafeNat()), (micros) => {
        assert.equal(formatMicros(micros), String(micros / 1e6));
      }),
      { numRuns: 20_000 },
    );
  });
});
