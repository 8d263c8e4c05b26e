/**
 * Which schemas are validated on the event loop (inline-schema.ts): only small ones made of
 * keywords whose cost is linear in the context, and the same verdicts as the worker threads give.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, JournalError } from '../src/errors.js';
import { INLINE_SCHEMA_UNITS, runsInline } from '../server/schemas/inline-schema.js';
import { Harness, readAll } from './harness.js';

const PLAIN = {
  $id: 'urn:test:plain',
  version: 1,
  type: 'object',
  properties: {
    id: { type: 'string', pattern: '^f[0-9a-z]+$', maxLength: 32 },
    level: { enum: ['debug', 'info', 'warn', 'error'] },
    tags: { type: 'array', items: { type: 'string' }, maxItems: 8 },
    at: { type: 'object', properties: { line: { type: 'integer', minimum: 1 } }, additionalProperties: false },
  },
  required: ['id'],
  additionalProperties: false,
};

const inline = (schema: object): boolean => runsInline(JSON.stringify(schema));

describe('runsInline', () => {
  it('takes a small schema of types, properties, linear patterns, enums and bounds', () => {
    assert.equal(inline(PLAIN), true);
    assert.equal(inline({ $id: 'urn:x', version: 1 }), true);
    assert.equal(inline({ $id: 'urn:x', version: 1, properties: { a: true, b: false } }), true);
  });

  it('sends to the worker pool every schema whose cost it cannot bound by the context size', () => {
    const refused: [string, object][] = [
      ['$ref', { ...PLAIN, properties: { a: { $ref: '#/definitions/a' } }, definitions: { a: { type: 'string' } } }],
      ['anyOf', { ...PLAIN, properties: { a: { anyOf: [{ type: 'string' }, { type: 'number' }] } } }],
      ['oneOf', { ...PLAIN, oneOf: [{ required: ['a'] }, { required: ['b'] }] }],
      ['allOf', { ...PLAIN, allOf: [{ required: ['a'] }] }],
      ['not', { ...PLAIN, not: { required: ['a'] } }],
      ['if', { ...PLAIN, if: { required: ['a'] }, then: { required: ['b'] } }],
      ['uniqueItems', { ...PLAIN, properties: { a: { type: 'array', uniqueItems: true } } }],
      ['patternProperties', { ...PLAIN, patternProperties: { '^a': { type: 'string' } } }],
      ['format', { ...PLAIN, properties: { a: { type: 'string', format: 'email' } } }],
      ['a pattern not proved linear', { ...PLAIN, properties: { a: { type: 'string', pattern: '^(a+)+$' } } }],
      ['an unanchored pattern', { ...PLAIN, properties: { a: { type: 'string', pattern: 'a+b' } } }],
      ['a long enum', { ...PLAIN, properties: { a: { enum: Array.from({ length: 65 }, (_, i) => i) } } }],
      ['an enum of objects', { ...PLAIN, properties: { a: { enum: [{ x: 1 }] } } }],
      ['tuple items', { ...PLAIN, properties: { a: { items: [{ type: 'string' }] } } }],
      ['an unknown keyword', { ...PLAIN, properties: { a: { dependentSchemas: {} } } }],
    ];
    for (const [why, schema] of refused) assert.equal(inline(schema), false, why);
    let deep: object = { type: 'string' };
    for (let i = 0; i < 20; i++) deep = { type: 'object', properties: { a: deep } };
    assert.equal(inline({ $id: 'urn:x', version: 1, ...deep }), false, 'deeply nested');
    const properties = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`property${i}`, { type: 'string' }]));
    assert.ok(JSON.stringify(properties).length > INLINE_SCHEMA_UNITS);
    assert.equal(inline({ $id: 'urn:x', version: 1, properties }), false, 'larger than INLINE_SCHEMA_UNITS');
    assert.equal(runsInline('not json'), false);
  });

  it('gives the same verdicts inline as in the worker pool', async (t) => {
    const harness = await Harness.start(t);
    const producer = harness.producer('j');
    // The same constraints, once inline and once behind an allOf, which sends the schema to a worker.
    const { $id: _id, version: _version, ...body } = PLAIN;
    await producer.registerSchema(PLAIN);
    await producer.registerSchema({ $id: 'urn:test:pooled', version: 1, properties: {}, allOf: [body] });
    assert.equal(inline({ $id: 'urn:test:pooled', version: 1, properties: {}, allOf: [body] }), false);
    const refusal = async (schema: string, context: object) => {
      try {
        await producer.append('e', context, { schema: { id: schema, version: 1 } });
        return undefined;
      } catch (error) {
        assert.ok(error instanceof JournalError, String(error));
        return { code: error.code, paths: (error.details ?? []).map((detail) => detail.path) };
      }
    };
    const contexts = [
      { id: 'f1', level: 'info', tags: ['a'], at: { line: 3 } },
      { id: 'F1' },
      { id: 'f1', level: 'loud' },
      { id: 'f1', at: { line: 0 } },
      { id: 'f1', at: { line: 1, column: 2 } },
      { level: 'info' },
      { id: 'f1', extra: true },
    ];
    for (const context of contexts) {
      const direct = await refusal('urn:test:plain', context);
      const pooled = await refusal('urn:test:pooled', context);
      assert.equal(direct?.code, pooled?.code, JSON.stringify(context));
      if (direct !== undefined) assert.equal(direct.code, ErrorCode.SCHEMA_VIOLATION);
      assert.deepEqual(direct?.paths, pooled?.paths, JSON.stringify(context));
    }
    assert.equal((await readAll(harness.server.store, 'j')).length, 2, 'the one valid context, once per schema');
  });
});
