/**
 * Selectors: each operator of the contract on events, dotted paths into the context, the
 * refusal of every other operator and of selectors past the size limits, and `$regex` on the
 * linear-time engine (a pattern that takes a backtracking engine exponential time runs at once).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeEvent } from '../server/encode.js';
import { eventFilter, parseLevel } from '../server/query/event-filter.js';
import { compileSelector, parseSelector, type EventDocument } from '../server/query/selector.js';

const EVENTS: EventDocument[] = [
  { name: 'submit', timestamp: 100.5, seq: 1, context: { id: 'f1', urgency: 16, tags: ['gpu', 'long'], user: { name: 'ada', uid: 1000 } } },
  { name: 'start', timestamp: 101, seq: 2, context: { id: 'f1', urgency: 8, nodes: 4 } },
  { name: 'finish', timestamp: 102.25, seq: 3, context: { id: 'f1', status: 'failed', user: { name: 'bob', uid: 1001 } } },
  { name: 'submit', timestamp: 103, seq: 4, context: { id: 'f2', urgency: 31, tags: ['cpu'], status: null } },
];

/** The seqs of the events `selector` matches. */
function matches(selector: unknown): number[] {
  const compiled = compileSelector(selector);
  return EVENTS.filter((event) => compiled.test(event)).map((event) => event.seq);
}

function refused(selector: unknown, pattern: RegExp): void {
  assert.throws(
    () => compileSelector(selector),
    (error: { code?: string; message: string }) => {
      assert.equal(error.code, 'INVALID_SELECTOR', JSON.stringify(selector));
      assert.match(error.message, pattern);
      return true;
    },
  );
}

