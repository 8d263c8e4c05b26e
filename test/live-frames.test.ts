/**
 * How live events are framed: the appends one turn of the server's event loop
 * runs (one socket read's, say) reach a subscriber in one response frame, in
 * order, up to a size; and events taken before a subscription ends are sent
 * before its `end`.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { batchTail, liveFragments, type LivePart } from '../server/live-frame.js';
import type { StoredEvent } from '../server/store.js';
import { Harness, type Frame, type RawClient } from './harness.js';

const J = 'frames';

/** A raw client subscribed to J for new events only, with `subscribed` received. */
async function liveSubscriber(h: Harness, id = 1): Promise<RawClient> {
  const raw = await h.raw();
  raw.send({ type: 'subscribe', id, journal: J, full: false });
  const [subscribed] = await raw.until((frame) => frame.type === 'subscribed');
  assert.equal(subscribed!['id'], id);
  return raw;
}

function eventsOf(frame: Frame): { seq: number; context: { i: number } }[] {
  assert.equal(frame.type, 'response', `expected a response frame, got ${JSON.stringify(frame).slice(0, 200)}`);
  return frame['events'] as { seq: number; context: { i: number } }[];
}

describe('live frames', () => {
  it('sends the appends of one turn in one response frame, in order', async (t) => {
    const h = await Harness.start(t);
    const raw = await liveSubscriber(h);
    // Three appends in one turn, as one socket read of three append frames would make.
    const appended = [0, 1, 2].map((i) => h.server.store.append(J, [{ name: 'e', context: { i } }]));
    await Promise.all(appended);
    const events = eventsOf(await raw.next());
    assert.deepEqual(events.map((event) => [event.seq, event.context.i]), [[1, 0], [2, 1], [3, 2]]);
    // The next turn's append comes in a frame of its own.
    await h.server.store.append(J, [{ name: 'e', context: { i: 3 } }]);
    assert.deepEqual(eventsOf(await raw.next()).map((event) => event.seq), [4]);
  });

  it('starts a new frame once one turn holds more than 64 KiB of events, and loses none', async (t) => {
    const h = await Harness.start(t);
    const raw = await liveSubscriber(h);
    const pad = 'x'.repeat(10_000);
    // 20 events of ~10 KB in one turn: ~200 KB, too much for one frame.
    const appended = Array.from({ length: 20 }, (_, i) => h.server.store.append(J, [{ name: 'e', context: { i, pad } }]));
    await Promise.all(appended);
    const frames: Frame[] = [];
    let received = 0;
    while (received < 20) {
      const frame = await raw.next();
      frames.push(frame);
      received += eventsOf(frame).length;
    }
    assert.ok(frames.length >= 3, `200 KB of events came in ${frames.length} frame(s)`);
    assert.ok(frames.length < 20, 'events of one turn still share frames');
    for (const frame of frames) assert.ok(JSON.stringify(frame).length < 80_000, 'each frame stays near the 64 KiB mark');
    assert.deepEqual(frames.flatMap(eventsOf).map((event) => event.context.i), Array.from({ length: 20 }, (_, i) => i));
  });

  it('sends the events of a turn before the end of a subscription cancelled in the same turn', async (t) => {
    const h = await Harness.start(t);
    const raw = await liveSubscriber(h, 7);
    // Two appends and the cancel in one TCP write, so that the server reads and handles them in one turn.
    const socket = (raw.ws as unknown as { _socket: Socket })._socket;
    socket.cork();
    raw.send({ type: 'append', id: 10, journal: J, events: [{ name: 'e', context: { i: 0 } }] });
    raw.send({ type: 'append', id: 11, journal: J, events: [{ name: 'e', context: { i: 1 } }] });
    raw.send({ type: 'cancel', id: 7 });
    socket.uncork();
    const frames: Frame[] = [];
    while (!(frames.some((frame) => frame.type === 'end') && frames.filter((frame) => frame.type === 'ack').length === 2)) {
      frames.push(await raw.next());
    }
    const ofSubscription = frames.filter((frame) => frame['id'] === 7);
    assert.deepEqual(ofSubscription.map((frame) => frame.type), ['response', 'end'], 'the events, then the end');
    assert.deepEqual(eventsOf(ofSubscription[0]!).map((event) => event.context.i), [0, 1]);
  });

  it('frames batches shared by every subscriber and batches built for one alike, in order, in one frame per turn', async (t) => {
    const h = await Harness.start(t);
    const whole = await liveSubscriber(h, 1);
    const filtered = await h.raw();
    filtered.send({ type: 'subscribe', id: 2, journal: J, full: false, payload: { names: ['big'] } });
    await filtered.until((frame) => frame.type === 'subscribed');
    const pad = 'z'.repeat(2000);
    // Small and large (shared) batches alternate in one turn.
    const batches = [
      [{ name: 'small', context: { i: 0 } }],
      [{ name: 'big', context: { i: 1, pad } }, { name: 'small', context: { i: 2 } }],
      [{ name: 'small', context: { i: 3 } }],
      [{ name: 'big', context: { i: 4, pad } }],
    ];
    await Promise.all(batches.map((events) => h.server.store.append(J, events)));
    const all = eventsOf(await whole.next());
    assert.deepEqual(all.map((event) => [event.seq, event.context.i]), [[1, 0], [2, 1], [3, 2], [4, 3], [5, 4]]);
    const big = eventsOf(await filtered.next());
    assert.deepEqual(big.map((event) => [event.seq, event.context.i]), [[2, 1], [5, 4]]);
    // A lone large batch in a turn of its own.
    await h.server.store.append(J, [{ name: 'big', context: { i: 5, pad } }]);
    assert.deepEqual(eventsOf(await whole.next()).map((event) => event.context.i), [5]);
    assert.deepEqual(eventsOf(await filtered.next()).map((event) => event.context.i), [5]);
  });
});

