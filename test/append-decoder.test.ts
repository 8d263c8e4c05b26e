/**
 * The append fast path (server/append-decoder.ts) against the general path it stands in for,
 * `asAppendFrame(JSON.parse(text))` then `JSON.stringify` of each context: whenever the fast
 * path answers, its answer is the general path's; it answers for every frame the client
 * library writes (bar the numbers it is allowed to leave alone); and it never throws. Last,
 * the server answers and stores the same whichever path a frame takes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeAppend, type ContextCheckOf, type DecodedAppend } from '../server/append-decoder.js';
import { textCheckOf } from '../server/schemas/text-check.js';
import { ErrorCode } from '../src/errors.js';
import { asAppendFrame, type AppendFrame } from '../src/protocol.js';
import { Harness, readAll, type Frame, type RawClient } from './harness.js';

/** What the general path makes of `text`: the frame `asAppendFrame` accepts, or undefined. */
function generalPath(text: string): AppendFrame | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  return asAppendFrame(json as Record<string, unknown>);
}

/**
 * Decodes `text` and, when the fast path answers, holds its answer to the general path's:
 * the same id, journal, key and names, `nameJson` as JSON.stringify writes the name, and
 * contexts that parse to the same value, as the frame carried it and as a consumer reads it
 * back after the general path re-encodes it (which turns `1e400` into `null`, `-0` into `0`).
 * Returns the decoded frame.
 *
 * With `checkOf`, the decoder runs the schemas' checks on the contexts as it reads them: it
 * must decode exactly what it decodes without them, and mark `checked` only events whose
 * schema's check passes their context in place.
 */
function decodeAndCompare(text: string, checkOf?: ContextCheckOf): DecodedAppend | undefined {
  const decoded = decodeAppend(text, checkOf);
  if (checkOf !== undefined) {
    const withoutChecks = (append: DecodedAppend | undefined) => append && { ...append, events: append.events.map(({ checked: _, ...event }) => event) };
    assert.deepStrictEqual(withoutChecks(decoded), withoutChecks(decodeAppend(text)), text);
    for (const event of decoded?.events ?? []) {
      if (!event.checked) continue;
      const check = checkOf(event.schema!);
      assert.equal(check?.(text, event.contextStart), event.contextStart + event.contextJson.length, text);
    }
  } else {
    assert.ok(decoded?.events.every((event) => !event.checked) ?? true, 'no event is checked without checks');
  }
  if (decoded === undefined) return undefined;
  const frame = generalPath(text);
  assert.ok(frame !== undefined, `decoded, but the general path refuses ${JSON.stringify(text)}`);
  assert.equal(decoded.id, frame.id);
  assert.equal(decoded.journal, frame.journal);
  assert.equal(decoded.key, frame.key);
  assert.equal(decoded.events.length, frame.events.length);
  decoded.events.forEach((event, index) => {
    const expected = frame.events[index]!;
    assert.equal(event.name, expected.name);
    assert.equal(event.nameJson, JSON.stringify(expected.name));
    assert.equal(JSON.parse(event.nameJson), event.name);
    assert.deepStrictEqual(event.schema, expected.schema, text);
    const context = expected.context ?? {};
    assert.deepStrictEqual(JSON.parse(event.contextJson), context, text);
    assert.deepStrictEqual(JSON.parse(event.contextJson), JSON.parse(JSON.stringify(context)), text);
    // Where the context sits in the frame: what the text checks read in place.
    if (expected.context === undefined) assert.equal(event.contextStart, -1, text);
    else assert.equal(text.slice(event.contextStart, event.contextStart + event.contextJson.length), event.contextJson, text);
  });
  assert.equal(decoded.text, text);
  return decoded;
}

/** One UTF-16 unit or code point of every kind: control characters and lone surrogates included. */
const anyUnit = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code)),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
  fc.constantFrom('"', '\\', '/', ' ', '\u2028', 'é', '😀', 'a', 'z'),
);
const anyString = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: anyUnit, maxLength });
/** A string whose units of every kind come after a run of plain ones, which the decoder skips in one step. */
const longString = fc.tuple(fc.integer({ min: 10, max: 40 }), anyString(8)).map(([run, rest]) => `${'a'.repeat(run)}${rest}`);

