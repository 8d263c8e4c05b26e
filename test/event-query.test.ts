/** One page of a query (server/query/event-query.ts): slices of the scan end after a few ms of filtering, inside a read. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryStore } from '../server/memory-store.js';
import { queryPage } from '../server/query/event-query.js';
import type { StoredEvent } from '../server/store.js';
import { CountingSlicer } from './helpers.js';

/** A filter that costs `ms` of CPU per event (as parsing a large event's JSON would) and keeps every seventh. */
function costlyFilter(ms: number): (event: StoredEvent) => boolean {
  return (event) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
    return event.seq % 7 === 0;
  };
}

describe('queryPage', () => {
  for (const order of ['asc', 'desc'] as const) {
    it(`(${order}) ends a slice after a few ms of filtering, inside a read, and the next slice reads on from there`, async () => {
      const store = new MemoryStore();
      await store.append('j', Array.from({ length: 200 }, (_, i) => ({ name: 'e', context: { i } })));
      const scheduler = new CountingSlicer();
      // One read holds every event; each event costs 0.3 ms, so 16 events pass the 2 ms of a slice.
      const page = await queryPage(store, 'j', { limit: 1000, order }, costlyFilter(0.3), {
        maxUnits: Infinity,
        timeMs: 60_000,
        readSize: 256,
        scheduler,
        owner: 'test',
      });
      const sevenths = Array.from({ length: 28 }, (_, k) => 7 * (k + 1));
      const seqs = page.events.map((json) => (JSON.parse(json) as { seq: number }).seq);
      assert.deepEqual(seqs, order === 'asc' ? sevenths : sevenths.reverse());
      assert.equal(page.next, null);
      assert.ok(scheduler.slices >= 200 / 16, `${scheduler.slices} slices for 200 events`);
      scheduler.close();
    });
  }
});