describe('live frame fragments', () => {
  const event = (seq: number): StoredEvent => ({ seq, timestamp: seq, name: 'e', json: `{"seq":${seq}}` });
  const join = (fragments: readonly LivePart[]): string => fragments.map((fragment) => fragment.toString()).join('');

  it('encodes a batch once: every subscriber gets the same Buffer', () => {
    const batch = [event(1), event(2)];
    const tail = batchTail(batch);
    assert.equal(batchTail(batch), tail);
    assert.equal(tail.toString(), ',{"seq":1},{"seq":2}]}');
    assert.notEqual(batchTail([event(1), event(2)]), tail, 'another batch has its own');
  });

  it('joins strings and shared tails into one valid frame, whatever their order', () => {
    const a = batchTail([event(1)]);
    const b = batchTail([event(2), event(3)]);
    const cases: [LivePart[], number[]][] = [
      [['{"seq":9}'], [9]],
      [[a], [1]],
      [[a, b], [1, 2, 3]],
      [['{"seq":7}', a, '{"seq":8}'], [7, 1, 8]],
      [[a, '{"seq":7}', b], [1, 7, 2, 3]],
    ];
    for (const [parts, seqs] of cases) {
      const fragments = liveFragments(5, parts);
      assert.equal(typeof fragments[0], 'string', 'a text message: its first fragment is a string');
      const frame = JSON.parse(join(fragments)) as { type: string; id: number; events: { seq: number }[] };
      assert.equal(frame.type, 'response');
      assert.equal(frame.id, 5);
      assert.deepEqual(frame.events.map((e) => e.seq), seqs, JSON.stringify(parts.map(String)));
      const within = (view: Buffer, tail: Buffer): boolean =>
        view.buffer === tail.buffer && view.byteOffset >= tail.byteOffset && view.byteOffset + view.length <= tail.byteOffset + tail.length;
      for (const fragment of fragments) {
        if (typeof fragment !== 'string') assert.ok(within(fragment, a) || within(fragment, b), 'tails are sliced, not copied');
      }
    }
  });
});
