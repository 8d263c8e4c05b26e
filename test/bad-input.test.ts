/**
 * Bad input (SPEC section 4.4): raw sockets send what the client library
 * never would. Each malformed frame gets an `error` frame with the right code
 * (and the frame's `id` when it had a valid one) or a close with the right
 * code; the same connection keeps working where it is not closed; nothing of
 * a refused frame is stored; and a canary consumer on another connection sees
 * every event appended meanwhile, in order, with the server still up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ErrorCode } from '../src/errors.js';
import type { EventLogConsumer } from '../src/event-log-consumer.js';
import { Harness, range, readAll, type Frame, type RawClient } from './harness.js';
import { once, within } from './helpers.js';

const J = 'canary';
const LIMITS = {
  maxFrameSize: 16 * 1024,
  maxEventSize: 200,
  maxEventsPerAppend: 5,
  maxSubscriptionsPerConnection: 3,
};

describe('bad input from raw sockets', () => {
  const teardowns: (() => unknown)[] = [];
  let h: Harness;
  let canary: EventLogConsumer;
  const canarySeqs: number[] = [];
  const canaryWaiters = new Map<number, () => void>();
  let nextId = 1000;

  /** Resolves once the canary has seen the event `seq`. */
  function canarySees(seq: number): Promise<void> {
    if (canarySeqs.includes(seq)) return Promise.resolve();
    return within(new Promise<void>((resolve) => canaryWaiters.set(seq, resolve)), 5000, `the canary to see seq ${seq}`);
  }

  /** The connection still works: a valid append is acknowledged, and the canary sees it. */
  async function stillWorks(raw: RawClient): Promise<void> {
    const ack = await raw.append(nextId++, J, 'valid', { after: 'bad input' });
    const [seq] = ack['seqs'] as number[];
    assert.equal(typeof seq, 'number');
    await canarySees(seq!);
  }

  function assertError(frame: Frame, code: string, id?: number): void {
    assert.equal(frame.type, 'error', `expected an error frame, got ${JSON.stringify(frame)}`);
    assert.equal(frame['code'], code, `wrong code in ${JSON.stringify(frame)}`);
    assert.equal(typeof frame['message'], 'string');
    if (id === undefined) assert.ok(!('id' in frame), `no valid id was sent, yet the error carries one: ${JSON.stringify(frame)}`);
    else assert.equal(frame['id'], id, `the error does not carry the frame's id: ${JSON.stringify(frame)}`);
  }

  async function head(journal = J): Promise<number> {
    return (await h.server.store.head(journal)).seq;
  }

  before(async () => {
    h = await Harness.start({ after: (fn) => teardowns.push(fn) }, LIMITS);
    canary = h.consumer(J);
    canary.setCallback((event) => {
      if (event === null) return;
      canarySeqs.push(event.seq!);
      canaryWaiters.get(event.seq!)?.();
      canaryWaiters.delete(event.seq!);
    });
    const subscribed = once(canary, 'subscribed');
    canary.start();
    await subscribed;
  });

  after(async () => {
    for (const teardown of teardowns) await teardown();
  });

  it('a frame that is not JSON gets BAD_FRAME without an id', async () => {
    const raw = await h.raw();
    raw.send('{"type":"append","id":1,');
    assertError(await raw.next(), ErrorCode.BAD_FRAME);
    raw.send('hello');
    assertError(await raw.next(), ErrorCode.BAD_FRAME);
    await stillWorks(raw);
  });

  it('a binary frame gets BAD_FRAME and is not acted on, even when it holds a valid append', async () => {
    const raw = await h.raw();
    const before = await head();
    const frame = { type: 'append', id: 1, journal: J, events: [{ name: 'binary' }] };
    raw.ws.send(Buffer.from(JSON.stringify(frame)), { binary: true });
    assertError(await raw.next(), ErrorCode.BAD_FRAME);
    await stillWorks(raw);
    assert.equal(await head(), before + 1, 'only the valid append after it was stored');
  });

  it('JSON that is not an object (a number, a string, null, a boolean, an array) gets BAD_FRAME without an id', async () => {
    const raw = await h.raw();
    const before = await head();
    const texts = ['42', '"append"', 'null', 'true', JSON.stringify([{ type: 'append', id: 1, journal: J, events: [{ name: 'x' }] }])];
    for (const text of texts) raw.send(text);
    const frames: Frame[] = [];
    for (let i = 0; i < texts.length; i++) frames.push(await raw.next());
    for (const [index, frame] of frames.entries()) {
      assert.equal(frame.type, 'error', `for ${texts[index]}`);
      assert.deepEqual([texts[index], frame['code'], 'id' in frame], [texts[index], ErrorCode.BAD_FRAME, false]);
    }
    await stillWorks(raw);
    assert.equal(await head(), before + 1);
  });

  it('an unknown type gets UNKNOWN_TYPE carrying the id', async () => {
    const raw = await h.raw();
    raw.send({ type: 'publish', id: 4, journal: J, events: [{ name: 'x' }] });
    assertError(await raw.next(), ErrorCode.UNKNOWN_TYPE, 4);
    raw.send({ id: 5, journal: J });
    assertError(await raw.next(), ErrorCode.UNKNOWN_TYPE, 5);
    await stillWorks(raw);
  });

  it('an id that is not a non-negative safe integer gets BAD_FRAME without an id, and nothing is stored', async () => {
    const raw = await h.raw();
    const before = await head();
    for (const id of ['7', -1, 1.5, 2 ** 53, null]) {
      raw.send({ type: 'append', id, journal: J, events: [{ name: 'bad-id' }] });
      assertError(await raw.next(), ErrorCode.BAD_FRAME);
    }
    assert.equal(await head(), before);
    await stillWorks(raw);
  });

  it('since as a string or full as a number gets BAD_FRAME with the id, and opens no subscription', async () => {
    const raw = await h.raw();
    raw.send({ type: 'subscribe', id: 6, journal: J, since: '0' });
    assertError(await raw.next(), ErrorCode.BAD_FRAME, 6);
    raw.send({ type: 'subscribe', id: 7, journal: J, full: 1 });
    assertError(await raw.next(), ErrorCode.BAD_FRAME, 7);
    raw.send({ type: 'subscribe', id: 8, journal: J, since: -5 });
    assertError(await raw.next(), ErrorCode.BAD_FRAME, 8);
    // The ids are free: the refused subscriptions were never opened.
    raw.send({ type: 'subscribe', id: 6, journal: J, full: false });
    const [subscribed] = await raw.until((frame) => frame.type === 'subscribed');
    assert.equal(subscribed!['id'], 6);
    await stillWorks(raw);
  });

  it('an invalid journal name gets INVALID_JOURNAL with the id', async () => {
    const raw = await h.raw();
    for (const [id, journal] of [
      [10, '../etc'],
      [11, ''],
      [12, '.hidden'],
      [13, 'a'.repeat(129)],
      [14, 5],
    ] as const) {
      raw.send({ type: 'append', id, journal, events: [{ name: 'x' }] });
      assertError(await raw.next(), ErrorCode.INVALID_JOURNAL, id);
    }
    raw.send({ type: 'subscribe', id: 15, journal: 'a/b' });
    assertError(await raw.next(), ErrorCode.INVALID_JOURNAL, 15);
    await stillWorks(raw);
  });

  it('an empty event name, or a context that is not an object, gets INVALID_EVENT with the id', async () => {
    const raw = await h.raw();
    const before = await head();
    raw.send({ type: 'append', id: 16, journal: J, events: [{ name: '' }] });
    assertError(await raw.next(), ErrorCode.INVALID_EVENT, 16);
    raw.send({ type: 'append', id: 17, journal: J, events: [{ name: 'x', context: [1, 2] }] });
    assertError(await raw.next(), ErrorCode.INVALID_EVENT, 17);
    raw.send({ type: 'append', id: 18, journal: J, events: [{ name: 'x', context: 'text' }] });
    assertError(await raw.next(), ErrorCode.INVALID_EVENT, 18);
    raw.send({ type: 'append', id: 19, journal: J, events: [{ context: {} }] });
    assertError(await raw.next(), ErrorCode.INVALID_EVENT, 19);
    assert.equal(await head(), before);
    await stillWorks(raw);
  });

  it('an unknown extra field gets an error with the id and nothing is stored', async () => {
    const raw = await h.raw();
    const before = await head();
    raw.send({ type: 'append', id: 20, journal: J, events: [{ name: 'x' }], extra: true });
    assertError(await raw.next(), ErrorCode.BAD_FRAME, 20);
    raw.send({ type: 'append', id: 21, journal: J, events: [{ name: 'x', colour: 'red' }] });
    assertError(await raw.next(), ErrorCode.INVALID_EVENT, 21);
    raw.send({ type: 'subscribe', id: 22, journal: J, follow: true });
    assertError(await raw.next(), ErrorCode.BAD_FRAME, 22);
    assert.equal(await head(), before);
    await stillWorks(raw);
  });

  it('a batch with one bad event among good ones gets INVALID_EVENT and stores nothing of the batch', async () => {
    const raw = await h.raw();
    const before = await head();
    raw.send({ type: 'append', id: 23, journal: J, events: [{ name: 'good1' }, { name: '' }, { name: 'good2' }] });
    assertError(await raw.next(), ErrorCode.INVALID_EVENT, 23);
    assert.equal(await head(), before);
    await stillWorks(raw);
    const names = (await readAll(h.server.store, J)).map((event) => event.name);
    assert.ok(!names.includes('good1') && !names.includes('good2'));
  });

  it('a subscribe with an id already in use gets DUPLICATE_ID, and the first subscription carries on', async () => {
    const raw = await h.raw();
    raw.send({ type: 'subscribe', id: 24, journal: J, full: false });
    assert.equal((await raw.next())['type'], 'subscribed');
    raw.send({ type: 'subscribe', id: 24, journal: J, full: true });
    assertError(await raw.next(), ErrorCode.DUPLICATE_ID, 24);
    raw.send({ type: 'append', id: 25, journal: J, events: [{ name: 'seen-by-24' }] });
    const frames: Frame[] = [];
    while (!(frames.some((f) => f.type === 'ack') && frames.some((f) => f.type === 'response'))) frames.push(await raw.next());
    const ack = frames.find((f) => f.type === 'ack')!;
    const response = frames.find((f) => f.type === 'response')!;
    assert.equal(ack['id'], 25);
    assert.equal(response['id'], 24);
    const [seq] = ack['seqs'] as number[];
    assert.deepEqual(
      (response['events'] as { seq: number }[]).map((event) => event.seq),
      [seq],
    );
    await canarySees(seq!);
  });

  it('one subscription more than maxSubscriptionsPerConnection gets TOO_MANY_SUBSCRIPTIONS; a cancel makes room', async () => {
    const raw = await h.raw();
    for (const id of [30, 31, 32]) {
      raw.send({ type: 'subscribe', id, journal: J, full: false });
      const [frame] = await raw.until((f) => f.type === 'subscribed');
      assert.equal(frame!['id'], id);
    }
    raw.send({ type: 'subscribe', id: 33, journal: J, full: false });
    assertError(await raw.next(), ErrorCode.TOO_MANY_SUBSCRIPTIONS, 33);
    raw.send({ type: 'cancel', id: 30 });
    const ended = await raw.until((f) => f.type === 'end');
    assert.equal(ended.at(-1)!['id'], 30);
    raw.send({ type: 'subscribe', id: 33, journal: J, full: false });
    const [frame] = await raw.until((f) => f.type === 'subscribed');
    assert.equal(frame!['id'], 33);
    await stillWorks(raw);
  });

  it('more events than maxEventsPerAppend gets TOO_MANY_EVENTS and stores nothing', async () => {
    const raw = await h.raw();
    const before = await head();
    raw.send({ type: 'append', id: 40, journal: J, events: range(1, 6).map((i) => ({ name: 'many', context: { i } })) });
    assertError(await raw.next(), ErrorCode.TOO_MANY_EVENTS, 40);
    assert.equal(await head(), before);
    await stillWorks(raw);
  });

  it('a frame of many more events than the limit gets TOO_MANY_EVENTS before any event is checked, on either path of the decoder', async () => {
    const raw = await h.raw();
    const before = await head();
    const many = range(1, 400).map(() => ({ name: 'm' }));
    // Written as the client library writes it (the decoder reads 5 events, then leaves the frame to the general path)…
    raw.send({ type: 'append', id: 43, journal: J, events: many });
    assertError(await raw.next(), ErrorCode.TOO_MANY_EVENTS, 43);
    // …with a bad event last (checked, it would be INVALID_EVENT)…
    raw.send({ type: 'append', id: 44, journal: J, events: [...many, { name: '' }] });
    assertError(await raw.next(), ErrorCode.TOO_MANY_EVENTS, 44);
    // …and with whitespace, which only the general path reads.
    raw.send(JSON.stringify({ type: 'append', id: 45, journal: J, events: [...many, { name: '' }] }, null, 1));
    assertError(await raw.next(), ErrorCode.TOO_MANY_EVENTS, 45);
    assert.equal(await head(), before);
    await stillWorks(raw);
  });

  it('a subscription filter of more than 100 names, or a name longer than 256, gets INVALID_PAYLOAD', async () => {
    const raw = await h.raw();
    const names = (count: number, length = 8) => range(1, count).map((i) => String(i).padStart(length, 'n'));
    raw.send({ type: 'subscribe', id: 46, journal: J, full: false, payload: { names: names(101) } });
    assertError(await raw.next(), ErrorCode.INVALID_PAYLOAD, 46);
    raw.send({ type: 'subscribe', id: 47, journal: J, full: false, payload: { names: ['x'.repeat(257)] } });
    assertError(await raw.next(), ErrorCode.INVALID_PAYLOAD, 47);
    raw.send({ type: 'subscribe', id: 48, journal: J, full: false, payload: { schemas: names(101).map((n) => `urn:x:${n}`) } });
    assertError(await raw.next(), ErrorCode.INVALID_PAYLOAD, 48);
    raw.send({ type: 'subscribe', id: 49, journal: J, full: false, payload: { names: [...names(99), 'x'.repeat(256)] } });
    const [frame] = await raw.until((f) => f.type === 'subscribed');
    assert.equal(frame!['id'], 49);
    await stillWorks(raw);
  });

  it('an event over maxEventSize gets EVENT_TOO_LARGE and nothing of its batch is stored', async () => {
    const raw = await h.raw();
    const before = await head();
    raw.send({ type: 'append', id: 41, journal: J, events: [{ name: 'big', context: { s: 'x'.repeat(300) } }] });
    assertError(await raw.next(), ErrorCode.EVENT_TOO_LARGE, 41);
    raw.send({
      type: 'append',
      id: 42,
      journal: J,
      events: [{ name: 'small' }, { name: 'big', context: { s: 'x'.repeat(300) } }, { name: 'small' }],
    });
    assertError(await raw.next(), ErrorCode.EVENT_TOO_LARGE, 42);
    assert.equal(await head(), before);
    await stillWorks(raw);
  });

  it('maxEventSize counts bytes, not characters: 150 two-byte characters (300 bytes) are too large', async () => {
    const raw = await h.raw();
    const before = await head();
    raw.send({ type: 'append', id: 43, journal: J, events: [{ name: 'wide', context: { s: 'é'.repeat(150) } }] });
    const frame = await raw.next();
    if (frame.type === 'ack') await canarySees((frame['seqs'] as number[])[0]!);
    assertError(frame, ErrorCode.EVENT_TOO_LARGE, 43);
    assert.equal(await head(), before);
    await stillWorks(raw);
  });

  it('a flood of 500 malformed frames gets 500 error frames, in order, and the connection still works', async () => {
    const raw = await h.raw();
    for (let i = 0; i < 500; i++) raw.send(i % 2 === 0 ? `not json ${i}` : { type: 'nope', id: i });
    for (let i = 0; i < 500; i++) {
      const frame = await raw.next();
      if (i % 2 === 0) assertError(frame, ErrorCode.BAD_FRAME);
      else assertError(frame, ErrorCode.UNKNOWN_TYPE, i);
    }
    await stillWorks(raw);
  });

  it('a frame over maxFrameSize closes the connection with 1009, and the server stays up', async () => {
    const raw = await h.raw();
    const before = await head();
    raw.send({ type: 'append', id: 50, journal: J, events: [{ name: 'huge', context: { s: 'x'.repeat(LIMITS.maxFrameSize) } }] });
    const { code } = await within(raw.closed, 5000, 'the server to close the connection');
    assert.equal(code, 1009);
    assert.equal(await head(), before);
    await stillWorks(await h.raw());
  });

  it('invalid UTF-8 in a text frame closes the connection with 1007, and the server stays up', async () => {
    const raw = await h.raw();
    raw.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    const { code } = await within(raw.closed, 5000, 'the server to close the connection');
    assert.equal(code, 1007);
    await stillWorks(await h.raw());
  });

  it('the canary saw every event appended meanwhile, exactly once and in order', async () => {
    const stored = await readAll(h.server.store, J);
    assert.ok(stored.length > 10, 'the tests above appended events');
    await canarySees(stored.at(-1)!.seq);
    assert.deepEqual(canarySeqs, range(1, stored.length));
    assert.deepEqual(
      stored.map((event) => event.seq),
      range(1, stored.length),
    );
  });
});
