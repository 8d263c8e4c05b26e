/**
 * The accept-only checks of contexts' JSON text (server/schemas/text-check.ts) against Ajv, the
 * validator they stand in front of: a check never passes a context that Ajv refuses, it passes
 * the plain contexts Ajv accepts (else it would save nothing), and it gives up on what it does
 * not read. Last, the server refuses and stores the same whichever of the two decides.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { textCheckOf, MAX_PROPERTIES } from '../server/schemas/text-check.js';
import { valueEnd } from '../server/append-decoder.js';
import { handle } from '../server/schemas/validator-core.js';
import { ErrorCode, JournalError } from '../src/errors.js';
import { Harness, readAll } from './harness.js';

const READING = {
  $id: 'urn:test:reading',
  version: 1,
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^f[0-9a-z]+$', maxLength: 12 },
    level: { enum: ['debug', 'info', 'warn'] },
    count: { type: 'integer', minimum: 0, maximum: 1000 },
    ratio: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    flag: { type: ['boolean', 'null'] },
    note: true,
  },
  required: ['id', 'count'],
  additionalProperties: false,
};

/** Ajv's verdict on `context` (JSON text) against `schema`, through the validator the server runs; undefined when Ajv cannot compile the schema (the server would not register it). */
function ajvVerdict(schema: object, context: string): boolean | undefined {
  const json = JSON.stringify(schema);
  const reply = handle({ op: 'validate', seq: 1, schemas: [[`key:${json}`, json]], contexts: `[${context}]`, events: [0, 0], maxDetails: 5 });
  return reply.error === undefined ? reply.details?.length === 0 : undefined;
}

function ajvAccepts(schema: object, context: string): boolean {
  const verdict = ajvVerdict(schema, context);
  assert.ok(verdict !== undefined, `Ajv compiles ${JSON.stringify(schema)}`);
  return verdict;
}

/** The schema's check, of a whole context's text, and of the same text inside a larger one: true when it passes the context whole. */
function checkOf(schema: object): (context: string) => boolean {
  const check = textCheckOf(JSON.stringify(schema));
  assert.ok(check !== undefined, `a check for ${JSON.stringify(schema)}`);
  return (context) => {
    const end = check(context, 0);
    assert.ok(end === -1 || end === context.length, `a pass ends with the context: ${context}`);
    const framed = `{"context":${context},"schema":1}`;
    assert.equal(check(framed, 11), end === -1 ? -1 : 11 + context.length, `the same verdict in place: ${context}`);
    return end !== -1;
  };
}