/** JSON text of a string, valid (escaped by JSON.stringify) or not (written raw, or broken). */
const stringToken = fc.oneof(
  { weight: 6, arbitrary: anyString(6).map((s) => JSON.stringify(s)) },
  anyString(6).map((s) => `"${s}"`),
  { weight: 2, arbitrary: longString.map((s) => JSON.stringify(s)) },
  longString.map((s) => `"${s}"`),
  fc.constantFrom(
    '""', '"\\u0041"', '"\\ud800"', '"\\uDC00x"', '"\\ud83d\\ude00"', '"\\/"', '"\\b\\f\\n\\r\\t\\"\\\\"',
    '"\\x"', '"\\u12"', '"\\u12G4"', '"\\"', '"a', '"\t"', '"\u0000"', '"\ud800"', '"\udc00"', '"\ud800a"',
    '"\ud83d\ude00"', "'a'", '"\u007f"', '"\u2028"',
  ),
);
/** JSON text of a number, valid or not, and with the values whose re-encoding differs. */
const numberToken = fc.oneof(
  { weight: 3, arbitrary: fc.oneof(fc.integer(), fc.integer({ min: -1e6, max: 1e6 }).map((n) => n / 100)).map(String) },
  fc.constantFrom(
    '0', '-0', '-0.0', '0.0', '1', '-1', '1.0', '1.50', '0.1', '-0.5', '1e400', '-1e400', '1e-400', '-1e-400',
    '1E2', '1e+2', '1e-2', '1.5e3', '12345678901234567890', '123456789012345', '1234567890123456',
    '0.123456789012345', '0.1234567890123456', '0.000001', '9007199254740993', '100000000000000000000000',
    `0.${'0'.repeat(400)}1`, `-0.${'0'.repeat(400)}1`, `1${'0'.repeat(400)}`, `-0.${'0'.repeat(60)}`,
    '01', '-01', '00', '1.', '.5', '+1', '-', '--1', 'NaN', 'Infinity', '0x10', '1e', '1.e1',
  ),
  fc.double().map((value) => JSON.stringify(value)),
  fc.stringMatching(/^-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?$/),
);
const literalToken = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('true', 'false', 'null') },
  fc.constantFrom('tru', 'nul', 'True', 'undefined', 'nulll'),
);

/** JSON text of a value, nested, and of an object, made of the given tokens. */
function jsonText(tokens: fc.Arbitrary<string>, keys: fc.Arbitrary<string>): { value: fc.Arbitrary<string>; object: fc.Arbitrary<string> } {
  return fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, tokens, tie('object'), tie('array')),
    object: fc
      .array(fc.tuple(keys, tie('value')), { maxLength: 4 })
      .map((members) => `{${members.map(([key, value]) => `${key}:${value}`).join(',')}}`),
    array: fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  }));
}
/** Valid JSON, numbers in the forms the fast path reads (some of them not as JSON.stringify writes them). */
const validJson = jsonText(
  fc.oneof(
    anyString(6).map((s) => JSON.stringify(s)),
    fc.oneof(fc.integer(), fc.integer({ min: -1e6, max: 1e6 }).map((n) => n / 100)).map(String),
    fc.constantFrom('0', '0.0', '1.0', '1.50', '-0.5', '0.000001', '123456789012345', 'true', 'false', 'null', '"\\u0041"', '"\\/"'),
  ),
  anyString(6).map((s) => JSON.stringify(s)),
);
/** JSON-like text, now and then invalid in any of its tokens. */
const wildJson = jsonText(fc.oneof(stringToken, numberToken, literalToken), stringToken);

const contextPart = fc.oneof(
  fc.constant(''),
  { weight: 2, arbitrary: wildJson.object.map((object) => `,"context":${object}`) },
  wildJson.value.map((value) => `,"context":${value}`),
  fc.dictionary(anyString(4), fc.jsonValue({ stringUnit: anyUnit }), { maxKeys: 4 }).map((context) => `,"context":${JSON.stringify(context)}`),
  fc.jsonValue().map((value) => `,"context":${JSON.stringify(value)}`),
);
/** Schema ids: mostly valid URIs and URNs, and now and then anything. */
const schemaIdText = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('urn:job', 'https://example.com/s.json', 'urn:x:y#v', `urn:${'i'.repeat(470)}`) },
  fc.constantFrom('', 'no-scheme', 'urn:', 'urn:a b', 'urn:a"b', `urn:${'i'.repeat(481)}`, '1urn:x'),
  anyString(6),
);
/** A schema member as the client library writes it, or broken in its id, version, keys or order. */
const schemaPart = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  { weight: 4, arbitrary: fc.tuple(schemaIdText, fc.integer({ min: 1, max: 1000 })).map(([id, version]) => `,"schema":${JSON.stringify({ id, version })}`) },
  fc.tuple(schemaIdText, numberToken).map(([id, version]) => `,"schema":{"id":${JSON.stringify(id)},"version":${version}}`),
  fc.constantFrom(
    ',"schema":{"version":1,"id":"urn:a"}', ',"schema":{"id":"urn:a"}', ',"schema":{"id":"urn:a","version":1,"x":1}',
    ',"schema":null', ',"schema":"urn:a"', ',"schema":{"id":"urn:\u0061","version":1}', ',"schema":{"id":"urn:a","version":9007199254740992}',
    ',"schema":{"id":"urn:a","version":01}', ',"schema":{"id":"urn:a","version":0}', ',"schema":{"id":"urn:a","version":1.0}',
    ',"schema":{"id":"urn:a", "version":1}', ',"schema":{"id":"urn:a","version":1}}',
  ),
);
/** Names as JSON text: most need no escape. */
const nameToken = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }).map((name) => JSON.stringify(name)) },
  fc.constant('"submit"'),
  stringToken,
);
const eventText = fc.oneof(
  {
    weight: 16,
    arbitrary: fc
      .tuple(nameToken, fc.option(validJson.object, { nil: undefined }))
      .map(([name, context]) => `{"name":${name}${context === undefined ? '' : `,"context":${context}`}}`),
  },
  { weight: 2, arbitrary: fc.tuple(nameToken, contextPart).map(([name, context]) => `{"name":${name}${context}}`) },
  {
    weight: 4,
    arbitrary: fc.tuple(nameToken, contextPart, schemaPart).map(([name, context, schema]) => `{"name":${name}${context}${schema}}`),
  },
  fc.tuple(nameToken, schemaPart, contextPart).map(([name, schema, context]) => `{"name":${name}${schema}${context}}`),
  fc.constantFrom(
    '{}', '{"context":{}}', '{"context":{},"name":"a"}', '{"name":"a","extra":1}', '{"name":"a","context":{},"extra":1}',
    'null', '[]', '"a"', '{"name":"a","context":{},"context":{}}', '{"name":"a","name":"b"}', '{"name":1}',
  ),
);
const idToken = fc.oneof(
  { weight: 6, arbitrary: fc.nat().map(String) },
  fc.constantFrom('0', '01', '-1', '-0', '1.0', '1e2', '9007199254740991', '9007199254740992', '99999999999999999999', '"1"', 'null'),
);
const journalToken = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('"jobs"', '"a.b-c_1"', `"${'x'.repeat(128)}"`) },
  fc.constantFrom(`"${'x'.repeat(129)}"`, '"-bad"', '""', '"j\\u006fbs"', '"a b"', '"a/b"', 'null'),
  stringToken,
);
const keyPart = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).map((key) => `,"key":${JSON.stringify(key)}`) },
  fc.constantFrom('"k"', '""', `"${'k'.repeat(128)}"`, `"${'k'.repeat(129)}"`, '"a\\"b"', '"\\u006b"', '1', 'null').map((key) => `,"key":${key}`),
  stringToken.map((key) => `,"key":${key}`),
);
/** Append-like frame text, written the way the client library does, from parts that may each be wrong. */
const frameText = fc
  .tuple(idToken, journalToken, fc.oneof({ weight: 12, arbitrary: fc.array(eventText, { minLength: 1, maxLength: 4 }) }, fc.constant([])), keyPart)
  .map(([id, journal, events, key]) => `{"type":"append","id":${id},"journal":${journal},"events":[${events.join(',')}]${key}}`);

