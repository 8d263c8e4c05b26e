import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { AppendFrame, asAppendFrame, ClientFrame, decodeServerFrame, EventEntry, isEventEntry, ServerFrame } from '../src/protocol.js';
import { startServer } from './helpers.js';

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
/** Schema references, valid or broken in their id, version or keys. */
const schemaLike = fc.oneof(
  fc.record({ id: fc.constantFrom('urn:a', 'https://example.com/s.json#x'), version: fc.integer({ min: 1, max: 1e6 }) }),
  fc.record(
    {
      id: fc.oneof(fc.constantFrom('urn:a', '', 'no-scheme', 'urn:a b', `urn:${'x'.repeat(481)}`, `urn:${'x'.repeat(480)}`), fc.string(), anyValue),
      version: fc.oneof(fc.constantFrom(0, -1, 1.5, 2 ** 53, 1), anyValue),
      extra: fc.constant(1),
    },
    { requiredKeys: [] },
  ),
  anyValue,
);
const entryLike = fc.record(
  {
    name: fc.oneof(fc.string(), anyValue),
    timestamp: fc.oneof(fc.double({ min: 0, max: 2e9 }), anyValue),
    context: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }), anyValue),
    seq: fc.oneof(fc.integer({ min: -2, max: 1e6 }), anyValue),
    schema: schemaLike,
  },
  { requiredKeys: [] },
);

/** A valid append frame, then none, one or two changes that may make it invalid. */
const validEvent = fc.record(
  {
    name: fc.string({ minLength: 1, maxLength: 3 }),
    context: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
    schema: schemaLike,
    // Mostly valid, so that valid frames stay common; the rare invalid ones test the refusals.
    seq: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 1e6 }), weight: 9 }, { arbitrary: fc.constantFrom(0, -1, 1.5, Number.MAX_SAFE_INTEGER + 1), weight: 1 }),
    timestamp: fc.oneof({ arbitrary: fc.double({ min: 0, max: 2e9, noNaN: true }), weight: 9 }, { arbitrary: fc.constantFrom(-1, Infinity, '1'), weight: 1 }),
  },
  { requiredKeys: ['name'] },
);
const validAppend = fc.record(
  {
    type: fc.constant('append'),
    id: fc.integer({ min: 0, max: 100 }),
    journal: fc.constantFrom('jobs', 'a.b-c_1', 'x'.repeat(128)),
    events: fc.array(validEvent, { minLength: 1, maxLength: 3 }),
    key: fc.oneof(fc.string({ minLength: 1, maxLength: 3 }), fc.constant('k'.repeat(128))),
    preserve: fc.oneof({ arbitrary: fc.boolean(), weight: 9 }, { arbitrary: fc.constantFrom(1, 'true', null), weight: 1 }),
  },
  { requiredKeys: ['type', 'id', 'journal', 'events'] },
);
const edgeValue = fc.oneof(
  anyValue,
  fc.constantFrom('', 'subscribe', '-bad', 'x'.repeat(129), 'k'.repeat(129), -1, -0, 1.5, Number.MAX_SAFE_INTEGER + 1, [], [{}], [[]]),
  fc.array(fc.oneof(validEvent, anyValue), { maxLength: 2 }),
  validEvent.map((event) => ({ ...event, extra: 1 })),
  fc.record({ name: anyValue, context: anyValue }, { requiredKeys: [] }),
);
type Change = (frame: Record<string, unknown>) => Record<string, unknown>;
const change: fc.Arbitrary<Change> = fc.oneof(
  fc.constant((frame: Record<string, unknown>) => frame),
  fc
    .tuple(fc.constantFrom('type', 'id', 'journal', 'events', 'key', 'preserve', 'extra'), edgeValue)
    .map(([key, value]): Change => (frame) => ({ ...frame, [key]: value })),
  fc.constantFrom('type', 'id', 'journal', 'events', 'key').map((key): Change => (frame) => {
    const { [key]: _dropped, ...rest } = frame;
    return rest;
  }),
  fc.tuple(fc.nat(2), edgeValue).map(([index, value]): Change => (frame) => {
    if (!Array.isArray(frame['events'])) return frame;
    const events: unknown[] = [...(frame['events'] as unknown[])];
    events[Math.min(index, Math.max(0, events.length - 1))] = value;
    return { ...frame, events };
  }),
);
const appendLike = fc
  .tuple(validAppend, change, change)
  .map(([frame, first, second]) => second(first(frame as Record<string, unknown>)));

/** A valid ack, then none, one or two changes (a field replaced, dropped, or one added). */
const validAck = fc.record({
  type: fc.constant('ack'),
  id: fc.integer({ min: 0, max: 100 }),
  seqs: fc.array(fc.integer({ min: 1, max: 1e6 }), { maxLength: 3 }),
  timestamps: fc.array(fc.double({ min: 0, max: 2e9, noNaN: true }), { maxLength: 3 }),
});
const ackEdge = fc.oneof(
  anyValue,
  fc.constantFrom('ack', 'response', -1, 0, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, [], [0], [1, 2], [-1], [1.5], ['1'], [null]),
  fc.array(fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double(), anyValue), { maxLength: 2 }),
);
type AckChange = (frame: Record<string, unknown>) => Record<string, unknown>;
const ackChange: fc.Arbitrary<AckChange> = fc.oneof(
  fc.constant((frame: Record<string, unknown>) => frame),
  fc
    .tuple(fc.constantFrom('type', 'id', 'seqs', 'timestamps', 'extra'), ackEdge)
    .map(([key, value]): AckChange => (frame) => ({ ...frame, [key]: value })),
  fc.constantFrom('type', 'id', 'seqs', 'timestamps').map((key): AckChange => (frame) => {
    const { [key]: _dropped, ...rest } = frame;
    return rest;
  }),
);
const ackLike = fc.tuple(validAck, ackChange, ackChange).map(([frame, first, second]) => second(first(frame)));

