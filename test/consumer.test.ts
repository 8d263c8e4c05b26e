/**
 * EventLogConsumer against a real server on port 0, in the manner of Flux's
 * own journal consumer tests (t/python/t0032-job-journal.py and friends):
 * history in order, the sentinel in its place, live events after it, `since`,
 * callbacks, poll and iteration (SPEC section 2). Subclasses, buffering modes,
 * restarts and shared connections are in consumer-modes.test.ts; the
 * producer in producer.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, JournalError, NotStartedError, TimeoutError } from '../src/errors.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalConsumer } from '../src/journal-consumer.js';
import { JournalEvent } from '../src/journal-event.js';
import { GatedStore, Harness, pollUntil, range, turn } from './harness.js';
import { Latch, once, pollMany, within } from './helpers.js';
import { assertStrictlyIncreasing, collectCallback, J, SENTINEL, seed, seqs } from './client-assertions.js';

describe('history, sentinel and live events', () => {
  it('replays history in timestamp order, seq 1..N, then the sentinel, then live events', async (t) => {
    const h = await Harness.start(t);
    const appended = await seed(h.server, 25);
    const consumer = h.consumer(J, { includeSentinel: true }).start();
    const history = await pollMany(consumer, 25);
    assert.deepEqual(seqs(history), range(1, 25));
    assert.deepEqual(
      history.map((event) => [event.name, event.timestamp, event.context]),
      appended.map((result, i) => ['e', result.timestamp, { i: i + 1 }]),
    );
    assertStrictlyIncreasing(history);
    assert.equal(await consumer.poll(5), SENTINEL);

    const producer = h.producer(J);
    const live = await producer.appendMany([{ name: 'live', context: { n: 1 } }, { name: 'live', context: { n: 2 } }]);
    await producer.append('live', { n: 3 });
    const after = await pollMany(consumer, 3);
    assert.deepEqual(seqs(after), [26, 27, 28]);
    assert.deepEqual(after.slice(0, 2).map((event) => event.timestamp), live.map((result) => result.timestamp));
    assert.deepEqual(after.map((event) => event.context), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  });

  it('starts with the sentinel on an empty journal, then follows live events', async (t) => {
    const h = await Harness.start(t);
    const consumer = h.consumer('empty', { includeSentinel: true }).start();
    assert.equal(await consumer.poll(5), SENTINEL);
    await h.server.append('empty', 'first');
    assert.deepEqual(seqs(await pollMany(consumer, 1)), [1]);
  });

  it('delivers only events after `since`: since = event k gives exactly k+1..N', async (t) => {
    const h = await Harness.start(t);
    const appended = await seed(h.server, 12);
    for (const k of [1, 5, 11]) {
      const consumer = h.consumer(J, { since: appended[k - 1]!.timestamp, includeSentinel: true }).start();
      const events = await pollUntil(consumer, (event) => event === SENTINEL);
      assert.deepEqual(seqs(events), [...range(k + 1, 12), 'S'], `since event ${k}`);
      consumer.stop();
    }
  });

  it('with since = the newest event, history is empty and only the sentinel and live events come', async (t) => {
    const h = await Harness.start(t);
    const appended = await seed(h.server, 4);
    const consumer = h.consumer(J, { since: appended[3]!.timestamp, includeSentinel: true }).start();
    assert.equal(await consumer.poll(5), SENTINEL);
    await h.server.append(J, 'next');
    assert.deepEqual(seqs(await pollMany(consumer, 1)), [5]);
  });

  it('without full, delivers only events appended after subscribed, and no sentinel even with includeSentinel', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 5);
    const consumer = h.consumer(J, { full: false, includeSentinel: true });
    let sentinels = 0;
    consumer.on('sentinel', () => sentinels++);
    const subscribed = once<[{ seq: number; timestamp: number }]>(consumer, 'subscribed');
    consumer.start();
    const [head] = await subscribed;
    assert.equal(head.seq, 5);
    await seed(h.server, 3, J, 'live', 6);
    const events = await pollMany(consumer, 3);
    // A sentinel would have come before these live events: its absence here is final.
    assert.deepEqual(seqs(events), [6, 7, 8]);
    assert.equal(sentinels, 0);
    assert.ok(events.every((event) => event !== SENTINEL));
  });

  it("an append after 'subscribed' is certain to be seen without full (10 times over)", async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer(J);
    for (let round = 1; round <= 10; round++) {
      const consumer = h.consumer(J, { full: false });
      const subscribed = once(consumer, 'subscribed');
      consumer.start();
      await subscribed;
      const { seq } = await producer.append('after-subscribed', { round });
      const [event] = await pollMany(consumer, 1);
      assert.equal(event!.seq, seq);
      assert.deepEqual(event!.context, { round });
      consumer.stop();
    }
  });

  it('timestamps strictly increase and seq is contiguous across history and live, with appends racing the subscription', async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer(J);
    const total = 600;
    const consumer = h.consumer(J, { includeSentinel: true });
    let head = -1;
    consumer.once('subscribed', (subscribedHead) => (head = subscribedHead.seq));
    await producer.appendMany(range(1, 200).map((n) => ({ name: 'w', context: { n } })));
    consumer.start();
    // Keep appending, one batch at a time, while the consumer connects and subscribes.
    for (let n = 200; n < total; n += 10) {
      await producer.appendMany(range(1, 10).map((i) => ({ name: 'w', context: { n: n + i } })));
    }
    const events: JournalEvent[] = [];
    let sentinelAt = -1;
    while (sentinelAt < 0 || events.at(-1)?.seq !== total) {
      const event = await consumer.poll(5);
      assert.ok(event !== null);
      if (event === SENTINEL) sentinelAt = events.length;
      events.push(event);
    }
    assert.ok(head >= 200, `subscribed at head ${head}`);
    assert.ok(sentinelAt >= head, `sentinel after ${sentinelAt} events, before the history up to head ${head}`);
    const real = events.filter((event) => event !== SENTINEL);
    assert.equal(events.length - real.length, 1, 'exactly one sentinel');
    assert.deepEqual(seqs(real), range(1, total));
    assertStrictlyIncreasing(real);
    assert.deepEqual(
      real.map((event) => event.context['n']),
      range(1, total),
    );
  });
});

describe('the sentinel', () => {
  it('is delivered by poll as the very object EventLogConsumer.SENTINEL_EVENT === JournalConsumer.SENTINEL_EVENT, once', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 3);
    const consumer = h.consumer(J, { includeSentinel: true });
    let emitted = 0;
    consumer.on('sentinel', () => emitted++);
    consumer.start();
    const events = await pollMany(consumer, 4);
    assert.equal(events[3], EventLogConsumer.SENTINEL_EVENT);
    assert.equal(events[3], JournalConsumer.SENTINEL_EVENT);
    assert.ok(events[3]!.isEmpty());
    await seed(h.server, 3, J, 'live', 4);
    const live = await pollMany(consumer, 3);
    assert.deepEqual(seqs([...events, ...live]), [1, 2, 3, 'S', 4, 5, 6]);
    assert.equal(emitted, 1);
  });

  it('is delivered to a callback between history and live, once', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 3);
    const consumer = h.consumer(J, { includeSentinel: true });
    const { seen, latch } = collectCallback(consumer, 6);
    consumer.start();
    await once(consumer, 'sentinel');
    await seed(h.server, 2, J, 'live', 4);
    await latch.wait(5000, 'three history events, the sentinel and two live events');
    assert.deepEqual(seqs(seen), [1, 2, 3, 'S', 4, 5]);
    assert.equal(seen[3], JournalConsumer.SENTINEL_EVENT);
  });

  it("is not delivered without includeSentinel, though 'sentinel' is still emitted once", async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 3);
    const consumer = h.consumer(J);
    let emitted = 0;
    consumer.on('sentinel', () => emitted++);
    consumer.start();
    await once(consumer, 'sentinel');
    await seed(h.server, 2, J, 'live', 4);
    const events = await pollMany(consumer, 5);
    assert.deepEqual(seqs(events), [1, 2, 3, 4, 5]);
    assert.equal(emitted, 1);
  });
});

describe('callbacks', () => {
  it('set before start: every event goes to cb(event, a, b) in order, then cb(null, a, b) after stop(), once', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 4);
    const a = { tag: 'a' };
    const b = ['b'];
    const consumer = h.consumer(J, { includeSentinel: true });
    const calls: unknown[][] = [];
    const lastTimestamps: boolean[] = [];
    const got = new Latch(7);
    const ended = new Latch(1);
    consumer.setCallback(
      (event, ...args) => {
        calls.push([event, ...args]);
        if (event && event !== SENTINEL) lastTimestamps.push(consumer.lastTimestamp === event.timestamp);
        if (event === null) ended.countDown();
        else got.countDown();
      },
      a,
      b,
    );
    assert.equal(consumer.start(), consumer);
    await once(consumer, 'sentinel');
    await seed(h.server, 2, J, 'live', 5);
    await got.wait(5000, 'four history events, the sentinel, two live events');
    consumer.stop();
    await ended.wait(5000, 'cb(null, a, b)');
    assert.deepEqual(seqs(calls.map((call) => call[0] as JournalEvent | null)), [1, 2, 3, 4, 'S', 5, 6, 'null']);
    for (const call of calls) {
      assert.equal(call.length, 3);
      assert.equal(call[1], a);
      assert.equal(call[2], b);
    }
    assert.ok(lastTimestamps.every(Boolean), 'lastTimestamp is the event being handed over');
    consumer.stop();
    await turn();
    assert.equal(calls.length, 8, 'a second stop() makes no second null');
  });

  it('set after start: receives the events already queued, then the live ones', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 5);
    const consumer = h.consumer(J).start();
    await once(consumer, 'sentinel');
    const seen: JournalEvent[] = [];
    const got = new Latch(7);
    consumer.setCallback((event) => {
      if (event) seen.push(event);
      got.countDown();
    });
    await seed(h.server, 2, J, 'live', 6);
    await got.wait(5000, 'seven events');
    assert.deepEqual(seqs(seen), range(1, 7));
  });

  it('a replaced callback receives nothing more: the new one gets the rest and the final null', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 3);
    const consumer = h.consumer(J);
    const first: (JournalEvent | null)[] = [];
    const second: (JournalEvent | null)[] = [];
    const firstGot = new Latch(3);
    const secondGot = new Latch(3);
    const secondNull = new Latch(1);
    consumer.setCallback((event) => {
      first.push(event);
      firstGot.countDown();
    });
    consumer.start();
    await firstGot.wait(5000, 'the first callback to get the history');
    consumer.setCallback((event) => {
      second.push(event);
      if (event === null) secondNull.countDown();
      else secondGot.countDown();
    });
    await seed(h.server, 3, J, 'live', 4);
    await secondGot.wait(5000, 'the second callback to get the live events');
    consumer.stop();
    await secondNull.wait(5000, 'the null to reach the second callback');
    assert.deepEqual(seqs(first), [1, 2, 3]);
    assert.deepEqual(seqs(second), [4, 5, 6, 'null']);
  });

  it('replacing an async callback while it is awaiting: the old one gets nothing after the event it holds', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 5);
    const consumer = h.consumer(J);
    const first: (JournalEvent | null)[] = [];
    const second: (JournalEvent | null)[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const holding = new Latch(1);
    const secondGot = new Latch(4);
    consumer.setCallback(async (event) => {
      first.push(event);
      holding.countDown();
      await gate;
    });
    consumer.start();
    await holding.wait(5000, 'the first callback to hold event 1');
    consumer.setCallback((event) => {
      second.push(event);
      secondGot.countDown();
    });
    release();
    await secondGot.wait(5000, 'events 2..5 at the second callback');
    assert.deepEqual(seqs(first), [1]);
    assert.deepEqual(seqs(second), [2, 3, 4, 5]);
  });

  it('an async callback is awaited before the next event: one at a time, in order', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 20);
    const consumer = h.consumer(J, { includeSentinel: true });
    const seen: (JournalEvent | null)[] = [];
    let active = 0;
    let maxActive = 0;
    const got = new Latch(26);
    consumer.setCallback(async (event) => {
      active++;
      maxActive = Math.max(maxActive, active);
      // Yield to the event loop twice: any overlapping delivery would show here.
      await turn();
      await turn();
      seen.push(event);
      active--;
      got.countDown();
    });
    consumer.start();
    await once(consumer, 'sentinel');
    await seed(h.server, 5, J, 'live', 21);
    await got.wait(5000, '20 history events, the sentinel and 5 live events');
    assert.equal(maxActive, 1);
    assert.deepEqual(seqs(seen), [...range(1, 20), 'S', ...range(21, 25)]);
  });

  it('an error thrown by the callback is emitted and delivery carries on', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 3);
    const consumer = h.consumer(J);
    const errors: Error[] = [];
    consumer.on('error', (error) => errors.push(error));
    const seen: JournalEvent[] = [];
    const got = new Latch(3);
    consumer.setCallback((event) => {
      if (event) seen.push(event);
      got.countDown();
      if (event?.seq === 2) throw new Error('boom');
    });
    consumer.start();
    await got.wait(5000, 'three events');
    assert.deepEqual(seqs(seen), [1, 2, 3]);
    assert.deepEqual(errors.map((error) => error.message), ['boom']);
  });
});

describe('poll', () => {
  it('rejects with TimeoutError (a JournalError, code TIMEOUT) when no event comes in time, and the consumer carries on', async (t) => {
    const h = await Harness.start(t);
    const consumer = h.consumer(J, { includeSentinel: true }).start();
    assert.equal(await consumer.poll(5), SENTINEL);
    await assert.rejects(consumer.poll(0.05), (error: unknown) => {
      assert.ok(error instanceof TimeoutError);
      assert.ok(error instanceof JournalError);
      assert.equal(error.name, 'TimeoutError');
      assert.equal(error.code, 'TIMEOUT');
      assert.equal(error.code, ErrorCode.TIMEOUT);
      return true;
    });
    await h.server.append(J, 'after-timeout');
    const [event] = await pollMany(consumer, 1);
    assert.equal(event!.name, 'after-timeout');
  });

  it('rejects with NotStartedError before start()', async (t) => {
    const h = await Harness.start(t);
    const consumer = h.consumer(J);
    await assert.rejects(consumer.poll(1), (error: unknown) => {
      assert.ok(error instanceof NotStartedError);
      assert.ok(error instanceof JournalError);
      assert.equal(error.name, 'NotStartedError');
      assert.equal(error.code, 'NOT_STARTED');
      return true;
    });
  });

  it('after stop(): the events already received first, then null, and null again on every later call', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 5);
    const consumer = h.consumer(J).start();
    await once(consumer, 'sentinel');
    assert.deepEqual(seqs(await pollMany(consumer, 2)), [1, 2]);
    consumer.stop();
    const rest = [await consumer.poll(1), await consumer.poll(1), await consumer.poll(1)];
    assert.deepEqual(seqs(rest), [3, 4, 5]);
    assert.equal(await consumer.poll(1), null);
    assert.equal(await consumer.poll(1), null);
    assert.equal(await consumer.poll(), null);
  });

  it('a poll waiting when stop() is called resolves null', async (t) => {
    const h = await Harness.start(t);
    const consumer = h.consumer(J).start();
    await once(consumer, 'sentinel');
    const waiting = consumer.poll();
    consumer.stop();
    assert.equal(await within(waiting, 5000, 'the waiting poll'), null);
  });

  it('stop() before the sentinel hands over the history received so far, in order, then null', async (t) => {
    const store = new GatedStore();
    const h = await Harness.start(t, { store, pageSize: 4 });
    await seed(h.server, 10);
    store.hold(1);
    const connection = h.connection();
    const consumer = h.consumer(J, {}, connection).start();
    await store.readStarted(2);
    // An ack on the same socket comes after the first page, so the page has been received.
    await h.producer('other', {}, connection).append('barrier');
    consumer.stop();
    store.release();
    const drained: (JournalEvent | null)[] = [];
    for (;;) {
      const event = await consumer.poll(1);
      drained.push(event);
      if (event === null) break;
    }
    assert.deepEqual(seqs(drained), [1, 2, 3, 4, 'null']);
  });
});

describe('async iteration', () => {
  it('for await yields the events in order and ends after stop()', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 5);
    const consumer = h.consumer(J);
    const seen: JournalEvent[] = [];
    const got = new Latch(7);
    const loop = (async () => {
      for await (const event of consumer) {
        seen.push(event);
        got.countDown();
      }
    })();
    await once(consumer, 'sentinel');
    await seed(h.server, 2, J, 'live', 6);
    await got.wait(5000, 'seven events in the loop');
    consumer.stop();
    await within(loop, 5000, 'the loop to end');
    assert.deepEqual(seqs(seen), range(1, 7));
  });

  it('break leaves the loop and stops the consumer', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 5);
    const consumer = h.consumer(J);
    let ended = 0;
    consumer.on('end', () => ended++);
    const seen: JournalEvent[] = [];
    for await (const event of consumer) {
      seen.push(event);
      if (seen.length === 2) break;
    }
    assert.equal(ended, 1, "breaking out emitted 'end'");
    // Stopped: what was received is handed over, then null; nothing new follows.
    for (;;) {
      const event = await consumer.poll(1);
      if (event === null) break;
      seen.push(event);
    }
    assert.deepEqual(seqs(seen.slice(0, 2)), [1, 2]);
    assert.deepEqual(seqs(seen), range(1, seen.length));
    assert.equal(await consumer.poll(1), null);
  });
});
