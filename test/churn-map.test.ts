/** ChurnMap: the null-prototype map for entries added and removed per message, held against a Map. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ChurnMap } from '../src/churn-map.js';

const operation = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: fc.nat(50), value: fc.integer() }),
  fc.record({ op: fc.constant('delete' as const), key: fc.nat(50) }),
  fc.record({ op: fc.constant('clear' as const) }),
);

describe('ChurnMap', () => {
  it('agrees with a Map on get, size and delete, and lists integer keys in ascending order (1,000 runs)', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 200 }), (operations) => {
        const map = new ChurnMap<number, number>();
        const model = new Map<number, number>();
        for (const step of operations) {
          if (step.op === 'set') {
            map.set(step.key, step.value);
            model.set(step.key, step.value);
          } else if (step.op === 'delete') {
            assert.equal(map.delete(step.key), model.delete(step.key));
          } else {
            map.clear();
            model.clear();
          }
          assert.equal(map.size, model.size);
        }
        for (let key = 0; key <= 50; key++) assert.equal(map.get(key), model.get(key));
        const ascending = [...model].sort(([a], [b]) => a - b).map(([, value]) => value);
        assert.deepEqual(map.values(), ascending);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps string keys in insertion order and takes keys an Object.prototype would shadow', () => {
    const map = new ChurnMap<string, string>();
    for (const key of ['b', '__proto__', 'constructor', 'a', 'toString']) map.set(key, key.toUpperCase());
    assert.equal(map.get('__proto__'), '__PROTO__');
    assert.equal(map.get('hasOwnProperty'), undefined);
    assert.deepEqual(map.values(), ['B', '__PROTO__', 'CONSTRUCTOR', 'A', 'TOSTRING']);
    assert.equal(map.delete('constructor'), true);
    assert.equal(map.delete('constructor'), false);
    assert.equal(map.size, 4);
  });
});