/**
 * True when `value` holds an own `__proto__` key at any depth, as JSON.parse makes from
 * `{"__proto__": …}`. zod copies a record key by assignment, which sets the copy's prototype
 * instead, so its result lacks the key: the hand-written checks return the parsed object
 * itself, key and all, and only their accept/refuse answer is compared with zod's there.
 */
function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Object.prototype.hasOwnProperty.call(value, '__proto__')) return true;
  return Object.values(value).some(hasProtoKey);
}

/**
 * Holds decodeServerFrame to ServerFrame over `frames`: the same answer, and on success the
 * same value. Frames go through JSON first, since that is what travels (it drops undefined).
 * Returns how many were valid.
 */
function decodesAsZodDoes(frames: fc.Arbitrary<unknown>, numRuns: number): number {
  let accepted = 0;
  fc.assert(
    fc.property(frames, (frame) => {
      const text = JSON.stringify(frame);
      const expected = ServerFrame.safeParse(JSON.parse(text));
      let decoded: unknown;
      try {
        decoded = decodeServerFrame(text);
      } catch {
        decoded = undefined;
      }
      assert.equal(decoded !== undefined, expected.success, text);
      if (expected.success) {
        accepted++;
        if (!hasProtoKey(JSON.parse(text))) assert.deepEqual(decoded, expected.data);
      }
    }),
    { numRuns },
  );
  return accepted;
}

describe('protocol', () => {
  it('isEventEntry accepts exactly what the EventEntry schema accepts', () => {
    fc.assert(
      fc.property(fc.oneof(entryLike, anyValue), (value) => {
        assert.equal(isEventEntry(value), EventEntry.safeParse(value).success, JSON.stringify(value));
      }),
      { numRuns: 5000 },
    );
  });

  it('asAppendFrame accepts exactly what the AppendFrame schema accepts', () => {
    let accepted = 0;
    fc.assert(
      fc.property(appendLike, (value) => {
        // The server only sees what JSON carries.
        const json = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
        const fast = asAppendFrame(json);
        const expected = AppendFrame.safeParse(json);
        assert.equal(fast !== undefined, expected.success, JSON.stringify(json));
        if (expected.success) {
          accepted++;
          if (!hasProtoKey(json)) assert.deepEqual(fast, expected.data);
        }
      }),
      { numRuns: 20_000 },
    );
    // The generator must reach both answers, or the property proves little.
    assert.ok(accepted > 100, `only ${accepted} valid frames generated`);
  });

  it('asAppendFrame keeps a context key named __proto__ as an own key, where zod drops it', () => {
    const json = JSON.parse('{"type":"append","id":0,"journal":"jobs","events":[{"name":"e","context":{"__proto__":{"a":1}}}]}') as Record<string, unknown>;
    const frame = asAppendFrame(json)!;
    const context = frame.events[0]!.context!;
    assert.ok(Object.prototype.hasOwnProperty.call(context, '__proto__'));
    assert.equal(Object.getPrototypeOf(context), Object.prototype);
    assert.equal(JSON.stringify(context), '{"__proto__":{"a":1}}');
    assert.equal(AppendFrame.safeParse(json).success, true, 'zod accepts it too');
  });

  it('decodeServerFrame agrees with ServerFrame on response frames', () => {
    const frames = fc.array(fc.oneof(entryLike, anyValue), { maxLength: 4 }).map((events) => ({ type: 'response', id: 3, events }));
    decodesAsZodDoes(frames, 3000);
  });

  it('decodeServerFrame agrees with ServerFrame on ack frames, and returns what zod returns', () => {
    const accepted = decodesAsZodDoes(ackLike, 5000);
    // The generator must reach both answers, or the property proves little.
    assert.ok(accepted > 100, `only ${accepted} valid acks generated`);
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

describe('the server hello', () => {
  it('is the first frame, and the client schema reads the limits the server was given', async (t) => {
    const server = await startServer({ maxFrameSize: 300_000, maxEventsPerAppend: 77, maxEventSize: 12_345 });
    t.after(() => server.close());
    const ws = new WebSocket(server.url);
    t.after(() => ws.terminate());
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no hello within 5 s')), 5000);
      ws.once('message', (data) => {
        clearTimeout(timer);
        resolve(data.toString());
      });
      ws.once('error', reject);
    });
    const frame = decodeServerFrame(first);
    assert.deepEqual(frame, { type: 'hello', version: 1, limits: { maxFrameSize: 300_000, maxEventsPerAppend: 77, maxEventSize: 12_345 } });
    // Every key of the frame is one the schema names: nothing the client would silently drop.
    assert.deepEqual(Object.keys(JSON.parse(first) as object).sort(), ['limits', 'type', 'version']);
  });
});
