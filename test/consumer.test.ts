/**
 * EventLogConsumer, JournalConsumer subclasses and JournalProducer against a
 * real server on port 0: every semantic of SPEC section 2, in the manner of
 * Flux's own journal consumer tests (t/python/t0032-job-journal.py and
 * friends): history in order, the sentinel in its place, live events after it,
 * `since`, callbacks, poll, iteration, restarts, subclasses.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import type { JournalServer } from '../server/journal-server.js';
import { ErrorCode, JournalError, NotStartedError, TimeoutError } from '../src/errors.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalConsumer, type EventEntry, type JournalResponse } from '../src/journal-consumer.js';
import { JournalEvent, type EventEntryInit } from '../src/journal-event.js';
import { JournalProducer } from '../src/journal-producer.js';
import { GatedStore, Harness, pollUntil, range, readAll, turn } from './harness.js';
import { Latch, once, pollMany, within } from './helpers.js';

const J = 'jobs';
const SENTINEL = EventLogConsumer.SENTINEL_EVENT;

/** Appends `count` events `name` with context `{ i }`, one by one, through the server. */
async function seed(server: JournalServer, count: number, journal = J, name = 'e', from = 1) {
  const results: { seq: number; timestamp: number }[] = [];
  for (let i = from; i < from + count; i++) results.push(await server.append(journal, name, { i }));
  return results;
}

function seqs(events: readonly (JournalEvent | null)[]): (number | string | undefined)[] {
  return events.map((event) => (event === null ? 'null' : event === SENTINEL ? 'S' : event.seq));
}

function assertStrictlyIncreasing(events: readonly JournalEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i]!.timestamp > events[i - 1]!.timestamp, `timestamp of event ${i} does not increase`);
    assert.equal(events[i]!.seq, events[i - 1]!.seq! + 1, `seq of event ${i} does not follow`);
  }
}