/** Context values as an application's might be: mostly plain ones, and any JSON value now and then. */
const contextValue = fc.oneof(
  fc.jsonValue({ stringUnit: anyUnit }),
  {
    weight: 12,
    arbitrary: fc.oneof(fc.integer(), fc.integer({ min: -1e6, max: 1e6 }).map((n) => n / 100), anyString(8), fc.boolean(), fc.constant(null)),
  },
  fc.array(fc.oneof(fc.integer(), anyString(4)), { maxLength: 3 }),
);

/** Append-like objects as JSON.stringify writes them: fields replaced, dropped, added or moved. */
const validObject = fc.record(
  {
    type: fc.constant('append'),
    id: fc.integer({ min: 0, max: 100 }),
    journal: fc.constantFrom('jobs', 'a.b-c_1', 'x'.repeat(128)),
    events: fc.array(
      fc.record(
        {
          name: fc.oneof({ weight: 4, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }) }, anyString(3)),
          context: fc.dictionary(anyString(3), contextValue, { maxKeys: 3 }),
        },
        { requiredKeys: ['name'] },
      ),
      { minLength: 1, maxLength: 3 },
    ),
    key: fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }), anyString(3), fc.constant('k'.repeat(128))),
  },
  { requiredKeys: ['type', 'id', 'journal', 'events'] },
);
const oddValue = fc.oneof(
  fc.constantFrom('', 'subscribe', '-bad', 'x'.repeat(129), -1, -0, 1.5, Number.MAX_SAFE_INTEGER + 1, [], [{}], null, {}, true),
  fc.jsonValue(),
);
type Change = (frame: Record<string, unknown>) => Record<string, unknown>;
const change: fc.Arbitrary<Change> = fc.oneof(
  { weight: 3, arbitrary: fc.constant((frame: Record<string, unknown>) => frame) },
  fc.tuple(fc.constantFrom('type', 'id', 'journal', 'events', 'key', 'extra'), oddValue).map(
    ([key, value]): Change => (frame) => ({ ...frame, [key]: value }),
  ),
  fc.constantFrom('type', 'id', 'journal', 'events', 'key').map((key): Change => (frame) => {
    const { [key]: _dropped, ...rest } = frame;
    return rest;
  }),
  fc.constantFrom('type', 'id', 'journal', 'events').map((key): Change => (frame) => {
    // Moved to the end: the same frame, keys in another order.
    const { [key]: moved, ...rest } = frame;
    return { ...rest, [key]: moved };
  }),
  fc.tuple(fc.nat(2), oddValue).map(([index, value]): Change => (frame) => {
    if (!Array.isArray(frame['events'])) return frame;
    const events: unknown[] = [...(frame['events'] as unknown[])];
    events[Math.min(index, Math.max(0, events.length - 1))] = { ...(events[0] as object), context: value };
    return { ...frame, events };
  }),
);
const objectText = fc.tuple(validObject, change, change).map(([frame, first, second]) => JSON.stringify(second(first(frame))));

