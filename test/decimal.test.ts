/** server/decimal.ts: integers written as ASCII digits into a buffer. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decimalDigits, writeDecimal } from '../server/decimal.js';

const LIMIT = { timeout: 30_000 };

describe('writeDecimal', () => {
  it('writes what String(n) prints, at the offset, and returns the offset after it', LIMIT, () => {
    const buffer = Buffer.alloc(64, 0x2e);
    const check = (n: number, offset: number): void => {
      buffer.fill(0x2e);
      const end = writeDecimal(buffer, offset, n);
      assert.equal(buffer.toString('latin1', offset, end), JSON.stringify(n), `${n}`);
      assert.equal(buffer[offset - 1], 0x2e, 'nothing is written before the offset');
    };
    for (const n of [0, 1, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 1e15, 1_700_000_000_123_456, Number.MAX_SAFE_INTEGER]) check(n, 3);
    fc.assert(fc.property(fc.oneof(fc.nat(), fc.maxSafeNat()), fc.integer({ min: 1, max: 20 }), (n, offset) => check(n, offset)), { numRuns: 5000 });
    // What is not a non-negative safe integer goes through its JSON text.
    for (const n of [-1, 1.5, 2 ** 53, -0]) check(n, 3);
  });

  it('counts the digits of a non-negative integer', LIMIT, () => {
    fc.assert(fc.property(fc.maxSafeNat(), (n) => assert.equal(decimalDigits(n), String(n).length)), { numRuns: 5000 });
  });
});