describe('selectors', () => {
  it('compare with $eq, $ne, $gt, $gte, $lt and $lte, and plain values', () => {
    assert.deepEqual(matches({ name: 'submit' }), [1, 4]);
    assert.deepEqual(matches({ name: { $eq: 'start' } }), [2]);
    assert.deepEqual(matches({ name: { $ne: 'submit' } }), [2, 3]);
    assert.deepEqual(matches({ 'context.urgency': { $gt: 8 } }), [1, 4]);
    assert.deepEqual(matches({ 'context.urgency': { $gte: 16 } }), [1, 4]);
    assert.deepEqual(matches({ 'context.urgency': { $lt: 16 } }), [2]);
    assert.deepEqual(matches({ 'context.urgency': { $lte: 16 } }), [1, 2]);
    assert.deepEqual(matches({ seq: { $gt: 1, $lt: 4 } }), [2, 3]);
    assert.deepEqual(matches({ timestamp: { $gte: 102.25 } }), [3, 4]);
  });

  it('follow dotted paths into the context, and match arrays by element', () => {
    assert.deepEqual(matches({ 'context.user.name': 'bob' }), [3]);
    assert.deepEqual(matches({ 'context.user.uid': { $gte: 1000 } }), [1, 3]);
    assert.deepEqual(matches({ 'context.tags': 'gpu' }), [1]);
    assert.deepEqual(matches({ 'context.tags': ['cpu'] }), [4]);
    assert.deepEqual(matches({ context: { id: 'f1', urgency: 8, nodes: 4 } }), [2]);
  });

  it('test membership with $in and $nin, and presence with $exists', () => {
    assert.deepEqual(matches({ name: { $in: ['start', 'finish'] } }), [2, 3]);
    assert.deepEqual(matches({ 'context.tags': { $in: ['cpu', 'nope'] } }), [4]);
    assert.deepEqual(matches({ name: { $nin: ['submit'] } }), [2, 3]);
    assert.deepEqual(matches({ 'context.status': { $exists: true } }), [3, 4]);
    assert.deepEqual(matches({ 'context.status': { $exists: false } }), [1, 2]);
    assert.deepEqual(matches({ 'context.status': null }), [1, 2, 4]);
  });

  it('match strings with $regex and $options', () => {
    assert.deepEqual(matches({ name: { $regex: '^s' } }), [1, 2, 4]);
    assert.deepEqual(matches({ name: { $regex: '^S', $options: 'i' } }), [1, 2, 4]);
    assert.deepEqual(matches({ 'context.id': { $regex: '2$' } }), [4]);
    assert.deepEqual(matches({ 'context.urgency': { $regex: '16' } }), [], 'a number is not a string');
    assert.deepEqual(matches({ 'context.user.name': { $regex: '^A\\w+$', $options: 'i' } }), [1], 'i with an escape');
    assert.deepEqual(matches({ 'context.tags': { $regex: 'G[P-Q]U', $options: 'i' } }), [1], 'i with a class');
    assert.deepEqual(matches({ 'context.status': { $regex: '^F.*D$', $options: 'is' } }), [3], 'several options');
    assert.deepEqual(matches({ 'context.tags': { $regex: 'GPU' } }), [], 'without i, case counts');
  });

  it('combine with $and, $or, $nor and $not', () => {
    assert.deepEqual(matches({ $and: [{ name: 'submit' }, { 'context.urgency': { $gt: 20 } }] }), [4]);
    assert.deepEqual(matches({ $or: [{ name: 'start' }, { 'context.status': 'failed' }] }), [2, 3]);
    assert.deepEqual(matches({ $nor: [{ name: 'start' }, { 'context.status': 'failed' }] }), [1, 4]);
    assert.deepEqual(matches({ 'context.urgency': { $not: { $gt: 10 } } }), [2, 3]);
    assert.deepEqual(matches({ name: { $not: { $regex: '^s' } } }), [3]);
    assert.deepEqual(matches({ name: 'submit', $or: [{ 'context.tags': 'gpu' }, { 'context.urgency': 31 }] }), [1, 4]);
  });

  it('refuse every other operator with INVALID_SELECTOR', () => {
    for (const operator of ['$where', '$expr', '$elemMatch', '$size', '$type', '$mod', '$all', '$text', '$function', '$jsonSchema']) {
      refused({ 'context.tags': { [operator]: 1 } }, /unknown operator/);
    }
    refused({ $where: 'this.a == 1' }, /unknown operator \$where/);
    refused({ $expr: { $gt: ['$a', 1] } }, /unknown operator/);
  });

  it('refuse what is not a selector, with a message saying why', () => {
    refused([{ name: 'a' }], /must be a JSON object/);
    refused('name', /must be a JSON object/);
    refused({ id: 'f1' }, /did you mean "context\.id"/);
    refused({ 'context..id': 1 }, /not a valid path/);
    refused({ 'context.__proto__.x': 1 }, /not a valid path/);
    refused({ 'context.constructor': { $exists: true } }, /not a valid path/);
    refused({ name: { $in: 'a' } }, /\$in takes an array/);
    refused({ name: { $exists: 1 } }, /\$exists takes true or false/);
    refused({ name: { $regex: 5 } }, /\$regex takes a string/);
    refused({ name: { $regex: 'a', $options: 'g' } }, /\$options takes letters of "ims"/);
    refused({ name: { $regex: 'a', $options: 'u' } }, /\$options takes letters of "ims"/);
    refused({ name: { $options: 'i' } }, /\$options needs \$regex/);
    refused({ name: { $eq: 'a', plain: 1 } }, /cannot be mixed/);
    refused({ $or: [] }, /non-empty array/);
    refused({ $and: [1] }, /must be an object/);
    refused({ name: { $not: 'a' } }, /\$not takes an operator object/);
  });

  it('refuse selectors past the size limits: length, depth, values, pattern length', () => {
    assert.throws(() => parseSelector(JSON.stringify({ name: 'x'.repeat(5000) })), { code: 'INVALID_SELECTOR', message: /characters; at most 4096/ });
    assert.throws(() => parseSelector('{"name":'), { code: 'INVALID_SELECTOR', message: /not valid JSON/ });
    let deep: Record<string, unknown> = { name: 'a' };
    for (let i = 0; i < 10; i++) deep = { $and: [deep] };
    refused(deep, /nested more than 8 deep/);
    refused({ name: { $in: Array.from({ length: 300 }, (_, i) => `n${i}`) } }, /more than 256 values/);
    refused({ name: { $regex: 'a'.repeat(257) } }, /at most 256/);
  });

  it('runs $regex on a linear-time engine (re2js): a catastrophic pattern on a long subject finishes, backreferences and lookaround are refused', () => {
    const selector = compileSelector({ 'context.s': { $regex: '^(a|a)*$' } });
    const subject = `${'a'.repeat(10_000)}b`;
    // A backtracking engine takes on the order of 2^10000 steps here; the test would not end.
    assert.equal(selector.test({ name: 'x', timestamp: 1, seq: 1, context: { s: subject } }), false);
    assert.equal(selector.test({ name: 'x', timestamp: 1, seq: 1, context: { s: 'aaaa' } }), true);
    refused({ name: { $regex: '(a)\\1' } }, /backreferences and lookaround are not supported/);
    refused({ name: { $regex: '(?=a)a' } }, /backreferences and lookaround are not supported/);
    refused({ name: { $regex: '(' } }, /cannot be used/);
  });

  it('says whether it reads the context, so that events are parsed only when it does', () => {
    assert.equal(compileSelector({ name: 'a', seq: { $gt: 1 } }).readsContext, false);
    assert.equal(compileSelector({ $or: [{ name: 'a' }, { 'context.x': 1 }] }).readsContext, true);
  });
});

describe('event filters', () => {
  const stored = [
    encodeEvent(1, 1_000_000, { name: 'log', context: { levelno: 40, message: 'disk full' } }),
    encodeEvent(2, 1_000_001, { name: 'log', context: { levelno: 20, message: 'ok' } }),
    encodeEvent(3, 1_000_002, { name: 'job', context: { levelno: 50 } }),
    encodeEvent(4, 1_000_003, { name: 'log', context: { message: 'no level' } }),
  ];
  const seqs = (options: Parameters<typeof eventFilter>[0]) => stored.filter(eventFilter(options) ?? (() => true)).map((event) => event.seq);

  it('keeps log events at the least level or above, by name or number', () => {
    assert.equal(parseLevel('warning'), 30);
    assert.equal(parseLevel('35'), 35);
    assert.equal(parseLevel('loud'), undefined);
    assert.equal(parseLevel('constructor'), undefined);
    assert.deepEqual(seqs({ level: 30 }), [1]);
    assert.deepEqual(seqs({ level: 10 }), [1, 2]);
  });

  it('combines names, level and a selector', () => {
    assert.equal(eventFilter({}), undefined);
    assert.deepEqual(seqs({ names: new Set(['job', 'log']), where: compileSelector({ 'context.levelno': { $gte: 40 } }) }), [1, 3]);
    assert.deepEqual(seqs({ level: 10, where: compileSelector({ 'context.message': { $regex: 'disk' } }) }), [1]);
    assert.deepEqual(seqs({ where: compileSelector({ seq: { $in: [2, 4] } }) }), [2, 4]);
  });
});