/** Text edits that break a frame or leave it valid JSON in another form: whitespace, truncation, trailing bytes. */
type Edit = (text: string) => string;
const edit: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 8, arbitrary: fc.constant((text: string) => text) },
  fc
    .tuple(fc.nat(), fc.constantFrom(' ', '\n', '\t', '\r', '}', ']', ',', '"', '\\', '0', '-', 'x', '\u0000', '{', '[', ':', '\ud800'))
    .map(([at, inserted]): Edit => (text) => {
      const k = at % (text.length + 1);
      return text.slice(0, k) + inserted + text.slice(k);
    }),
  fc.nat().map((at): Edit => (text) => {
    const k = at % Math.max(1, text.length);
    return text.slice(0, k) + text.slice(k + 1);
  }),
  fc.nat().map((at): Edit => (text) => text.slice(0, at % (text.length + 1))),
  fc.constantFrom(' ', 'x', '}', '\n', ',{}').map((tail): Edit => (text) => text + tail),
);

/** Mirrors JournalProducer#encode and #send: the frames the client library writes. */
function producerText(
  id: number,
  journal: string,
  events: readonly { name: string; context?: object; schema?: { id: string; version: number } }[],
  key: string | undefined,
): string {
  const items = events.map(
    (event) =>
      `{"name":${JSON.stringify(event.name)}${event.context === undefined ? '' : `,"context":${JSON.stringify(event.context)}`}${
        event.schema === undefined ? '' : `,"schema":{"id":${JSON.stringify(event.schema.id)},"version":${event.schema.version}}`
      }}`,
  );
  return `{"type":"append","id":${id},"journal":${JSON.stringify(journal)},"events":[${items.join(',')}]${key === undefined ? '' : `,"key":${JSON.stringify(key)}`}}`;
}

/**
 * True when the fast path may leave `value` to the general path: a number JSON.stringify writes
 * with an exponent of three digits, or nesting past 64.
 */
function mayFallBack(value: unknown, depth = 0): boolean {
  if (typeof value === 'number') return /[eE][-+]?\d{3}/.test(JSON.stringify(value));
  if (typeof value !== 'object' || value === null) return false;
  if (depth + 1 > 64) return true;
  return Object.values(value).some((item) => mayFallBack(item, depth + 1));
}

/** True when JSON.stringify writes `text` with an escape: the fast path leaves such names and keys alone. */
function needsEscape(text: string): boolean {
  return JSON.stringify(text) !== `"${text}"`;
}

function frame(events: string, rest = ''): string {
  return `{"type":"append","id":1,"journal":"jobs","events":[${events}]${rest}}`;
}

