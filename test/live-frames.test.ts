/**
 * How live events are framed: the appends one turn of the server's event loop
 * runs (one socket read's, say) reach a subscriber in one response frame, in
 * order, up to a size; and events taken before a subscription ends are sent
 * before its `end`.
 */
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
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
});
