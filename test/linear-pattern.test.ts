/**
 * Patterns that run on JavaScript's own engine must be the ones proved linear, and must match
 * exactly what re2js (the engine for every other pattern) matches.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { linearNativePattern } from '../server/schemas/linear-pattern.js';

const ACCEPTED = [
  '^f[0-9a-z]+$',
  '^\\d{4}-\\d{2}-\\d{2}$',
  '^[A-Z][a-z]*$',
  '^[^:]+:[0-9]+$',
  '^urn:[a-z]+:',
  '^a+',
  '^.{1,64}$',
  '^\\w+@\\w+\\.[a-z]{2,6}$',
  '^v\\d+\\.\\d+\\.\\d+$',
  '^[\\-+]?\\d+$',
  '^x*?y$',
];

const REFUSED = [
  // Not anchored: every start position is tried.
  'f[0-9a-z]+$',
  // Groups, alternation, back-references, look-arounds.
  '^(a+)+$',
  '^(a|a)*$',
  '^a|b$',
  '^(a)\\1$',
  '^(?=a)a$',
  // Adjacent quantified atoms that share characters: polynomial backtracking.
  '^a*a*$',
  '^\\d+\\d$',
  '^\\w+\\d+$',
  '^.*x.*$',
  '^[a-z]+[^0-9]$',
  // A variable atom followed by an optional one.
  '^a*b?c$',
  // Outside the subset, or not a pattern at all.
  '^\\bword$',
  '^\\p{L}+$',
  '^a{2,1}$',
  '^a**$',
  '^[z-a]$',
  '^[]$',
  '^a$b',
  '^(',
];

describe('linear patterns', () => {
  for (const pattern of ACCEPTED) {
    it(`runs ${pattern} natively`, () => {
      assert.ok(linearNativePattern(pattern) instanceof RegExp);
    });
  }
  for (const pattern of REFUSED) {
    it(`leaves ${pattern} to re2js`, () => {
      assert.equal(linearNativePattern(pattern), undefined);
    });
  }

  it('matches what re2js matches, for every accepted pattern', () => {
    const alphabet = fc.constantFrom(...'af09xyzAZ:-+.@_ \n'.split(''), 'é', '😀');
    for (const pattern of ACCEPTED) {
      const native = linearNativePattern(pattern)!;
      const re2 = RE2JS.compile(RE2JS.translateRegExp(pattern));
      fc.assert(
        fc.property(fc.array(alphabet, { maxLength: 24 }).map((chars) => chars.join('')), (text) => native.test(text) === re2.test(text)),
        { numRuns: 2000 },
      );
    }
  });

  it('answers a hostile input to an accepted pattern in linear work', () => {
    // Not a timing bar: a backtracking blow-up on 100,000 characters would not finish at all.
    const native = linearNativePattern('^[a-z]+[0-9]$')!;
    assert.equal(native.test('a'.repeat(100_000)), false);
    assert.equal(native.test(`${'a'.repeat(100_000)}1`), true);
  });
});
