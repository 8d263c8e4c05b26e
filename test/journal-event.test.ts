/** JournalEvent: fields, defaults, contextString, isEmpty, toString and toJSON as SPEC section 2 gives them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventLogConsumer } from '../src/event-log-consumer.js';
import { JournalEvent } from '../src/journal-event.js';

describe('JournalEvent', () => {
  it('keeps the fields of its entry', () => {
    const event = new JournalEvent({ name: 'submit', timestamp: 1.5, context: { id: 7, user: 'ann' }, seq: 3 });
    assert.equal(event.name, 'submit');
    assert.equal(event.timestamp, 1.5);
    assert.deepEqual(event.context, { id: 7, user: 'ann' });
    assert.equal(event.seq, 3);
  });

  it('defaults the timestamp to now, the context to {} and leaves seq undefined', () => {
    const before = Date.now() / 1000;
    const event = new JournalEvent({ name: 'submit' });
    const after = Date.now() / 1000;
    assert.ok(event.timestamp >= before && event.timestamp <= after, `${event.timestamp} is not the time of construction`);
    assert.deepEqual(event.context, {});
    assert.equal(event.seq, undefined);
  });

  it('keeps a timestamp of 0 rather than replacing it with now', () => {
    assert.equal(new JournalEvent({ name: 'x', timestamp: 0 }).timestamp, 0);
  });

  it('is empty exactly when it has no name', () => {
    assert.equal(new JournalEvent({}).isEmpty(), true);
    assert.equal(new JournalEvent({ timestamp: 2, context: { a: 1 } }).isEmpty(), true);
    assert.equal(new JournalEvent({ name: 'x' }).isEmpty(), false);
    assert.equal(new JournalEvent({}).name, undefined);
  });

  describe('contextString', () => {
    it('is "" for an empty context', () => {
      assert.equal(new JournalEvent({ name: 'x' }).contextString, '');
      assert.equal(new JournalEvent({ name: 'x', context: {} }).contextString, '');
    });

    it('lists k=v pairs with keys sorted, strings as they are, everything else JSON-encoded', () => {
      const event = new JournalEvent({
        name: 'x',
        timestamp: 1,
        context: { zeta: 'last', b: 2, a: 'plain text', n: null, t: true, o: { d: [1, 'y'] }, f: 0.5 },
      });
      assert.equal(event.contextString, 'a=plain text,b=2,f=0.5,n=null,o={"d":[1,"y"]},t=true,zeta=last');
    });

    it('does not quote a string that looks like a number, and quotes nothing inside plain strings', () => {
      const event = new JournalEvent({ name: 'x', context: { id: '42', s: 'say "hi"' } });
      assert.equal(event.contextString, 'id=42,s=say "hi"');
    });

    it('sorts keys as strings, whatever order they were given in', () => {
      const one = new JournalEvent({ name: 'x', context: { b: 1, a: 2, c: 3 } });
      const two = new JournalEvent({ name: 'x', context: { c: 3, a: 2, b: 1 } });
      assert.equal(one.contextString, 'a=2,b=1,c=3');
      assert.equal(two.contextString, one.contextString);
    });
  });

  describe('toString', () => {
    it('is "<ts.toFixed(5)> <name> <contextString>"', () => {
      const event = new JournalEvent({ name: 'submit', timestamp: 1.5, context: { id: 7, user: 'ann' } });
      assert.equal(event.toString(), '1.50000 submit id=7,user=ann');
      assert.equal(`${event}`, '1.50000 submit id=7,user=ann');
    });

    it('keeps the separator before an empty contextString, exactly as the template says', () => {
      assert.equal(new JournalEvent({ name: 'submit', timestamp: 1.5 }).toString(), '1.50000 submit ');
    });

    it('rounds the timestamp to five decimals', () => {
      const event = new JournalEvent({ name: 'alloc', timestamp: 1700000000.123456, context: { n: 1 } });
      assert.equal(event.toString(), '1700000000.12346 alloc n=1');
    });

    it('is "<ts.toFixed(5)> End of historical data stream" for the empty event', () => {
      assert.equal(new JournalEvent({ timestamp: 2.25 }).toString(), '2.25000 End of historical data stream');
      const sentinel = EventLogConsumer.SENTINEL_EVENT;
      assert.equal(sentinel.toString(), `${sentinel.timestamp.toFixed(5)} End of historical data stream`);
    });
  });

  describe('toJSON', () => {
    it('gives the entry { name, timestamp, context, seq }', () => {
      const event = new JournalEvent({ name: 'submit', timestamp: 1.5, context: { id: 7 }, seq: 3 });
      assert.deepEqual(event.toJSON(), { name: 'submit', timestamp: 1.5, context: { id: 7 }, seq: 3 });
      assert.deepEqual(JSON.parse(JSON.stringify(event)), { name: 'submit', timestamp: 1.5, context: { id: 7 }, seq: 3 });
    });

    it('gives only timestamp and context for the empty event', () => {
      const event = new JournalEvent({ timestamp: 4 });
      assert.deepEqual(JSON.parse(JSON.stringify(event)), { timestamp: 4, context: {} });
    });

    it('round-trips through the constructor', () => {
      const event = new JournalEvent({ name: 'run', timestamp: 9.000001, context: { a: [1, 2], b: 'x' }, seq: 12 });
      const copy = new JournalEvent(JSON.parse(JSON.stringify(event)));
      assert.deepEqual(
        [copy.name, copy.timestamp, copy.context, copy.seq, copy.toString()],
        [event.name, event.timestamp, event.context, event.seq, event.toString()],
      );
    });
  });
});
