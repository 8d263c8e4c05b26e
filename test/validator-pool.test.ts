/**
 * The validator pool sends the validations asked for in one turn to a worker together; when
 * such a group passes its deadline, each of its validations runs again alone, so that only the
 * one that fails alone is refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, JournalError } from '../src/errors.js';
import { ValidatorPool } from '../server/schemas/validator-pool.js';
import type { SchemaSource } from '../server/schemas/worker-protocol.js';
import { within } from './helpers.js';

/** Each level tries both branches in full before `required` fails them: 2^depth steps. */
const branch = (missing: string) => ({ allOf: [{ properties: { a: { $ref: '#/definitions/n' } } }, { required: [missing] }] });
const EXPONENTIAL: SchemaSource = [
  '1 urn:test:exponential',
  JSON.stringify({ properties: { x: { $ref: '#/definitions/n' } }, definitions: { n: { anyOf: [{ type: 'string' }, branch('z'), branch('y')] } } }),
];
const NUMBER: SchemaSource = ['1 urn:test:number', JSON.stringify({ properties: { n: { type: 'number' } } })];

describe('ValidatorPool', () => {
  it('refuses only the validation that passes the deadline alone, not those sent with it', async (t) => {
    const pool = new ValidatorPool({ threads: 1, validateMs: 300, compileMs: 5000, heapMb: 64 });
    t.after(() => pool.close());
    await pool.compile(EXPONENTIAL);
    await pool.compile(NUMBER);
    let nested: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) nested = { a: nested };
    // Asked for in one turn: one group, one message, one deadline.
    const settle = (promise: Promise<unknown>) => promise.then((details) => ({ details }), (error: unknown) => ({ error }));
    const before = settle(pool.validate([NUMBER], '[{"n":1},{"n":"two"}]', [0, 0, 0, 1]));
    const hostile = settle(pool.validate([EXPONENTIAL], JSON.stringify([{ x: nested }]), [0, 0]));
    const after = settle(pool.validate([EXPONENTIAL], '[{"x":"leaf"}]', [0, 0]));
    const outcomes = await within(Promise.all([before, hostile, after]), 20_000, 'the three validations');
    assert.deepEqual(outcomes[0], { details: [{ index: 1, path: '/n', message: 'must be number' }] });
    const { error } = outcomes[1] as { error: unknown };
    assert.ok(error instanceof JournalError && error.code === ErrorCode.SCHEMA_VIOLATION && /longer than 300 ms|out of memory/.test(error.message), String(error));
    assert.deepEqual(outcomes[2], { details: [] });
  });

  it('answers the validations of one turn each with its own verdict, in order, however many they are', async (t) => {
    const pool = new ValidatorPool({ threads: 1, validateMs: 5000, compileMs: 5000, heapMb: 64 });
    t.after(() => pool.close());
    const verdicts = await Promise.all(Array.from({ length: 40 }, (_, i) => pool.validate([NUMBER], i % 3 === 0 ? '[{"n":"x"}]' : '[{"n":1}]', [0, i])));
    verdicts.forEach((details, i) => assert.deepEqual(details, i % 3 === 0 ? [{ index: i, path: '/n', message: 'must be number' }] : [], `validation ${i}`));
  });

  it('refuses what is asked after close with SHUTTING_DOWN', async () => {
    const pool = new ValidatorPool({ threads: 1, validateMs: 5000, compileMs: 5000, heapMb: 64 });
    const pending = pool.validate([NUMBER], '[{"n":1}]', [0, 0]);
    await pool.close();
    await assert.rejects(pending, (error: JournalError) => error.code === ErrorCode.SHUTTING_DOWN);
    await assert.rejects(pool.validate([NUMBER], '[{"n":1}]', [0, 0]), (error: JournalError) => error.code === ErrorCode.SHUTTING_DOWN);
  });
});
