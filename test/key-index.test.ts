/** KeyIndex: the typed-array index of a journal's newest batch keys, held against a plain model. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hashKey, KeyIndex } from '../server/key-index.js';
import { collidingKeys } from './helpers.js';

describe('KeyIndex', () => {
  it('finds every remembered key among its newest `limit`, newest first, and nothing forgotten (1,000 runs)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 1500 }), (limit, keys) => {
        const index = new KeyIndex(limit);
        const model: [key: string, micros: number][] = [];
        keys.forEach((n, micros) => {
          index.remember(`key-${n}`, micros);
          model.push([`key-${n}`, micros]);
        });
        const window = model.slice(-limit);
        assert.equal(index.size, window.length);
        for (const key of new Set(model.map(([key]) => key))) {
          const found = index.find(key);
          const sameHash = window.filter(([other]) => hashKey(other) === hashKey(key)).map(([, micros]) => micros).reverse();
          // Every remembered batch of the key is offered (and whatever shares its hash), newest first.
          assert.deepEqual(found, sameHash);
          const own = window.filter(([other]) => other === key).map(([, micros]) => micros);
          for (const micros of own) assert.ok(found.includes(micros));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('offers the batches of a colliding key, for the caller to tell apart', () => {
    const [a, b] = collidingKeys();
    assert.notEqual(a, b);
    const index = new KeyIndex(10);
    index.remember(a, 1);
    assert.deepEqual(index.find(b), [1]);
    index.remember(b, 2);
    assert.deepEqual(index.find(a), [2, 1]);
  });

  it('refuses a limit that is not a positive integer', () => {
    for (const limit of [0, -1, 1.5, NaN]) assert.throws(() => new KeyIndex(limit), RangeError);
  });
});
