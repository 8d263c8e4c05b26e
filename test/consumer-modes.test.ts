/**
 * JournalConsumer subclasses (Flux-style `processResponse`/`createEvent`),
 * `bufferHistory` false and true, restarts from `lastTimestamp`, and several
 * consumers and producers on one JournalConnection, against a real server on
 * port 0 (SPEC section 2).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TimeoutError } from '../src/errors.js';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalConsumer, type EventEntry, type JournalResponse } from '../src/journal-consumer.js';
import { JournalEvent, type EventEntryInit } from '../src/journal-event.js';
import { GatedStore, Harness, pollUntil, range, turn } from './harness.js';
import { Latch, once, pollMany } from './helpers.js';
import { collectCallback, J, SENTINEL, seed, seqs } from './client-assertions.js';

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
    const { seen, latch } = collectCallback(consumer, 56);
    consumer.start();
    await once(consumer, 'sentinel');
    await seed(h.server, 5, J, 'live', 51);
    await latch.wait(5000, '50 history events, the sentinel, 5 live events');
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
    const delivered = collectCallback(consumer, 5);
    consumer.start();
    await once(consumer, 'sentinel');
    consumer.stop();
    await delivered.latch.wait(5000, 'four events and null');
    delivered.latch = new Latch(3);
    await seed(h.server, 3, J, 'later', 5);
    consumer.start();
    await delivered.latch.wait(5000, 'the three new events');
    assert.deepEqual(seqs(delivered.seen), [1, 2, 3, 4, 'null', 5, 6, 7]);
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