describe('textCheckOf', () => {
  it('passes the plain contexts Ajv accepts', () => {
    const check = checkOf(READING);
    const accepted = [
      { id: 'f3x', count: 0 },
      { id: 'f3x', count: 1000, level: 'warn', ratio: 0.5, flag: null, note: { any: ['thing'] } },
      { count: 7, flag: true, id: 'fzz' },
      // Numbers read as JSON.parse reads them: 1.0 and 1e2 are integers.
      '{"id":"f1","count":1.0}',
      '{"id":"f1","count":1e2}',
      // A surrogate pair is one character.
      { id: 'f1', count: 1, note: '😀' },
    ];
    for (const context of accepted) {
      const text = typeof context === 'string' ? context : JSON.stringify(context);
      assert.equal(ajvAccepts(READING, text), true, text);
      assert.equal(check(text), true, text);
    }
    const lengths = checkOf({ properties: { s: { type: 'string', maxLength: 2, minLength: 2 } } });
    assert.equal(lengths('{"s":"😀😀"}'), true);
    assert.equal(lengths('{"s":"😀"}'), false);
    // Long strings too, whose plain runs are skipped in one step.
    const long = checkOf({ properties: { s: { type: 'string', maxLength: 41, minLength: 41, pattern: '^a+' } } });
    assert.equal(long(JSON.stringify({ s: `${'a'.repeat(40)}😀` })), true);
    assert.equal(long(JSON.stringify({ s: `${'a'.repeat(20)}😀${'a'.repeat(20)}` })), true);
    assert.equal(long(JSON.stringify({ s: `${'a'.repeat(41)}😀` })), false);
    // Its text is 41 units long, but not its value: the check gives up on the escape.
    assert.equal(long(JSON.stringify({ s: `${'a'.repeat(30)}\n${'a'.repeat(9)}` })), false);
  });

  it('never passes a context Ajv refuses, and gives up on what it does not read', () => {
    const check = checkOf(READING);
    const refused = [
      { count: 1 },
      { id: 'f3x' },
      { id: 'F3X', count: 1 },
      { id: 'f0123456789ab', count: 1 },
      { id: 'f3x', count: -1 },
      { id: 'f3x', count: 1001 },
      { id: 'f3x', count: 1.5 },
      { id: 'f3x', count: '1' },
      { id: 'f3x', count: 1, level: 'error' },
      { id: 'f3x', count: 1, ratio: 0 },
      { id: 'f3x', count: 1, ratio: 1 },
      { id: 'f3x', count: 1, flag: 0 },
      { id: 'f3x', count: 1, other: 1 },
      { id: 7, count: 1 },
    ];
    for (const context of refused) {
      const text = JSON.stringify(context);
      assert.equal(ajvAccepts(READING, text), false, text);
      assert.equal(check(text), false, text);
    }
    // Accepted by Ajv, but not read here: Ajv decides.
    const unread = [
      '{"id":"f\\u0033x","count":1}',
      '{"\\u0069d":"f3x","count":1}',
      '{"id":"f3x","count":1,"count":2}',
      '{ "id":"f3x","count":1}',
    ];
    for (const text of unread) {
      assert.equal(ajvAccepts(READING, text), true, text);
      assert.equal(check(text), false, text);
    }
    const counted = checkOf({ properties: { a: true, b: true, c: true }, maxProperties: 2 });
    assert.equal(counted('{"a":1,"b":2}'), true);
    assert.equal(counted('{"a":1,"b":2,"c":3}'), false);
    // A key the schema does not name may repeat, and JSON.parse counts it once: Ajv counts.
    assert.equal(counted('{"a":1,"x":2}'), false);
  });

  it('passes only JSON that the append decoder reads the same way, up to the same index', () => {
    const check = checkOf(READING);
    const open = checkOf({ properties: { a: { type: 'string' } }, additionalProperties: true });
    const text = (count: string, id = '"f1"', note = '1'): string => `{"id":${id},"count":${count},"note":${note}}`;
    assert.equal(check(text('1')), true);
    // Numbers JSON has not, and -0, which the decoder leaves to the general path.
    for (const count of ['01', '00', '-', '-01', '-0', '-0.0', '1.', '.5', '+1', '1e', '--1', '0x1']) {
      assert.equal(check(text(count)), false, count);
    }
    // Raw control characters and lone surrogates in strings, as values and as keys (also after a long plain run).
    for (const bad of ['\u0000', '\n', '\u001f', '\ud800', '\udc00', '\ud800a', '\udc00\ud800', '\udc00\udc00', '\ud800\ud800']) {
      for (const run of ['', 'a'.repeat(40)]) {
        assert.equal(check(text('1', `"f${run}${bad}"`)), false, JSON.stringify(bad));
        assert.equal(check(text('1', '"f1"', `"${run}${bad}"`)), false, JSON.stringify(bad));
        assert.equal(open(`{"${run}${bad}":1}`), false, JSON.stringify(bad));
      }
    }
    // Whitespace, a trailing comma, an object left open at the end of the text.
    for (const broken of ['{"a":"x" }', '{"a" :"x"}', '{ "a":"x"}', '{"a":"x",}', '{"a":"x",']) {
      assert.equal(open(broken), false, broken);
    }
    // Values it does not look into are read by the decoder's own reader, bounds and all.
    assert.equal(open(`{"b":${'['.repeat(63)}1${']'.repeat(63)}}`), true);
    assert.equal(open(`{"b":${'['.repeat(64)}1${']'.repeat(64)}}`), false);
    assert.equal(open('{"b":[1e400]}'), false);
    // Surrogate pairs in string values are read; a key holding one is left to Ajv.
    assert.equal(open('{"a":"😀","b":"😀"}'), true);
    assert.equal(open('{"😀":1}'), false);
    // A schema whose property names the text would have to escape, or that the decoder refuses raw, gets no check.
    for (const name of ['a"b', 'a\\b', '\u0001', '\ud800']) {
      assert.equal(textCheckOf(JSON.stringify({ properties: { [name]: { type: 'string' } } })), undefined, JSON.stringify(name));
    }
  });

  it('reads any text as the decoder does: a pass ends where the decoder ends the object, and Ajv accepts it', () => {
    const fragments = fc.constantFrom(
      '01', '-0', '-', '-0.0', '1.', '1e400', '1e5', '0.5', '"\\u0041"', '"\\n"', '"a\\"', 'tru', 'nul', 'true', 'null',
      '\u0001', '\ud800', '\udc00', '😀', ' ', '"', '\\', ',', ':', '{', '}', '[', ']', 'é', 'a'.repeat(20),
    );
    const names = fc.constantFrom('a', 'b', 'id', 'n');
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      fragments,
      fc.tuple(fragments, fragments).map(([x, y]) => `"${x}${y}"`),
    );
    const context = fc.array(fc.tuple(names, value), { maxLength: 4 }).map((members) => `{${members.map(([key, v]) => `"${key}":${v}`).join(',')}}`);
    // Edits anywhere: a fragment put in, or a character dropped.
    const edited = fc.tuple(context, fc.nat(), fragments, fc.boolean()).map(([text, at, fragment, insert]) => {
      const k = at % (text.length + 1);
      return insert ? text.slice(0, k) + fragment + text.slice(k) : text.slice(0, k) + text.slice(k + 1);
    });
    const schema = fc.record({
      properties: fc.record(
        {
          a: fc.constantFrom<object | boolean>({ type: 'string' }, { type: 'string', maxLength: 3 }, true, { type: ['string', 'number'] }),
          b: fc.constantFrom<object | boolean>({ type: 'number' }, { type: 'integer', minimum: 0 }, true, { enum: [1, 'a', null, true] }),
          id: fc.constantFrom<object | boolean>({ type: 'string', pattern: '^a' }, { type: ['null', 'boolean'] }, true),
        },
        { requiredKeys: [] },
      ),
      additionalProperties: fc.boolean(),
    });
    let passed = 0;
    fc.assert(
      fc.property(schema, fc.oneof(context, edited), fc.nat(3), (flat, body, pad) => {
        const check = textCheckOf(JSON.stringify(flat));
        assert.ok(check !== undefined);
        // In place in a larger text, as in a frame.
        const text = `${'x'.repeat(pad)}${body},"schema"`;
        const end = check(text, pad);
        if (end < 0) return;
        passed++;
        assert.equal(valueEnd(text, pad, 0), end, `the decoder reads ${JSON.stringify(text)} to the same end`);
        assert.equal(ajvVerdict(flat, text.slice(pad, end)), true, `Ajv accepts ${JSON.stringify(text.slice(pad, end))}`);
      }),
      { numRuns: 10000 },
    );
    assert.ok(passed > 1000, `${passed} passes`);
  });

  it('gives no check to a schema it cannot read whole', () => {
    const none: [string, object][] = [
      ['anyOf', { properties: { a: { anyOf: [{ type: 'string' }] } } }],
      ['a nested object schema', { properties: { a: { type: 'object', properties: { b: { type: 'string' } } } } }],
      ['patternProperties', { patternProperties: { '^a': { type: 'string' } } }],
      ['format', { properties: { a: { type: 'string', format: 'email' } } }],
      ['multipleOf', { properties: { a: { type: 'number', multipleOf: 0.1 } } }],
      ['a pattern not proved linear', { properties: { a: { type: 'string', pattern: '^(a+)+$' } } }],
      ['additionalProperties as a schema', { additionalProperties: { type: 'string' } }],
      ['a required name without a property', { properties: { a: true }, required: ['b'] }],
      ['a name every object has', { properties: { constructor: { type: 'string' } } }],
      ['a root that is not an object', { type: 'string' }],
      ['too many properties', { properties: Object.fromEntries(Array.from({ length: MAX_PROPERTIES + 1 }, (_, i) => [`p${i}`, true])) }],
      ['an enum of objects', { properties: { a: { enum: [{ x: 1 }] } } }],
    ];
    for (const [why, schema] of none) assert.equal(textCheckOf(JSON.stringify(schema)), undefined, why);
    assert.equal(textCheckOf('not json'), undefined);
  });

  it('agrees with Ajv on random flat schemas and contexts (a pass is always Ajv\'s pass)', () => {
    const primitive = fc.oneof(fc.constantFrom('', 'a', 'abc', 'xy', 'b'), fc.integer({ min: -3, max: 3 }), fc.constantFrom(0.5, -1.5), fc.boolean(), fc.constant(null));
    const typeName = fc.constantFrom('string', 'integer', 'number', 'boolean', 'null', 'object', 'array');
    const bound = fc.integer({ min: -3, max: 3 });
    // Each kind of property schema on its own, so that contexts often meet it and passes are many.
    const propertySchema = fc.oneof(
      fc.constant(true),
      fc.record({ type: fc.oneof(typeName, fc.uniqueArray(typeName, { minLength: 1, maxLength: 3 })) }),
      // One bound at a time: a value then often meets all but one, which the check must see.
      fc.constantFrom('minLength', 'maxLength', 'pattern').chain((keyword) =>
        fc.record({ type: fc.constant('string'), [keyword]: keyword === 'pattern' ? fc.constantFrom('^a', '^[a-c]+$', 'b$', '^x*y$') : fc.nat(3) }),
      ),
      fc.constantFrom('minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum').chain((keyword) =>
        fc.record({ type: fc.constantFrom('integer', 'number'), [keyword]: bound }),
      ),
      fc.record({ enum: fc.uniqueArray(primitive, { minLength: 1, maxLength: 4, comparator: 'SameValueZero' }) }),
      fc.record({ const: primitive }),
    );
    const names = fc.constantFrom('a', 'b', 'c', 'id', 'é', 'n1');
    const schema = fc
      .record(
        {
          properties: fc.dictionary(names, propertySchema, { maxKeys: 4 }),
          additionalProperties: fc.boolean(),
          minProperties: fc.nat(2),
          maxProperties: fc.integer({ min: 1, max: 5 }),
          requiredCount: fc.nat(2),
        },
        { requiredKeys: ['properties', 'requiredCount'] },
      )
      .map(({ requiredCount, ...rest }) => ({ type: 'object', ...rest, required: Object.keys(rest.properties).slice(0, requiredCount) }));
    const value = fc.oneof(
      { weight: 6, arbitrary: primitive },
      fc.constantFrom('aaa', 'xxy', 'y', '😀', 'a\n', 1e2, 2.0, -0.25, `${'a'.repeat(20)}😀`, `${'a'.repeat(20)}"`, 'b'.repeat(30)),
      fc.array(fc.integer(), { maxLength: 2 }),
      fc.dictionary(fc.string({ maxLength: 2 }), fc.integer(), { maxKeys: 2 }),
    );
    const context = fc.dictionary(fc.oneof({ weight: 6, arbitrary: names }, fc.string({ maxLength: 3 })), value, { maxKeys: 4 });
    let passed = 0;
    fc.assert(
      fc.property(schema, context, (flat, body) => {
        const check = textCheckOf(JSON.stringify(flat));
        if (check === undefined) return;
        const text = JSON.stringify(body);
        if (check(text, 0) !== text.length) return;
        const verdict = ajvVerdict(flat, text);
        if (verdict === undefined) return;
        passed++;
        assert.equal(verdict, true, `passed ${text} against ${JSON.stringify(flat)}`);
      }),
      { numRuns: 10000 },
    );
    // The property means something only if passes happen.
    assert.ok(passed > 300, `${passed} passes`);
  });
});

