/**
 * A selector's text prefilter may let through events the selector does not match, but must
 * never stop one it matches; and it must stop the plain non-matching events it is there for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileSelector } from '../server/query/selector.js';
import { textPrefilter } from '../server/query/text-prefilter.js';

const names = fc.constantFrom('shard', 'state', 'a', 'b', 'seq', 'name', 'x_1', 'k-2', 'a b', 'é');
const primitive = fc.oneof(
  fc.constantFrom(0, -0, 1, 1.5, -2, 1e21, 10, true, false, null, '', 'a', 'failed', 'shard', '0', 'with "quote"', 'back\\slash', 'a\nb'),
  fc.integer({ min: -3, max: 3 }),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ weight: 4, arbitrary: primitive }, { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 3 }) }, { weight: 1, arbitrary: tie('object') }),
  object: fc.dictionary(names, tie('value'), { maxKeys: 4 }),
})).value;
/** As the server meets them: parsed from JSON, ordinary objects. */
const fromJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const context = fc.dictionary(names, value, { maxKeys: 5 }).map(fromJson);
const path = fc.array(names, { minLength: 1, maxLength: 3 }).map((segments) => `context.${segments.join('.')}`);
const selector = fc.dictionary(path, fc.oneof(primitive, primitive.map((operand) => ({ $eq: operand }))), { minKeys: 1, maxKeys: 3 }).map(fromJson);

/** The event's JSON as a store holds it, written compactly or, as the general path may meet it, with spaces. */
const stored = (context: object, spaced: boolean): string =>
  spaced ? JSON.stringify({ name: 'e', timestamp: 1, context, seq: 1 }, null, 1) : JSON.stringify({ name: 'e', timestamp: 1, context, seq: 1 });

describe('textPrefilter', () => {
  it('never stops an event the selector matches (10,000 runs)', () => {
    fc.assert(
      fc.property(selector, context, fc.boolean(), (query, ctx, spaced) => {
        const compiled = compileSelector(query);
        const document = { name: 'e', timestamp: 1, seq: 1, context: ctx };
        if (!compiled.test(document)) return;
        assert.ok(compiled.mayMatch === undefined || compiled.mayMatch(stored(ctx, spaced)), JSON.stringify({ query, ctx }));
      }),
      { numRuns: 10_000 },
    );
  });

  it('stops events whose field holds another value, or lacks the field', () => {
    const shard = textPrefilter({ 'context.shard': 0 })!;
    assert.equal(shard(stored({ id: 'f1', shard: 3 }, false)), false);
    assert.equal(shard(stored({ id: 'f1' }, false)), false);
    assert.equal(shard(stored({ id: 'f1', other: { shard: 1 } }, false)), false);
    assert.equal(shard(stored({ id: 'shard', n: 0 }, false)), false, 'the name as a string value is not the key');
    assert.equal(shard(stored({ shard: 0 }, false)), true);
    assert.equal(shard(stored({ shard: [1, 0] }, false)), true, 'an array: the selector may match an element');
    assert.equal(shard(stored({ shard: 0.0 }, false)), true);
    assert.equal(shard('{"name":"e","timestamp":1,"context":{"shard":0e0},"seq":1}'), true, 'any spelling of the number');
    assert.equal(shard('{"name":"e","timestamp":1,"context":{"sh\\u0061rd":0},"seq":1}'), true, 'text with escapes goes to the parser');
    const state = textPrefilter({ 'context.state': { $eq: 'failed' }, 'context.n': 2 })!;
    assert.equal(state(stored({ state: 'failed', n: 2 }, false)), true);
    assert.equal(state(stored({ state: 'failed', n: 3 }, false)), false);
    assert.equal(state(stored({ state: 'fail', n: 2 }, false)), false);
  });

  it('has nothing to say of selectors without such an equality', () => {
    assert.equal(textPrefilter({ 'context.n': { $gt: 1 } }), undefined);
    assert.equal(textPrefilter({ 'context.n': null }), undefined);
    assert.equal(textPrefilter({ 'context.a b': 1 }), undefined);
    assert.equal(textPrefilter({ name: 'e' }), undefined);
    assert.equal(textPrefilter({ $or: [{ 'context.n': 1 }] }), undefined);
    assert.equal(compileSelector({ name: 'e' }).mayMatch, undefined);
  });
});
