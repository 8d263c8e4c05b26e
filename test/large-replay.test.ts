import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LmdbStore } from '../server/lmdb-store.js';
import { EventLogConsumer } from '../src/index.js';
import { Latch, startServer } from './helpers.js';

const EVENTS = 200_000;
const context = { id: 'f3x', userid: 1000, urgency: 16, priority: 42, flags: 0 };

describe('replaying a history many times the send buffer', () => {
  for (const bufferHistory of [false, true]) {
    it(`completes, in order (bufferHistory: ${bufferHistory})`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'wsjournal-replay-'));
      // A dot in the directory name must not turn the store into a single file.
      const store = new LmdbStore({ path: join(dir, 'data.d') });
      const server = await startServer({ store, sendHighWaterMark: 64 * 1024 });
      try {
        for (let start = 0; start < EVENTS; start += 1000) {
          await store.append(
            'big',
            Array.from({ length: 1000 }, () => ({ name: 'submit', context })),
          );
        }
        const consumer = new EventLogConsumer(server.url, 'big', { bufferHistory, includeSentinel: true });
        const done = new Latch(1);
        let expected = 1;
        let outOfOrder = 0;
        consumer.setCallback((event) => {
          if (event === null) return;
          if (event.isEmpty()) return done.countDown();
          if (event.seq !== expected) outOfOrder++;
          expected = (event.seq ?? 0) + 1;
        });
        consumer.start();
        await done.wait(60_000, `the sentinel after ${EVENTS} events (got ${expected - 1})`);
        consumer.stop();
        assert.equal(outOfOrder, 0);
        assert.equal(expected - 1, EVENTS);
      } finally {
        await server.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
