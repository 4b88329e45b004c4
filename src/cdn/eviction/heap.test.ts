import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IndexedHeap } from './heap.ts';

test('heap: pops in priority order, ties oldest first, against a sorted reference', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('set', 'del'), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 5 })), { maxLength: 200 }),
      (ops) => {
        const h = new IndexedHeap();
        const ref = new Map<string, { p: number; s: number }>();
        let seq = 0;
        for (const [op, k, p] of ops) {
          const key = `k${k}`;
          if (op === 'set') {
            h.set(key, p);
            ref.set(key, { p, s: seq++ });
          } else {
            assert.equal(h.delete(key), ref.delete(key));
          }
          assert.equal(h.size, ref.size);
        }
        const expected = [...ref.entries()].sort((a, b) => a[1].p - b[1].p || a[1].s - b[1].s).map((e) => e[0]);
        assert.deepEqual(h.ordered(), expected);
        assert.equal(h.peek(), expected[0]);
        // firstWhere skipping an arbitrary subset returns the first non-skipped key in order
        const skip = (k: string) => Number(k.slice(1)) % 3 === 0;
        assert.equal(h.firstWhere(skip), expected.find((k) => !skip(k)));
        const popped: string[] = [];
        while (h.size > 0) {
          const k = h.peek()!;
          popped.push(k);
          h.delete(k);
        }
        assert.deepEqual(popped, expected);
      },
    ),
    { numRuns: 300 },
  );
});

test('heap: firstWhere when everything is skipped is undefined', () => {
  const h = new IndexedHeap();
  for (let i = 0; i < 10; i++) h.set(`k${i}`, i);
  assert.equal(h.firstWhere(() => true), undefined);
  assert.equal(h.firstWhere((k) => k !== 'k7'), 'k7');
});
