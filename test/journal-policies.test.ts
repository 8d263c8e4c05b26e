/** Which policy a journal follows: the most specific key, exact names first. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JournalPolicies } from '../server/journal-policies.js';

describe('JournalPolicies', () => {
  const policies = new JournalPolicies({
    '*': { requireSchema: true },
    'jobs.*': {},
    'jobs.*.x': {},
    '*.x': {},
    'jobs.a': {},
    'a*b*c': {},
    'ab*c': {},
  });
  const keyOf = (journal: string) => policies.for(journal)?.key;

  it('prefers an exact name, then the glob with the most literal characters, then the one with fewer stars', () => {
    assert.equal(keyOf('jobs.a'), 'jobs.a');
    assert.equal(keyOf('jobs.b'), 'jobs.*');
    assert.equal(keyOf('jobs.b.x'), 'jobs.*.x');
    assert.equal(keyOf('other.x'), '*.x');
    assert.equal(keyOf('abc'), 'ab*c');
    assert.equal(keyOf('axbxc'), 'a*b*c');
    assert.equal(keyOf('anything'), '*');
    // Answers stay the same when remembered.
    assert.equal(keyOf('jobs.b'), 'jobs.*');
  });

  it('matches "." literally and "*" across any characters, including none', () => {
    const dots = new JournalPolicies({ 'a.b': {}, 'x*': {} });
    assert.equal(dots.for('aXb'), undefined);
    assert.equal(dots.for('x')?.key, 'x*');
    assert.equal(dots.for('x.y-z')?.key, 'x*');
    assert.equal(new JournalPolicies({}).for('x'), undefined);
    assert.equal(new JournalPolicies({}).empty, true);
  });

  it('resolves each policy into what the server applies', () => {
    const resolved = new JournalPolicies({ j: { allowedSchemas: ['urn:a', 'urn:b'] } }).for('j');
    assert.deepEqual(resolved, { key: 'j', requireSchema: false, allowedSchemas: new Set(['urn:a', 'urn:b']), retention: undefined });
    const kept = new JournalPolicies({ 'logs.*': { retention: { maxEvents: 10, archive: true } } });
    assert.deepEqual(kept.for('logs.a')?.retention, { maxEvents: 10, archive: true });
    assert.equal(kept.hasRetention, true);
  });
});