describe('decodeAppend', () => {
  it('agrees with the general path whenever it decodes, and never throws', () => {
    let decoded = 0;
    let refused = 0;
    const texts = fc.oneof(
      { weight: 5, arbitrary: fc.tuple(frameText, edit).map(([text, change]) => change(text)) },
      { weight: 2, arbitrary: fc.tuple(objectText, edit).map(([text, change]) => change(text)) },
      { weight: 1, arbitrary: anyString(40) },
      // Events naming one schema: the decoder runs its check on each context after the first.
      {
        weight: 4,
        arbitrary: fc
          .tuple(fc.array(fc.oneof(wildJson.object, validJson.object), { minLength: 2, maxLength: 4 }), fc.constantFrom('urn:job', 'urn:x:y#v'))
          .map(([contexts, id]) => frame(contexts.map((context) => `{"name":"a","context":${context},"schema":{"id":"${id}","version":1}}`).join(','))),
      },
      { weight: 1, arbitrary: anyString(40).map((s) => `{"type":"append","id":1,"journal":"jobs","events":[{"name":"a","context":{"s":${s}}}]}`) },
    );
    // Every schema's check passes any object whose keys it can read: run on the wild contexts, as the decoder runs it.
    const anyObject = textCheckOf(JSON.stringify({ properties: {}, additionalProperties: true }))!;
    let checked = 0;
    fc.assert(
      fc.property(texts, (text) => {
        if (decodeAndCompare(text) === undefined) refused++;
        else decoded++;
        checked += decodeAndCompare(text, () => anyObject)?.events.filter((event) => event.checked).length ?? 0;
      }),
      { numRuns: 10_000 },
    );
    // Both answers must be reached often, or the property proves little.
    assert.ok(decoded > 1000, `only ${decoded} frames decoded`);
    assert.ok(refused > 1000, `only ${refused} frames refused`);
    assert.ok(checked > 300, `only ${checked} contexts checked as they were read`);
  });

  it('decodes every frame the client library writes, byte for byte as the general path re-encodes it', () => {
    let fellBack = 0;
    const frames = fc.record({
      id: fc.maxSafeNat(),
      journal: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
      events: fc.array(
        fc.record(
          {
            name: fc.oneof({ weight: 16, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }) }, fc.string({ unit: anyUnit, minLength: 1, maxLength: 8 })),
            context: fc.dictionary(anyString(6), contextValue, { maxKeys: 5 }),
            schema: fc.record({
              id: fc.constantFrom('urn:job', 'https://example.com/s.json#x', `tag:${'t'.repeat(400)}`),
              version: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
            }),
          },
          { requiredKeys: ['name'] },
        ),
        { minLength: 1, maxLength: 4 },
      ),
      key: fc.option(fc.oneof({ weight: 8, arbitrary: fc.uuid().map((uuid) => `${uuid}:1`) }, fc.string({ unit: anyUnit, minLength: 1, maxLength: 64 })), { nil: undefined }),
    });
    fc.assert(
      fc.property(frames, ({ id, journal, events, key }) => {
        const text = producerText(id, journal, events, key);
        const allowed =
          events.some((event) => needsEscape(event.name) || mayFallBack(event.context)) || (key !== undefined && needsEscape(key));
        const decoded = decodeAndCompare(text);
        if (decoded === undefined) {
          assert.ok(allowed, `fell back on a frame the client library writes: ${text}`);
          fellBack++;
          return;
        }
        // What the server stores is what the general path would have stored.
        decoded.events.forEach((event, index) => {
          assert.equal(event.contextJson, JSON.stringify(JSON.parse(JSON.stringify(events[index]!.context ?? {}))));
        });
      }),
      { numRuns: 5000 },
    );
    assert.ok(fellBack < 2500, `fell back on ${fellBack} of 5000 frames: the generator proves little`);
  });

  it('reads the shape the client library writes into names and JSON slices', () => {
    const text = '{"type":"append","id":7,"journal":"jobs","events":[{"name":"a","context":{"n":1,"s":"x\\ny"}},{"name":"b"}],"key":"k:1"}';
    assert.deepStrictEqual(decodeAndCompare(text), {
      id: 7,
      journal: 'jobs',
      key: 'k:1',
      events: [
        { name: 'a', nameJson: '"a"', contextJson: '{"n":1,"s":"x\\ny"}', contextStart: 73, schema: undefined, checked: false },
        { name: 'b', nameJson: '"b"', contextJson: '{}', contextStart: -1, schema: undefined, checked: false },
      ],
      text,
    });
    assert.equal(decodeAndCompare(frame('{"name":"a","context":{}}'))?.key, undefined);
  });

  it('reads a schema member written as the client library writes it, and leaves every other form to the general path', () => {
    const decoded = decodeAndCompare(frame('{"name":"a","context":{"n":1},"schema":{"id":"urn:job","version":12}},{"name":"b","schema":{"id":"urn:x","version":1}}'));
    assert.deepStrictEqual(decoded?.events, [
      { name: 'a', nameJson: '"a"', contextJson: '{"n":1}', contextStart: 73, schema: { id: 'urn:job', version: 12 }, checked: false },
      { name: 'b', nameJson: '"b"', contextJson: '{}', contextStart: -1, schema: { id: 'urn:x', version: 1 }, checked: false },
    ]);
    for (const member of [
      '"schema":{"version":1,"id":"urn:a"}', '"schema":{"id":"urn:a"}', '"schema":{"id":"urn:a","version":1,"x":1}',
      '"schema":{"id":"urn:\\u0061","version":1}', '"schema":{"id":"urn:a","version":01}', '"schema":{"id":"urn:a","version":0}',
      '"schema":{"id":"urn:a","version":1.0}', '"schema":{"id":"urn:a","version":1e3}', '"schema":{"id":"urn:a","version":-1}',
      '"schema":{"id":"urn:a","version":9007199254740992}', '"schema":{"id":"no scheme","version":1}', '"schema":{"id":"","version":1}',
      '"schema":null', '"schema":{}',
    ]) {
      assert.equal(decodeAppend(frame(`{"name":"a","context":{},${member}}`)), undefined, member);
    }
    assert.equal(decodeAppend(frame('{"name":"a","schema":{"id":"urn:a","version":1},"context":{}}')), undefined, 'schema before context');
  });

  it('reads each event\'s schema member when the events of a frame name the same schema, and when they differ by a character', () => {
    const events = [
      '{"name":"a","schema":{"id":"urn:job","version":1}}',
      '{"name":"b","schema":{"id":"urn:job","version":1}}',
      '{"name":"c","schema":{"id":"urn:job","version":12}}',
      '{"name":"d","schema":{"id":"urn:jobs","version":12}}',
      '{"name":"e"}',
      '{"name":"f","schema":{"id":"urn:jobs","version":12}}',
      '{"name":"g","schema":{"id":"urn:jobs","version":1}}',
    ];
    const decoded = decodeAndCompare(frame(events.join(',')));
    assert.deepStrictEqual(
      decoded?.events.map((event) => event.schema),
      [
        { id: 'urn:job', version: 1 },
        { id: 'urn:job', version: 1 },
        { id: 'urn:job', version: 12 },
        { id: 'urn:jobs', version: 12 },
        undefined,
        { id: 'urn:jobs', version: 12 },
        { id: 'urn:jobs', version: 1 },
      ],
    );
    // A member like the one before it, broken after its common part, still goes to the general path.
    assert.equal(decodeAppend(frame('{"name":"a","schema":{"id":"urn:a","version":1}},{"name":"b","schema":{"id":"urn:a","version":1,"x":1}}')), undefined);
  });

  it('runs the previous event\'s schema check on each context, and marks the events it passes', () => {
    const job = textCheckOf(JSON.stringify({ properties: { n: { type: 'integer', maximum: 9 } }, required: ['n'], additionalProperties: false }))!;
    const asked: string[] = [];
    const checkOf: ContextCheckOf = (schema) => {
      asked.push(`${schema.id} ${schema.version}`);
      return schema.id === 'urn:job' ? job : undefined;
    };
    const named = (context: string, id = 'urn:job'): string => `{"name":"a","context":${context},"schema":{"id":"${id}","version":1}}`;
    const text = frame(
      [
        named('{"n":1}'),
        named('{"n":2}'),
        // Refused by the check: read by the decoder, left to AppendCheck and Ajv.
        named('{"n":10}'),
        named('{"n":3,"m":"\\u0041"}'),
        named('{"n":4}'),
        '{"name":"a","context":{"n":5}}',
        named('{"n":6}', 'urn:other'),
        named('{"n":7}', 'urn:other'),
        named('{"n":8}'),
        named('{"n":9}'),
      ].join(','),
    );
    const decoded = decodeAppend(text, checkOf);
    // Asked once per member that differs from the one before it.
    assert.deepStrictEqual(asked, ['urn:job 1', 'urn:other 1', 'urn:job 1']);
    assert.deepStrictEqual(
      decoded?.events.map((event) => event.checked),
      [false, true, false, false, true, false, false, false, false, true],
    );
    assert.ok(decodeAndCompare(text, checkOf));
    asked.length = 0;
    assert.ok(decodeAndCompare(frame('{"name":"a","context":{"n":1}},{"name":"b","context":{"n":1}}'), checkOf));
    assert.deepStrictEqual(asked, [], 'frames that name no schema ask for no check');
    // A context the check passes is still held to the rest of the frame.
    assert.equal(decodeAppend(frame(`${named('{"n":1}')},${named('{"n":2}')},{"name":""}`), checkOf), undefined);
  });

  it('leaves a frame of more than maxEvents events to the general path, and decodes one of as many', () => {
    const text = (count: number) => `{"type":"append","id":7,"journal":"jobs","events":[${Array.from({ length: count }, () => '{"name":"a"}').join(',')}]}`;
    assert.equal(decodeAppend(text(4), undefined, 3), undefined);
    assert.equal(decodeAppend(text(3), undefined, 3)?.events.length, 3);
    assert.equal(decodeAppend(text(5000), undefined, 1000), undefined);
    assert.equal(decodeAppend(text(5000))?.events.length, 5000, 'no bound unless one is given');
  });

  it('leaves missing, extra and reordered keys to the general path', () => {
    const cases = [
      '{"id":1,"journal":"jobs","events":[{"name":"a"}]}',
      '{"type":"append","journal":"jobs","events":[{"name":"a"}]}',
      '{"type":"append","id":1,"events":[{"name":"a"}]}',
      '{"type":"append","id":1,"journal":"jobs"}',
      '{"type":"append","id":1,"journal":"jobs","events":[{"name":"a"}],"extra":1}',
      '{"type":"append","id":1,"journal":"jobs","events":[{"name":"a"}],"key":"k","extra":1}',
      '{"type":"append","id":1,"journal":"jobs","events":[{"name":"a"}],"key":"k","key":"j"}',
      '{"type":"append","journal":"jobs","id":1,"events":[{"name":"a"}]}',
      '{"type":"append","id":1,"journal":"jobs","key":"k","events":[{"name":"a"}]}',
      '{"id":1,"type":"append","journal":"jobs","events":[{"name":"a"}]}',
      '{"type":"subscribe","id":1,"journal":"jobs"}',
      frame('{"context":{},"name":"a"}'),
      frame('{"name":"a","extra":1}'),
      frame('{"name":"a","context":{},"extra":1}'),
      frame('{"name":"a","name":"b"}'),
      frame('{"name":"a","context":{},"context":{"x":1}}'),
      frame('{}'),
    ];
    for (const text of cases) assert.equal(decodeAndCompare(text), undefined, text);
    // Some of them are valid appends: the general path takes those.
    assert.ok(generalPath('{"type":"append","journal":"jobs","id":1,"events":[{"name":"a"}]}'));
    assert.ok(generalPath(frame('{"context":{},"name":"a"}')));
  });

  it('leaves whitespace outside strings to the general path, and keeps it inside them', () => {
    const valid = frame('{"name":"a","context":{"a":[1,2]}}', ',"key":"k"');
    assert.ok(decodeAndCompare(valid));
    for (let at = 1; at < valid.length; at++) {
      for (const space of [' ', '\n', '\t', '\r']) {
        const text = valid.slice(0, at) + space + valid.slice(at);
        const decoded = decodeAndCompare(text);
        // Only inside the strings "a" and "k" is a space part of the value; a newline there is invalid JSON.
        if (decoded !== undefined) assert.equal(space, ' ', text);
      }
    }
    assert.equal(decodeAppend(` ${valid}`), undefined);
    assert.equal(decodeAppend(`${valid}\n`), undefined);
    assert.equal(decodeAndCompare(frame('{"name":"a b","context":{"a b":" c "}}'))?.events[0]?.name, 'a b');
  });

  it('leaves escapes in the journal, names and key to the general path, and reads them in contexts', () => {
    assert.equal(decodeAppend(frame('{"name":"a\\"b"}')), undefined);
    assert.equal(decodeAppend(frame('{"name":"\\u0061"}')), undefined);
    assert.equal(decodeAppend('{"type":"append","id":1,"journal":"j\\u006fbs","events":[{"name":"a"}]}'), undefined);
    assert.equal(decodeAppend(frame('{"name":"a"}', ',"key":"a\\/b"')), undefined);
    assert.ok(generalPath(frame('{"name":"a\\"b"}')));
    const escapes = '{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\ud83d\\ude00\\ud800","\\u0041":1}';
    const decoded = decodeAndCompare(frame(`{"name":"a","context":${escapes}}`));
    assert.equal(decoded?.events[0]?.contextJson, escapes);
    for (const bad of ['"\\x"', '"\\u12"', '"\\u12G4"', '"\\U0041"', '"\\']) {
      assert.equal(decodeAppend(frame(`{"name":"a","context":{"s":${bad}}}`)), undefined, bad);
    }
  });

  it('leaves raw control characters and lone surrogates to the general path', () => {
    // Each also after a long run of plain characters, which the decoder skips in one step.
    for (const run of ['', 'a'.repeat(40)]) {
      for (const code of [0x00, 0x09, 0x0a, 0x1f]) {
        const c = String.fromCharCode(code);
        assert.equal(decodeAppend(frame(`{"name":"a","context":{"s":"${run}${c}"}}`)), undefined, `U+${code}`);
        assert.equal(decodeAppend(frame(`{"name":"a${run}${c}"}`)), undefined, `U+${code}`);
      }
      assert.ok(decodeAndCompare(frame(`{"name":"a${run}\u007f\u2028😀","context":{"s":"${run}é\u2029😀${run}"}}`)));
      for (const lone of ['\ud800', '\udc00', '\ud800a', '\udc00\ud800']) {
        assert.equal(decodeAppend(frame(`{"name":"a","context":{"s":"${run}${lone}"}}`)), undefined);
        assert.equal(decodeAppend(frame(`{"name":"${run}${lone}"}`)), undefined);
      }
      const escaped = `{"s":"${run}\\"${run}\\n${run}"}`;
      assert.equal(decodeAndCompare(frame(`{"name":"a","context":${escaped}}`))?.events[0]?.contextJson, escaped);
      assert.equal(decodeAppend(frame(`{"name":"a${run}\\"b"}`)), undefined);
    }
  });

  it('bounds nesting: 64 levels decode, deeper ones fall back, 10,000 levels do not throw', () => {
    const nested = (depth: number, open: string, close: string, leaf: string): string => open.repeat(depth) + leaf + close.repeat(depth);
    // The context is the first level.
    assert.ok(decodeAndCompare(frame(`{"name":"a","context":${nested(64, '{"a":', '}', '1')}}`)));
    assert.equal(decodeAppend(frame(`{"name":"a","context":${nested(65, '{"a":', '}', '1')}}`)), undefined);
    assert.ok(decodeAndCompare(frame(`{"name":"a","context":{"a":${nested(63, '[', ']', '1')}}}`)));
    assert.equal(decodeAppend(frame(`{"name":"a","context":{"a":${nested(64, '[', ']', '1')}}}`)), undefined);
    for (const [open, close] of [['{"a":', '}'], ['[', ']'], ['{"a":[', ']}']] as const) {
      const deep = frame(`{"name":"a","context":{"a":${nested(10_000, open, close, 'null')}}}`);
      assert.equal(decodeAppend(deep), undefined);
      assert.equal(decodeAppend(deep.slice(0, -2000)), undefined);
    }
  });

  it('leaves numbers whose re-encoding differs to the general path, and reads the rest', () => {
    const context = (number: string): string => frame(`{"name":"a","context":{"n":${number},"m":[${number}]}}`);
    for (const number of ['-0', '-0.0', '-0.000', '-0e5', '1e400', '-1e400', '1e-400', '1e100', '1e-100', `0.${'0'.repeat(400)}1`, `1${'0'.repeat(400)}`, '9'.repeat(201), '1e+100']) {
      assert.equal(decodeAppend(context(number)), undefined, number);
      assert.ok(generalPath(context(number)), number);
    }
    for (const number of ['0', '-1', '1.0', '1.50', '0.1', '-0.5', '0.000001', '123456789012345', '-123456789012345', '0.123456789012345', '12345.6789012345', '0.0', '1E2', '1e+2', '1e-2', '1.5e3', '-1e-7', '1e99', '1e-99', '1234567890123456', '12345678901234567890', '0.1234567890123456', '9007199254740993', '1764642272.1234567', `${'9'.repeat(200)}e99`, `-0.${'0'.repeat(198)}1e-99`]) {
      assert.ok(decodeAndCompare(context(number)), number);
    }
    for (const number of ['01', '-01', '00', '1.', '.5', '+1', '-', '--1', 'NaN', 'Infinity', '0x10', '1e', '1.e1']) {
      assert.equal(decodeAppend(context(number)), undefined, number);
      assert.equal(generalPath(context(number)), undefined, number);
    }
  });

  it('reads ids that are plain safe integers and leaves every other form to the general path', () => {
    const withId = (id: string): string => `{"type":"append","id":${id},"journal":"jobs","events":[{"name":"a"}]}`;
    for (const id of ['0', '7', '9007199254740991']) assert.equal(decodeAndCompare(withId(id))?.id, Number(id));
    for (const id of ['9007199254740992', '99999999999999999999', '01', '-1', '-0', '1.0', '1e2', '"1"', 'null', '']) {
      assert.equal(decodeAppend(withId(id)), undefined, id);
    }
    assert.ok(generalPath(withId('1.0')), 'the general path takes 1.0 as the id 1');
  });

  it('checks the journal name and the key length as the schema does', () => {
    const text = (journal: string, key = 'k'): string => `{"type":"append","id":1,"journal":"${journal}","events":[{"name":"a"}],"key":"${key}"}`;
    for (const journal of ['jobs', 'a.b-c_1', '0', 'x'.repeat(128)]) assert.ok(decodeAndCompare(text(journal)), journal);
    for (const journal of ['', '-bad', '.a', 'a b', 'a/b', 'x'.repeat(129), 'é']) {
      assert.equal(decodeAppend(text(journal)), undefined, journal);
      assert.equal(generalPath(text(journal)), undefined, journal);
    }
    assert.equal(decodeAndCompare(text('jobs', 'k'.repeat(128)))?.key, 'k'.repeat(128));
    assert.equal(decodeAndCompare(text('jobs', '😀'.repeat(64)))?.key, '😀'.repeat(64));
    for (const key of ['', 'k'.repeat(129), '😀'.repeat(65)]) {
      assert.equal(decodeAppend(text('jobs', key)), undefined);
      assert.equal(generalPath(text('jobs', key)), undefined);
    }
  });

  it('leaves truncated text, trailing bytes and empty batches to the general path', () => {
    const valid = frame('{"name":"a","context":{"s":"x","n":[1.5,true,null,{}]}},{"name":"b"}', ',"key":"k"');
    assert.ok(decodeAndCompare(valid));
    for (let length = 0; length < valid.length; length++) assert.equal(decodeAppend(valid.slice(0, length)), undefined, valid.slice(0, length));
    for (const tail of ['}', ' ', '\n', 'x', ',{}', '\u0000']) assert.equal(decodeAppend(valid + tail), undefined, JSON.stringify(tail));
    assert.equal(decodeAppend(frame('')), undefined);
    assert.equal(generalPath(frame('')), undefined);
    assert.equal(decodeAppend(frame('{"name":"a"},')), undefined);
    assert.equal(decodeAppend(frame('{"name":""}')), undefined);
    assert.equal(decodeAppend(''), undefined);
  });

  it('never takes a context that is not an object', () => {
    for (const context of ['null', '[]', '[{}]', '"{}"', '1', 'true']) {
      assert.equal(decodeAppend(frame(`{"name":"a","context":${context}}`)), undefined, context);
      assert.equal(generalPath(frame(`{"name":"a","context":${context}}`)), undefined, context);
    }
  });
});

