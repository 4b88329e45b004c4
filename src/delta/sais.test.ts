import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { suffixArray, suffixArrayNaive } from './sais.ts';

test('SA-IS matches the naive suffix sort on random and repetitive inputs', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 1, max: 256 }), (raw, alpha) => {
      const b = raw.map((x) => x % alpha);
      assert.deepEqual(suffixArray(b), suffixArrayNaive(b));
    }),
    { numRuns: 400 },
  );
});

test('SA-IS edge cases: empty, one byte, all equal, periodic', () => {
  assert.deepEqual(suffixArray(new Uint8Array(0)), Int32Array.of(0));
  assert.deepEqual(suffixArray(Uint8Array.of(7)), Int32Array.of(1, 0));
  const same = new Uint8Array(1000).fill(3);
  assert.deepEqual(suffixArray(same), suffixArrayNaive(same));
  const periodic = Uint8Array.from({ length: 999 }, (_, i) => [1, 2, 1, 3][i % 4]);
  assert.deepEqual(suffixArray(periodic), suffixArrayNaive(periodic));
});
