import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { splitPlanes, joinPlanes, setPlanesSimd } from './planes.ts';

test('splitPlanes groups byte k of every element into plane k', () => {
  const b = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...splitPlanes(b, 4)], [1, 5, 2, 6, 3, 7, 4, 8, 9]);
  assert.deepEqual([...splitPlanes(b, 2)], [1, 3, 5, 7, 2, 4, 6, 8, 9]);
  assert.deepEqual([...splitPlanes(b, 3)], [1, 4, 7, 2, 5, 8, 3, 6, 9]);
});

test('joinPlanes inverts splitPlanes for any bytes, width and alignment', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 3 }), (bytes, width, skip) => {
      const view = bytes.subarray(Math.min(skip, bytes.length)); // unaligned views too
      const planes = splitPlanes(view, width);
      assert.equal(planes.length, view.length);
      assert.deepEqual(joinPlanes(planes, width), Uint8Array.from(view));
    }),
  );
});

test('plane width outside 1..16 is rejected', () => {
  assert.throws(() => splitPlanes(new Uint8Array(4), 0), RangeError);
  assert.throws(() => joinPlanes(new Uint8Array(4), 17), RangeError);
});

test('the wasm SIMD transposes equal the JS reference for widths 2 and 4, any length and alignment', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 5000 }), fc.constantFrom(2, 4), fc.integer({ min: 0, max: 3 }), (bytes, width, skip) => {
      const view = bytes.subarray(Math.min(skip, bytes.length));
      setPlanesSimd(false);
      const refSplit = splitPlanes(view, width);
      const refJoin = joinPlanes(view, width);
      setPlanesSimd(true);
      assert.deepEqual(splitPlanes(view, width), refSplit);
      assert.deepEqual(joinPlanes(view, width), refJoin);
      assert.deepEqual(joinPlanes(splitPlanes(view, width), width), Uint8Array.from(view));
    }),
    { numRuns: 200 },
  );
  // a multi-MiB chunk (the wasm memory grows) and sizes around the 16-element groups
  for (const len of [4 << 20, (4 << 20) + 7, 64 * 4, 65 * 4 + 3, 79 * 2 + 1]) {
    const b = Uint8Array.from({ length: len }, (_, i) => (i * 2654435761) >>> 24);
    for (const w of [2, 4]) {
      setPlanesSimd(false);
      const ref = splitPlanes(b, w);
      setPlanesSimd(true);
      assert.deepEqual(splitPlanes(b, w), ref);
      assert.deepEqual(joinPlanes(ref, w), b);
    }
  }
});


test('Buffer views at any byte offset work (Buffer#slice is a view, not a copy)', () => {
  const big = Buffer.from(Uint8Array.from({ length: 5000 }, (_, i) => (i * 7) & 255));
  for (const simd of [true, false]) {
    setPlanesSimd(simd);
    for (const off of [0, 1, 2, 3]) {
      for (const len of [10, 100, 301, 4004]) {
        for (const w of [2, 4]) {
          const v = big.subarray(off, off + len);
          assert.deepEqual(Buffer.from(joinPlanes(splitPlanes(v, w), w)), v, `simd ${simd} offset ${off} length ${len} width ${w}`);
        }
      }
    }
  }
  setPlanesSimd(true);
});