describe('the server with and without the fast path', () => {
  const LIMITS = { maxEventSize: 200, maxEventsPerAppend: 5 };

  /** The same frame with a space after its first brace, which only the general path reads. */
  function general(text: string): string {
    return `{ ${text.slice(1)}`;
  }

  async function answer(raw: RawClient, text: string): Promise<Frame> {
    raw.send(text);
    return raw.next();
  }

  it('answers and stores the same whichever path a frame takes', async (t) => {
    const h = await Harness.start(t, LIMITS);
    const raw = await h.raw();
    const batches: [string, { name: string; context?: object }[]][] = [
      ['stored', [{ name: 'submit', context: { id: 'f3x', userid: 1000, nested: { a: [1, 2.5, null, true] }, s: 'é"\\\n😀' } }, { name: 'é😀' }]],
      ['many', Array.from({ length: 6 }, (_, i) => ({ name: 'many', context: { i } }))],
      ['large', [{ name: 'ok', context: {} }, { name: 'big', context: { s: 'x'.repeat(300) } }]],
      // Short in UTF-16 units, long in UTF-8 bytes: the size is counted exactly.
      ['wide', [{ name: 'wide', context: { s: 'é'.repeat(60) } }, { name: 'wider', context: { s: '€'.repeat(70) } }]],
    ];
    let id = 0;
    for (const [journal, events] of batches) {
      const fast = producerText(++id, `${journal}-fast`, events, `${journal}:1`);
      const slow = general(producerText(id, `${journal}-general`, events, `${journal}:1`));
      assert.ok(decodeAppend(fast), fast);
      assert.equal(decodeAppend(slow), undefined, slow);
      const [fastAnswer, slowAnswer] = [await answer(raw, fast), await answer(raw, slow)];
      assert.equal(fastAnswer.type, slowAnswer.type, journal);
      if (fastAnswer.type === 'error') {
        assert.equal(fastAnswer['code'], slowAnswer['code']);
        assert.equal(fastAnswer['message'], slowAnswer['message']);
      } else {
        assert.equal((fastAnswer['seqs'] as number[]).length, events.length);
      }
      const stored = async (name: string): Promise<string[]> =>
        (await readAll(h.server.store, name)).map((event) => event.json.replace(/"timestamp":[^,]*,/, ''));
      assert.deepStrictEqual(await stored(`${journal}-fast`), await stored(`${journal}-general`), journal);
    }
    const many = await answer(raw, producerText(90, 'x', batches[1]![1], undefined));
    assert.equal(many['code'], ErrorCode.TOO_MANY_EVENTS);
    const large = await answer(raw, producerText(91, 'x', batches[2]![1], undefined));
    assert.equal(large['code'], ErrorCode.EVENT_TOO_LARGE);
    assert.match(String(large['message']), /^event 1 is \d+ bytes; at most 200 per event$/);
  });
});