describe('validation with text checks in the server', () => {
  it('stores what the checks pass and refuses, with Ajv\'s details, what they do not', async (t) => {
    const harness = await Harness.start(t, { schemas: [READING] });
      const ref = { id: READING.$id, version: READING.version };
    const producer = harness.producer('readings');
    const passes = await producer.appendMany([
      { name: 'r', context: { id: 'f1', count: 1 }, schema: ref },
      { name: 'r', context: { id: 'f2', count: 2, note: [1, { a: 'é' }] }, schema: ref },
      // Not read by the check (an escape): Ajv accepts it.
      { name: 'r', context: { id: 'f3', count: 3, note: 'a"b' }, schema: ref },
    ]);
    assert.equal(passes.length, 3);
    await assert.rejects(
      producer.appendMany([
        { name: 'r', context: { id: 'f4', count: 4 }, schema: ref },
        { name: 'r', context: { id: 'f5', count: 5000 }, schema: ref },
      ]),
      (error: unknown) => {
        assert.ok(error instanceof JournalError);
        assert.equal(error.code, ErrorCode.SCHEMA_VIOLATION);
        assert.deepEqual(
          error.details?.map(({ index, path }) => [index, path]),
          [[1, '/count']],
        );
        return true;
      },
    );
    const stored = await readAll(harness.server.store, 'readings');
    assert.deepEqual(
      stored.map((event) => (JSON.parse(event.json) as { context: { id: string } }).context.id),
      ['f1', 'f2', 'f3'],
    );
  });
});
