/**
 * A subscription filtered with a selector (`requestPayload` `{ where }`): across history and
 * live, while a producer appends, it delivers exactly the matching events, each once, in order,
 * with one sentinel between them; a bad selector is refused with INVALID_SELECTOR.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import type { JournalConnection } from '../src/connection.js';
import type { JournalConsumerOptions } from '../src/journal-consumer.js';
import type { JournalEvent } from '../src/journal-event.js';
import { Harness, YieldingStore, readAll } from './harness.js';
import { once, Signal, within } from './helpers.js';

const LIMIT = { timeout: 60_000 };
const SENTINEL = EventLogConsumer.SENTINEL_EVENT;

/** A consumer whose subscription carries a payload. */
class FilteredConsumer extends EventLogConsumer {
  readonly #payload: Record<string, unknown>;

  constructor(url: string | JournalConnection, journal: string, options: JournalConsumerOptions, payload: Record<string, unknown>) {
    super(url, journal, options);
    this.#payload = payload;
  }

  override get requestPayload(): Record<string, unknown> {
    return this.#payload;
  }
}

describe('subscriptions filtered with where', () => {
  it('deliver exactly the matching events across the history→live switch while appends go on', LIMIT, async (t) => {
    const store = new YieldingStore();
    const harness = await Harness.start(t, { store });
    const producer = harness.producer('w');
    let n = 0;
    const batch = (size: number) => Array.from({ length: size }, () => ({ name: n % 3 === 0 ? 'tick' : 'tock', context: { n: n, even: n++ % 2 === 0 } }));
    for (let i = 0; i < 20; i++) await producer.appendMany(batch(25));
    let writing = true;
    const writer = (async () => {
      while (writing) await producer.appendMany(batch(1 + (n % 7)));
    })();

    const selector = { 'context.even': true, name: { $in: ['tick', 'tock'] } };
    const consumers = Array.from({ length: 4 }, () =>
      harness.track(new FilteredConsumer(harness.url, 'w', { includeSentinel: true }, { where: selector })),
    );
    const seen = consumers.map(() => [] as JournalEvent[]);
    const progress = new Signal();
    for (const [i, consumer] of consumers.entries()) {
      consumer.setCallback((event) => {
        if (event !== null) seen[i]!.push(event);
        progress.notify();
      });
      consumer.start();
      await once(consumer, 'sentinel', 10_000);
      // Subscriptions start at different points of the stream.
      const target = n + 200;
      while (n < target) await new Promise((resolve) => setImmediate(resolve));
    }
    writing = false;
    await within(writer, 10_000, 'the writer to stop');
    const expected = (await readAll(store, 'w')).filter((event) => (JSON.parse(event.json) as { context: { even: boolean } }).context.even);
    assert.ok(expected.length > 300, `${expected.length} matching events`);
    for (const [i, consumer] of consumers.entries()) {
      const events = seen[i]!;
      // Every matching event up to the last appended, and the sentinel.
      const want = expected.length + 1;
      await progress.until(() => events.length >= want, 10_000, `consumer ${i} to see ${want} events`);
      consumer.stop();
      const sentinels = events.filter((event) => event === SENTINEL).length;
      assert.equal(sentinels, 1, `consumer ${i}: ${sentinels} sentinels`);
      const delivered = events.filter((event) => event !== SENTINEL);
      assert.deepEqual(
        delivered.map((event) => event.seq),
        expected.map((event) => event.seq),
        `consumer ${i} saw exactly the even events, each once, in order`,
      );
      assert.ok(delivered.every((event) => event.context['even'] === true));
      const sentinelAt = events.indexOf(SENTINEL);
      assert.ok(sentinelAt > 0 && sentinelAt < events.length - 1, `consumer ${i}: history and live events on both sides of the sentinel`);
    }
  });

  it('live selectors take a few ms of a turn: past them, subscriptions end with SLOW_CONSUMER, and consumers resume with nothing lost', LIMIT, async (t) => {
    // Output budgets that 64 reservations of the batch fit in: only the live selectors' time may end a subscription here.
    const harness = await Harness.start(t, { maxSendBuffer: 64 * 1024 * 1024, maxServerBuffer: 1024 * 1024 * 1024 });
    const producer = harness.producer('busy');
    await producer.append('first', {});
    // Only the last event of each batch matches, but every event is parsed to know.
    const selector = { 'context.i': 999 };
    const batch = Array.from({ length: 1000 }, (_, i) => ({ name: 'e', context: { i, pad: 'x'.repeat(150) } }));
    // 64 live subscriptions of one connection, each parsing every event of a batch of 1,000: far more than a turn's few ms.
    const raw = await harness.raw();
    for (let id = 1; id <= 64; id++) raw.send({ type: 'subscribe', id, journal: 'busy', full: false, payload: { where: selector } });
    await raw.until((frame) => frame.type === 'subscribed' && frame['id'] === 64, 10_000);
    await producer.appendMany(batch);
    // Each subscription either filters the batch (and sends its one match) or ends.
    const outcome = new Map<number, string>();
    await raw.until((frame) => {
      const id = frame['id'] as number;
      if (frame.type === 'response') outcome.set(id, 'match');
      if (frame.type === 'end') outcome.set(id, String(frame['code']));
      return outcome.size === 64;
    }, 10_000);
    const codes = [...outcome.values()];
    const ended = codes.filter((code) => code === 'SLOW_CONSUMER').length;
    assert.equal(outcome.get(1), 'match', 'the first subscription of the turn filters its batch');
    assert.ok(ended > 0 && ended + codes.filter((code) => code === 'match').length === 64, `${ended} of 64 subscriptions ended with SLOW_CONSUMER`);

    // Consumers that are ended resume from the last event they received: each gets the match once.
    const consumers = Array.from({ length: 24 }, () => harness.track(new FilteredConsumer(harness.url, 'busy', { full: false }, { where: selector })));
    const seen = consumers.map(() => [] as number[]);
    const progress = new Signal();
    for (const [i, consumer] of consumers.entries()) {
      consumer.setCallback((event) => {
        if (event !== null) seen[i]!.push(event.seq!);
        progress.notify();
      });
      const subscribed = once(consumer, 'subscribed');
      consumer.start();
      await subscribed;
    }
    const acks = await producer.appendMany(batch);
    await producer.append('last', { i: 999 });
    const want = [acks.at(-1)!.seq, acks.at(-1)!.seq + 1];
    for (const [i, events] of seen.entries()) {
      await progress.until(() => events.length >= 2, 20_000, `consumer ${i} to see both matches`);
      assert.deepEqual(events, want, `consumer ${i}`);
    }
  });

  it('refuses a bad selector with INVALID_SELECTOR, and the consumer stops without retrying', LIMIT, async (t) => {
    const harness = await Harness.start(t);
    for (const where of [{ 'context.n': { $where: '1' } }, ['not', 'an', 'object'], { n: 1 }]) {
      const consumer = harness.track(new FilteredConsumer(harness.url, 'w', {}, { where }));
      const errored = once<[{ code?: string; message: string }]>(consumer, 'error');
      consumer.start();
      const [error] = await errored;
      assert.equal(error.code, 'INVALID_SELECTOR', error.message);
      assert.equal(await consumer.poll(5), null, 'the consumer ended');
    }
  });

  it('filters live-only subscriptions too', LIMIT, async (t) => {
    const harness = await Harness.start(t);
    const producer = harness.producer('live');
    await producer.append('old', { keep: true });
    const consumer = harness.track(new FilteredConsumer(harness.url, 'live', { full: false }, { where: { 'context.keep': true } }));
    const subscribed = once(consumer, 'subscribed');
    consumer.start();
    await subscribed;
    await producer.appendMany([{ name: 'a', context: { keep: false } }, { name: 'b', context: { keep: true } }, { name: 'c', context: {} }]);
    const event = await consumer.poll(5);
    assert.equal(event?.name, 'b');
    await producer.append('d', { keep: true });
    assert.equal((await consumer.poll(5))?.name, 'd');
  });
});