/** Expects `promise` to reject with a JournalError of `code`. */
async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(within(promise, 5000, `a ${code} rejection`), (error: unknown) => {
    assert.ok(error instanceof JournalError, `expected a JournalError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

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
    const seen: (JournalEvent | null)[] = [];
    const got = new Latch(6);
    consumer.setCallback((event) => {
      seen.push(event);
      got.countDown();
    });
    consumer.start();
    await once(consumer, 'sentinel');
    await seed(h.server, 2, J, 'live', 4);
    await got.wait(5000, 'three history events, the sentinel and two live events');
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

/** A job event: `jobid` lifted out of the context, plus what processResponse gave. */
class JobEvent extends JournalEvent {
  readonly jobid: number | undefined;
  readonly kwargs: Record<string, unknown>;

  constructor(entry: EventEntryInit, kwargs: Record<string, unknown> = {}) {
    const { jobid, ...context } = (entry.context ?? {}) as Record<string, unknown>;
    super({ ...entry, context });
    this.jobid = typeof jobid === 'number' ? jobid : undefined;
    this.kwargs = kwargs;
  }
}

class JobConsumer extends JournalConsumer<JobEvent> {
  static override SENTINEL_EVENT = new JobEvent({});
  readonly responses: JournalResponse[] = [];
  readonly returned = new Set<Record<string, unknown>>();

  processResponse(resp: JournalResponse): Record<string, unknown> {
    this.responses.push(resp);
    const kwargs = { journal: this.journal, batch: this.responses.length, size: resp.events.length };
    this.returned.add(kwargs);
    return kwargs;
  }

  createEvent(entry: EventEntry, kwargs: Record<string, unknown>): JobEvent {
    return new JobEvent(entry, kwargs);
  }
}

class SubmitConsumer extends EventLogConsumer {
  override get requestPayload(): Record<string, unknown> {
    return { names: ['submit'] };
  }
}

describe('subclasses', () => {
  it('a subclass delivers its own SENTINEL_EVENT and builds its events from processResponse kwargs', async (t) => {
    const h = await Harness.start(t, { pageSize: 2 });
    await h.server.append(J, 'submit', { jobid: 1, user: 'ann' });
    await h.server.append(J, 'alloc', { jobid: 1 });
    await h.server.append(J, 'submit', { jobid: 2, user: 'bob' });
    const consumer = h.track(new JobConsumer(h.url, J, { includeSentinel: true })).start();
    const events = await pollMany(consumer, 4);
    assert.equal(events[3], JobConsumer.SENTINEL_EVENT);
    assert.notEqual(events[3], JournalConsumer.SENTINEL_EVENT);
    assert.ok(events[3] instanceof JobEvent);
    const jobs = events.slice(0, 3);
    assert.deepEqual(
      jobs.map((event) => [event.seq, event.name, event.jobid, event.context]),
      [
        [1, 'submit', 1, { user: 'ann' }],
        [2, 'alloc', 1, {}],
        [3, 'submit', 2, { user: 'bob' }],
      ],
    );
    assert.equal(jobs[0]!.toString(), `${jobs[0]!.timestamp.toFixed(5)} submit user=ann`);
    for (const event of jobs) {
      assert.ok(event instanceof JobEvent);
      assert.ok(consumer.returned.has(event.kwargs), 'createEvent got the object processResponse returned');
      assert.equal(event.kwargs['journal'], J);
    }
    // pageSize 2: the first two events came in one response, the third in another.
    assert.equal(jobs[0]!.kwargs, jobs[1]!.kwargs);
    assert.notEqual(jobs[1]!.kwargs, jobs[2]!.kwargs);
    assert.equal(jobs[0]!.kwargs['size'], 2);
    for (const resp of consumer.responses) assert.ok(Array.isArray(resp.events));

    await h.server.append(J, 'finish', { jobid: 2 });
    const [live] = await pollMany(consumer, 1);
    assert.ok(live instanceof JobEvent);
    assert.equal(live.jobid, 2);
    assert.ok(consumer.returned.has(live.kwargs));
  });

  it('a subclass whose requestPayload is { names: [submit] } receives only submit events, history and live', async (t) => {
    const h = await Harness.start(t);
    for (const name of ['submit', 'alloc', 'submit', 'finish']) await h.server.append(J, name);
    const consumer = h.track(new SubmitConsumer(h.url, J, { includeSentinel: true })).start();
    const history = await pollUntil(consumer, (event) => event === SENTINEL);
    assert.deepEqual(
      history.map((event) => event.name ?? 'S'),
      ['submit', 'submit', 'S'],
    );
    assert.deepEqual(seqs(history), [1, 3, 'S']);
    for (const name of ['alloc', 'submit', 'clean', 'submit']) await h.server.append(J, name);
    const live = await pollMany(consumer, 2);
    assert.deepEqual(
      live.map((event) => [event.seq, event.name]),
      [
        [6, 'submit'],
        [8, 'submit'],
      ],
    );
  });
});

describe('bufferHistory', () => {
  it('false: history is delivered as it arrives, before the rest of history is even read, in order, then live', async (t) => {
    const store = new GatedStore();
    const h = await Harness.start(t, { store, pageSize: 4 });
    await seed(h.server, 10);
    store.hold(1);
    const connection = h.connection();
    const consumer = h.consumer(J, { bufferHistory: false, includeSentinel: true }, connection).start();
    // The second history read is held: the server has sent page 1 and nothing more.
    await store.readStarted(2);
    const first = await pollMany(consumer, 4);
    assert.deepEqual(seqs(first), [1, 2, 3, 4]);
    store.release();
    const rest = await pollUntil(consumer, (event) => event === SENTINEL);
    assert.deepEqual(seqs(rest), [...range(5, 10), 'S']);
    await seed(h.server, 2, J, 'live', 11);
    assert.deepEqual(seqs(await pollMany(consumer, 2)), [11, 12]);
  });

  it('true (the default): history received is held back until the sentinel', async (t) => {
    const store = new GatedStore();
    const h = await Harness.start(t, { store, pageSize: 4 });
    await seed(h.server, 10);
    store.hold(1);
    const connection = h.connection();
    const consumer = h.consumer(J, { includeSentinel: true }, connection).start();
    await store.readStarted(2);
    // An ack on the same socket follows page 1, so page 1 has reached the consumer.
    await h.producer('other', {}, connection).append('barrier');
    await turn();
    await assert.rejects(consumer.poll(0), TimeoutError, 'history was delivered before the sentinel');
    store.release();
    const events = await pollUntil(consumer, (event) => event === SENTINEL);
    assert.deepEqual(seqs(events), [...range(1, 10), 'S']);
  });

  it('false with a callback: history then live, in order, exactly once', async (t) => {
    const h = await Harness.start(t, { pageSize: 7 });
    await seed(h.server, 50);
    const consumer = h.consumer(J, { bufferHistory: false, includeSentinel: true });
    const seen: (JournalEvent | null)[] = [];
    const got = new Latch(56);
    consumer.setCallback((event) => {
      seen.push(event);
      got.countDown();
    });
    consumer.start();
    await once(consumer, 'sentinel');
    await seed(h.server, 5, J, 'live', 51);
    await got.wait(5000, '50 history events, the sentinel, 5 live events');
    assert.deepEqual(seqs(seen), [...range(1, 50), 'S', ...range(51, 55)]);
  });
});

describe('restart and lastTimestamp', () => {
  it('lastTimestamp is since until an event is handed over, then the newest event handed over (not merely received)', async (t) => {
    const h = await Harness.start(t);
    const appended = await seed(h.server, 6);
    const since = appended[0]!.timestamp;
    const consumer = h.consumer(J, { since });
    assert.equal(consumer.lastTimestamp, since);
    consumer.start();
    await once(consumer, 'sentinel');
    // Five events received and queued, none handed over.
    assert.equal(consumer.lastTimestamp, since);
    await pollMany(consumer, 2);
    assert.equal(consumer.lastTimestamp, appended[2]!.timestamp);
    await pollMany(consumer, 3);
    assert.equal(consumer.lastTimestamp, appended[5]!.timestamp);
  });

  it('the sentinel does not move lastTimestamp', async (t) => {
    const h = await Harness.start(t);
    const appended = await seed(h.server, 2);
    const consumer = h.consumer(J, { includeSentinel: true }).start();
    await pollMany(consumer, 3);
    assert.equal(consumer.lastTimestamp, appended[1]!.timestamp);
  });

  it('start() after stop() resumes from lastTimestamp: nothing twice, the unconsumed and the new events delivered', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 5);
    const consumer = h.consumer(J, { includeSentinel: true }).start();
    const run1 = await pollMany(consumer, 3);
    assert.deepEqual(seqs(run1), [1, 2, 3]);
    const mark = consumer.lastTimestamp;
    consumer.stop();
    // Events 4, 5 and the sentinel were received but never handed over.
    await seed(h.server, 2, J, 'while-stopped', 6);
    assert.equal(consumer.start(), consumer);
    assert.equal(consumer.lastTimestamp, mark);
    const run2 = await pollUntil(consumer, (event) => event === SENTINEL);
    assert.deepEqual(seqs(run2), [4, 5, 6, 7, 'S']);
    await seed(h.server, 1, J, 'live', 8);
    assert.deepEqual(seqs(await pollMany(consumer, 1)), [8]);
  });

  it('start() after a fully drained stop() delivers only what came after', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 3);
    const consumer = h.consumer(J).start();
    await once(consumer, 'sentinel');
    consumer.stop();
    assert.deepEqual(seqs([...(await pollMany(consumer, 3)), await consumer.poll(1)]), [1, 2, 3, 'null']);
    await seed(h.server, 2, J, 'later', 4);
    consumer.start();
    assert.deepEqual(seqs(await pollMany(consumer, 2)), [4, 5]);
    consumer.stop();
    assert.equal(await consumer.poll(1), null);
  });

  it('start() after stop() with a callback: the callback gets each event once across both runs', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 4);
    const consumer = h.consumer(J);
    const seen: (JournalEvent | null)[] = [];
    let latch = new Latch(5);
    consumer.setCallback((event) => {
      seen.push(event);
      latch.countDown();
    });
    consumer.start();
    await once(consumer, 'sentinel');
    consumer.stop();
    await latch.wait(5000, 'four events and null');
    latch = new Latch(3);
    await seed(h.server, 3, J, 'later', 5);
    consumer.start();
    await latch.wait(5000, 'the three new events');
    assert.deepEqual(seqs(seen), [1, 2, 3, 4, 'null', 5, 6, 7]);
  });

  it('start() again on a full:false consumer resumes from lastTimestamp too: events appended while stopped are not lost', async (t) => {
    const h = await Harness.start(t);
    const consumer = h.consumer(J, { full: false });
    const subscribed = once(consumer, 'subscribed');
    consumer.start();
    await subscribed;
    await h.server.append(J, 'a');
    assert.deepEqual(seqs(await pollMany(consumer, 1)), [1]);
    consumer.stop();
    await h.server.append(J, 'b');
    const resubscribed = once(consumer, 'subscribed');
    consumer.start();
    await resubscribed;
    await h.server.append(J, 'c');
    const events = await pollUntil(consumer, (event) => event.name === 'c');
    assert.deepEqual(
      events.map((event) => event.name),
      ['b', 'c'],
    );
  });
});

describe('a shared JournalConnection', () => {
  it('multiplexes several consumers and producers by request id', async (t) => {
    const h = await Harness.start(t);
    await seed(h.server, 3, 'alpha');
    const connection = h.connection();
    const alpha1 = h.consumer('alpha', { includeSentinel: true }, connection).start();
    const alpha2 = h.consumer('alpha', { full: false }, connection);
    const beta = h.consumer('beta', { includeSentinel: true }, connection).start();
    const subscribed = once(alpha2, 'subscribed');
    alpha2.start();
    await subscribed;
    const pa = h.producer('alpha', {}, connection);
    const pb = h.producer('beta', { context: { from: 'pb' } }, connection);
    const acks = await Promise.all([
      pa.append('a4'),
      pb.append('b1'),
      pa.appendMany([{ name: 'a5' }, { name: 'a6' }]),
      pb.append('b2'),
    ]);
    assert.deepEqual(acks.flat().map((ack) => ack.seq), [4, 1, 5, 6, 2]);

    const a1 = await pollUntil(alpha1, (event) => event.seq === 6);
    assert.deepEqual(seqs(a1), [1, 2, 3, 'S', 4, 5, 6]);
    const a2 = await pollMany(alpha2, 3);
    assert.deepEqual(a2.map((event) => event.name), ['a4', 'a5', 'a6']);
    const b = await pollMany(beta, 3);
    assert.deepEqual(seqs(b), ['S', 1, 2]);
    assert.deepEqual(b.slice(1).map((event) => [event.name, event.context]), [
      ['b1', { from: 'pb' }],
      ['b2', { from: 'pb' }],
    ]);

    // Stopping one consumer leaves the others and the producers working.
    alpha1.stop();
    await pa.append('a7');
    assert.deepEqual(seqs(await pollMany(alpha2, 1)), [7]);
    await pa.close();
    await pb.append('b3');
    assert.deepEqual(seqs(await pollMany(beta, 1)), [3]);
    assert.equal(await alpha1.poll(1), null);

    // Closing the connection ends every consumer on it.
    await connection.close();
    for (const consumer of [alpha2, beta]) {
      assert.equal(await consumer.poll(1), null);
    }
  });
});

describe('JournalProducer', () => {
  it('append resolves { seq, timestamp } once the event is stored', async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer(J);
    const first = await producer.append('submit', { id: 'f3x', userid: 1000 });
    const second = await producer.append('alloc');
    assert.deepEqual(Object.keys(first).sort(), ['seq', 'timestamp']);
    assert.equal(first.seq, 1);
    assert.equal(second.seq, 2);
    assert.ok(second.timestamp > first.timestamp);
    const stored = await readAll(h.server.store, J);
    assert.deepEqual(
      stored.map((event) => JSON.parse(event.json)),
      [
        { name: 'submit', timestamp: first.timestamp, context: { id: 'f3x', userid: 1000 }, seq: 1 },
        { name: 'alloc', timestamp: second.timestamp, context: {}, seq: 2 },
      ],
    );
  });

  it('appendMany is atomic: contiguous seqs and increasing timestamps even with other writers racing', async (t) => {
    const h = await Harness.start(t);
    const one = h.producer(J);
    const two = h.producer(J);
    const batch = (tag: string) => range(1, 20).map((i) => ({ name: tag, context: { i } }));
    const results = await Promise.all([
      one.appendMany(batch('one')),
      two.appendMany(batch('two')),
      one.appendMany(batch('three')),
      two.append('single'),
    ]);
    for (const result of results.slice(0, 3) as { seq: number; timestamp: number }[][]) {
      assert.equal(result.length, 20);
      assert.deepEqual(
        result.map((r) => r.seq),
        range(result[0]!.seq, result[0]!.seq + 19),
      );
      for (let i = 1; i < result.length; i++) assert.ok(result[i]!.timestamp > result[i - 1]!.timestamp);
    }
    const stored = await readAll(h.server.store, J);
    assert.deepEqual(stored.map((event) => event.seq), range(1, 61));
    // Each batch's events sit together in the journal.
    const names = stored.map((event) => event.name);
    for (const tag of ['one', 'two', 'three']) {
      const at = names.indexOf(tag);
      assert.deepEqual(names.slice(at, at + 20), Array(20).fill(tag));
    }
  });

  it('bind merges context into every event (the event wins); unbind removes keys; both share the connection', async (t) => {
    const h = await Harness.start(t);
    const base = h.producer(J, { context: { host: 'h1' } });
    const bound = base.bind({ user: 'ann', rank: 0 });
    const rebound = bound.bind({ rank: 1 });
    const unbound = rebound.unbind('user', 'host');
    assert.ok(bound instanceof JournalProducer);
    await base.append('a', { x: 1 });
    await bound.append('b', { x: 2 });
    await rebound.append('c', { user: 'bob' });
    await unbound.append('d', { x: 4 });
    const stored = (await readAll(h.server.store, J)).map((event) => JSON.parse(event.json) as { name: string; context: unknown });
    assert.deepEqual(
      stored.map((event) => [event.name, event.context]),
      [
        ['a', { host: 'h1', x: 1 }],
        ['b', { host: 'h1', user: 'ann', rank: 0, x: 2 }],
        ['c', { host: 'h1', user: 'bob', rank: 1 }],
        ['d', { rank: 1, x: 4 }],
      ],
    );
    // Closing a derived producer leaves the others working on the shared connection.
    await bound.close();
    await base.append('e');
    await Promise.all([base.close(), rebound.close(), unbound.close()]);
    await rejectsWithCode(base.append('f'), ErrorCode.CLOSED);
  });

  it('close() is idempotent; append after close rejects with JournalError CLOSED and stores nothing', async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer(J);
    await producer.append('a');
    const closing = producer.close();
    assert.equal(producer.close(), closing);
    await closing;
    await producer.close();
    await rejectsWithCode(producer.append('b'), ErrorCode.CLOSED);
    await rejectsWithCode(producer.appendMany([{ name: 'c' }]), 'CLOSED');
    assert.equal((await h.server.store.head(J)).seq, 1);
  });

  it('close() waits for an append in flight, which then resolves and is stored', async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer(J);
    const pending = producer.append('in-flight');
    await producer.close();
    const result = await within(pending, 5000, 'the append in flight');
    assert.equal(result.seq, 1);
    assert.equal((await h.server.store.head(J)).seq, 1);
  });

  it('refuses bad events itself with JournalError INVALID_EVENT, sending nothing, and keeps working', async (t) => {
    const h = await Harness.start(t);
    const producer = h.producer(J);
    const circular: Record<string, unknown> = { a: 1 };
    circular['self'] = circular;
    const bad: [string, () => Promise<unknown>][] = [
      ['an empty name', () => producer.append('')],
      ['a non-string name', () => producer.append(7 as unknown as string)],
      ['a number context', () => producer.append('x', 5 as unknown as object)],
      ['an array context', () => producer.append('x', [1, 2])],
      ['a null context', () => producer.append('x', null as unknown as object)],
      ['a BigInt in the context', () => producer.append('x', { n: 10n })],
      ['a circular context', () => producer.append('x', circular)],
      ['an empty batch', () => producer.appendMany([])],
      ['one bad event in a batch', () => producer.appendMany([{ name: 'ok' }, { name: '' }, { name: 'ok2' }])],
    ];
    for (const [what, attempt] of bad) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof JournalError, `${what}: expected a JournalError, got ${String(error)}`);
        assert.equal(error.code, ErrorCode.INVALID_EVENT, what);
        return true;
      });
    }
    assert.equal((await h.server.store.head(J)).seq, 0);
    assert.equal((await producer.append('fine')).seq, 1);
  });

  it('a server refusal (more than maxEventsPerAppend) rejects with JournalError TOO_MANY_EVENTS and stores nothing', async (t) => {
    const h = await Harness.start(t, { maxEventsPerAppend: 3 });
    const producer = h.producer(J);
    await rejectsWithCode(producer.appendMany(range(1, 4).map((i) => ({ name: 'e', context: { i } }))), ErrorCode.TOO_MANY_EVENTS);
    assert.equal((await h.server.store.head(J)).seq, 0);
    const ok = await producer.appendMany(range(1, 3).map((i) => ({ name: 'e', context: { i } })));
    assert.deepEqual(ok.map((r) => r.seq), [1, 2, 3]);
    assert.equal((await readAll(h.server.store, J)).length, 3);
  });
});

describe('idempotent stop() and close()', () => {
  it("stop() twice emits 'end' once; stop() before start() does nothing", async (t) => {
    const h = await Harness.start(t);
    const consumer = h.consumer(J);
    let ended = 0;
    consumer.on('end', () => ended++);
    consumer.stop();
    assert.equal(ended, 0);
    await assert.rejects(consumer.poll(0), NotStartedError);
    consumer.start();
    await once(consumer, 'sentinel');
    consumer.stop();
    consumer.stop();
    assert.equal(ended, 1);
    assert.equal(await consumer.poll(1), null);
  });

  it('JournalConnection.close() twice resolves both times', async (t) => {
    const h = await Harness.start(t);
    const connection = h.connection();
    const consumer = h.consumer(J, {}, connection).start();
    await once(consumer, 'sentinel');
    await within(Promise.all([connection.close(), connection.close()]), 5000, 'both closes');
    await within(connection.close(), 5000, 'a third close');
    assert.equal(connection.isClosed, true);
  });
});


describe('cleanup', () => {
  it('leaves nothing running: a program that stops its consumer and closes its producer and server exits by itself', async () => {
    const helpers = new URL('./helpers.js', import.meta.url).href;
    const client = new URL('../src/index.js', import.meta.url).href;
    const script = `
      import { startServer } from ${JSON.stringify(helpers)};
      import { EventLogConsumer, JournalProducer } from ${JSON.stringify(client)};
      const server = await startServer();
      const producer = new JournalProducer(server.url, 'j');
      await producer.append('a');
      const consumer = new EventLogConsumer(server.url, 'j', { includeSentinel: true }).start();
      await consumer.poll(5);
      await consumer.poll(5);
      consumer.stop();
      await producer.close();
      await server.close();
      console.log('closed');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const [code] = await once<[number | null]>(child, 'exit', 15_000);
      assert.equal(code, 0);
      assert.equal(output.trim(), 'closed');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
