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

test('SA-IS on larger inputs with deep recursion (small alphabets, long repeats): a permutation in suffix order', () => {
  const rnd = (seed: number) => () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 0x1000000;
  for (const [n, alpha, seed] of [
    [5000, 2, 1],
    [5000, 4, 2],
    [300_000, 3, 3],
    [300_000, 256, 4],
  ] as const) {
    const r = rnd(seed);
    const b = Uint8Array.from({ length: n }, () => Math.floor(r() * alpha));
    b.copyWithin(n >> 1, 0, Math.min(n >> 2, 1000)); // a repeat (kept short: the order check below walks common prefixes)
    const sa = suffixArray(b);
    if (n <= 5000) assert.deepEqual(sa, suffixArrayNaive(b));
    assert.equal(sa.length, n + 1);
    assert.equal(sa[0], n);
    const seen = new Uint8Array(n + 1);
    for (const p of sa) seen[p]++;
    assert.ok(seen.every((c) => c === 1), 'every suffix exactly once');
    for (let i = 1; i < n; i++) {
      const a = sa[i]!;
      const c = sa[i + 1]!;
      let d = 0;
      while (a + d < n && c + d < n && b[a + d] === b[c + d]) d++;
      assert.ok(a + d === n || (c + d < n && b[a + d]! < b[c + d]!), `suffixes ${a} and ${c} out of order`);
    }
  }
});
