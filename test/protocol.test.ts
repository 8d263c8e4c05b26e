import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ClientFrame, decodeServerFrame, EventEntry, isEventEntry, ServerFrame } from '../src/protocol.js';

const anyValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 }),
);
const entryLike = fc.record(
  {
    name: fc.oneof(fc.string(), anyValue),
    timestamp: fc.oneof(fc.double({ min: 0, max: 2e9 }), anyValue),
    context: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }), anyValue),
    seq: fc.oneof(fc.integer({ min: -2, max: 1e6 }), anyValue),
  },
  { requiredKeys: [] },
);

describe('protocol', () => {
  it('isEventEntry accepts exactly what the EventEntry schema accepts', () => {
    fc.assert(
      fc.property(fc.oneof(entryLike, anyValue), (value) => {
        assert.equal(isEventEntry(value), EventEntry.safeParse(value).success, JSON.stringify(value));
      }),
      { numRuns: 5000 },
    );
  });

  it('decodeServerFrame agrees with ServerFrame on response frames', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(entryLike, anyValue), { maxLength: 4 }), (events) => {
        const text = JSON.stringify({ type: 'response', id: 3, events });
        // JSON drops undefined, so compare against what actually travels.
        const expected = ServerFrame.safeParse(JSON.parse(text));
        let decoded: unknown;
        try {
          decoded = decodeServerFrame(text);
        } catch {
          decoded = undefined;
        }
        assert.equal(decoded !== undefined, expected.success, text);
        if (expected.success) assert.deepEqual(decoded, expected.data);
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps extra fields of a response for processResponse', () => {
    const frame = decodeServerFrame('{"type":"response","id":1,"events":[],"cursor":"abc"}');
    assert.equal(frame.type, 'response');
    assert.equal((frame as Record<string, unknown>)['cursor'], 'abc');
  });

  it('rejects text that is not JSON or not a frame', () => {
    assert.throws(() => decodeServerFrame('{'), SyntaxError);
    assert.throws(() => decodeServerFrame('{"type":"nope","id":1}'));
    assert.throws(() => decodeServerFrame('{"type":"ack","id":"1","seqs":[],"timestamps":[]}'));
  });

  it('applies subscribe defaults and refuses unknown fields', () => {
    const frame = ClientFrame.parse({ type: 'subscribe', id: 1, journal: 'jobs' });
    assert.deepEqual(frame, { type: 'subscribe', id: 1, journal: 'jobs', full: true, since: 0, payload: {} });
    assert.equal(ClientFrame.safeParse({ type: 'cancel', id: 1, extra: true }).success, false);
    assert.equal(ClientFrame.safeParse({ type: 'append', id: 1, journal: 'j', events: [] }).success, false);
    assert.equal(ClientFrame.safeParse({ type: 'append', id: 1, journal: '../x', events: [{ name: 'a' }] }).success, false);
  });
});
