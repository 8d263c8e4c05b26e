/**
 * `consumer.pages()` (SPEC section 8): arrays of events as they arrive, in order, bounded,
 * nothing repeated or lost across the history→live switch while a writer appends.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JournalEvent } from '../src/journal-event.js';
import { Harness, range } from './harness.js';
import { SENTINEL } from './client-assertions.js';

describe('consumer.pages()', () => {
  for (const bufferHistory of [true, false]) {
    it(`gives every event once, in order, in pages of at most maxPageSize, across the history→live switch (bufferHistory: ${bufferHistory})`, async (t) => {
      const h = await Harness.start(t);
      const producer = h.producer('paged');
      const HISTORY = 2500;
      const LIVE = 1500;
      for (let i = 0; i < HISTORY; i += 500) {
        await producer.appendMany(Array.from({ length: 500 }, (_, j) => ({ name: 'history', context: { n: i + j + 1 } })));
      }
      const consumer = h.consumer('paged', { includeSentinel: true, bufferHistory });
      // A writer appends while the consumer subscribes and replays.
      const writing = (async () => {
        for (let n = HISTORY + 1; n <= HISTORY + LIVE; n += 10) {
          await producer.appendMany(Array.from({ length: 10 }, (_, j) => ({ name: 'live', context: { n: n + j } })));
        }
      })();
      const seen: JournalEvent[] = [];
      const sizes: number[] = [];
      let sentinelAt = -1;
      for await (const page of consumer.pages({ maxPageSize: 300 })) {
        assert.ok(page.length >= 1 && page.length <= 300, `a page of ${page.length}`);
        if (page.includes(SENTINEL)) {
          assert.equal(page.length, 1, 'the sentinel comes alone');
          assert.equal(sentinelAt, -1, 'one sentinel');
          sentinelAt = seen.length;
          continue;
        }
        sizes.push(page.length);
        seen.push(...page);
        if (seen.length >= HISTORY + LIVE) break;
      }
      await writing;
      assert.deepEqual(seen.map((event) => event.seq), range(1, HISTORY + LIVE));
      assert.deepEqual(seen.map((event) => event.context['n']), range(1, HISTORY + LIVE));
      assert.ok(sentinelAt >= HISTORY, `the sentinel after the history (at ${sentinelAt})`);
      assert.ok(sizes.some((size) => size > 1), 'events that arrived together come together');
      assert.equal(consumer.lastTimestamp, seen.at(-1)!.timestamp);
      // Leaving the loop stopped the consumer.
      assert.equal(await consumer.poll(1), null);
    });
  }

  it('ends once a stopped consumer has handed over what it received, and refuses bad options', async (t) => {
    const h = await Harness.start(t);
    await h.server.append('short', 'a');
    await h.server.append('short', 'b');
    const consumer = h.consumer('short');
    assert.throws(() => consumer.pages({ maxPageSize: 0 }), RangeError);
    assert.throws(() => consumer.pages({ size: 3 } as never), /options\.size is not a known option/);
    const pages: (string | undefined)[][] = [];
    consumer.once('sentinel', () => setImmediate(() => consumer.stop()));
    for await (const page of consumer.pages()) pages.push(page.map((event) => event.name));
    assert.deepEqual(pages.flat(), ['a', 'b']);
  });
});
