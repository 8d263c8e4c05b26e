/**
 * No gap and no duplicate at the history→live switch (SPEC section 4.1):
 * consumers subscribe one after another while a producer appends as fast as
 * it can; each must see every event exactly once, in order, with exactly one
 * sentinel between the history it replayed and the live events that followed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JournalServerOptions } from '../server/journal-server.js';
import type { StoredEvent } from '../server/store.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalConsumerOptions } from '../src/journal-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { Harness, YieldingStore, range, readAll, type TestContextLike } from './harness.js';
import { within } from './helpers.js';

const J = 'race';
const SENTINEL = EventLogConsumer.SENTINEL_EVENT;

interface RaceOptions {
  consumers?: number;
  /** Events the writer appends at least; it keeps going until every consumer has subscribed. */
  total?: number;
  server?: JournalServerOptions;
  consumer?: JournalConsumerOptions;
}

/** What one consumer saw. */
interface Seen {
  readonly consumer: EventLogConsumer;
  readonly events: JournalEvent[];
  sentinels: number[];
  head: number;
  /** Resolves once the consumer has seen `target` events (set when the writer is done). */
  target: number;
  reached: () => void;
  done: Promise<void>;
}

/** Compares what a consumer saw with the full read, stopping at the first difference. */
function checkConsumer(index: number, seen: Seen, reference: readonly StoredEvent[]): void {
  const who = `consumer ${index}`;
  assert.deepEqual(seen.sentinels.length, 1, `${who}: ${seen.sentinels.length} sentinels`);
  const events = seen.events;
  const seqSet = new Set(events.map((event) => event.seq));
  const missing = reference.filter((event) => !seqSet.has(event.seq)).length;
  const duplicates = events.length - seqSet.size;
  assert.ok(
    missing === 0 && duplicates === 0 && events.length === reference.length,
    `${who}: ${events.length} events for ${reference.length} in the journal, ${missing} missing, ${duplicates} duplicated`,
  );
  for (let i = 0; i < reference.length; i++) {
    const got = events[i]!;
    const want = reference[i]!;
    if (got.seq !== want.seq || got.timestamp !== want.timestamp || got.name !== want.name) {
      assert.fail(`${who}: event ${i} is seq ${got.seq} @${got.timestamp}, expected seq ${want.seq} @${want.timestamp}`);
    }
  }
  // The sentinel sits between history and live: every event up to the head the
  // subscription reported is history, and the events after the sentinel are the rest.
  const at = seen.sentinels[0]!;
  assert.ok(at >= seen.head, `${who}: sentinel after ${at} events, but history ran to seq ${seen.head}`);
  assert.ok(seen.head < reference.length, `${who}: subscribed at head ${seen.head}, after the writer stopped: no race`);
}

async function race(t: TestContextLike, options: RaceOptions = {}): Promise<void> {
  const { consumers = 20, total = 20_000 } = options;
  // Reads that yield, like a real store's, let appends land while history replays.
  const h = await Harness.start(t, { store: new YieldingStore(), ...options.server });
  const producer = h.producer(J);
  const seen: Seen[] = [];
  let subscribed = 0;

  const startConsumer = (): void => {
    const consumer = h.consumer(J, { includeSentinel: true, ...options.consumer });
    const entry = { consumer, events: [], sentinels: [], head: -1, target: Infinity } as unknown as Seen;
    entry.done = new Promise<void>((resolve) => (entry.reached = resolve));
    consumer.once('subscribed', (head) => {
      entry.head = head.seq;
      subscribed++;
    });
    consumer.setCallback((event) => {
      if (event === null) return;
      if (event === SENTINEL) entry.sentinels.push(entry.events.length);
      else entry.events.push(event);
      if (entry.events.length >= entry.target) entry.reached();
    });
    consumer.start();
    seen.push(entry);
  };

  // The writer: batches and single appends, not awaited one by one, a window at a time.
  let appended = 0;
  let round = 0;
  let extraWindows = 1;
  for (;;) {
    const window: Promise<unknown>[] = [];
    for (let op = 0; op < 32; op++, round++) {
      if (round % 4 === 0) {
        const size = 1 + (round % 50);
        window.push(producer.appendMany(range(1, size).map((i) => ({ name: 'batch', context: { round, i } }))));
        appended += size;
      } else {
        window.push(producer.append('single', { round }));
        appended++;
      }
    }
    while (seen.length < consumers && appended >= ((seen.length + 1) * total) / (consumers + 1)) startConsumer();
    await Promise.all(window);
    if (appended >= total && seen.length === consumers && subscribed === consumers && extraWindows-- === 0) break;
  }

  const reference = await readAll(h.server.store, J);
  assert.equal(reference.length, appended);
  assert.deepEqual(
    reference.map((event) => event.seq),
    range(1, appended),
  );
  for (const entry of seen) {
    entry.target = reference.length;
    if (entry.events.length >= entry.target) entry.reached();
  }
  await within(
    Promise.all(seen.map((entry) => entry.done)),
    60_000,
    `every consumer to see all ${reference.length} events (they saw ${seen.map((entry) => entry.events.length).join(', ')})`,
  );
  seen.forEach((entry, index) => checkConsumer(index, entry, reference));
}

describe('the history→live switch under a flat-out writer', () => {
  it('20 consumers subscribing one after another each see every event exactly once, in order, one sentinel in place', async (t) => {
    await race(t);
  });

  it('the same with bufferHistory: false', async (t) => {
    await race(t, { consumer: { bufferHistory: false } });
  });

  it('the same with a server liveHoldSize of 10, so the hold overflows and history reads on from the store', async (t) => {
    await race(t, { server: { liveHoldSize: 10, pageSize: 50 } });
  });
});
