import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  f32BitsToF16Bits, f16BitsToF32, f32ToF16, f16ToF32, f32ToBf16, bf16ToF32, f32BitsToBf16Bits,
  readTensorAsF32, tensorElementWidth, quantizeQ8_0, quantizeQ4_0, dequantQ8_0, dequantQ4_0, f8e4m3ToF32, f8e5m2ToF32,
} from './numeric.ts';
import { isMcdnError } from '../errors.ts';

const bitsOf = (v: number) => new Uint32Array(new Float32Array([v]).buffer)[0]!;

test('f16: known values, overflow, subnormals, ties to even', () => {
  assert.equal(f32BitsToF16Bits(bitsOf(1)), 0x3c00);
  assert.equal(f32BitsToF16Bits(bitsOf(-2)), 0xc000);
  assert.equal(f32BitsToF16Bits(bitsOf(65504)), 0x7bff);
  assert.equal(f32BitsToF16Bits(bitsOf(65519)), 0x7bff); // below the midpoint
  assert.equal(f32BitsToF16Bits(bitsOf(65520)), 0x7c00); // midpoint to inf: ties to even -> inf
  assert.equal(f32BitsToF16Bits(bitsOf(Infinity)), 0x7c00);
  assert.equal(f32BitsToF16Bits(bitsOf(-Infinity)), 0xfc00);
  assert.ok(Number.isNaN(f16BitsToF32(f32BitsToF16Bits(bitsOf(NaN)))));
  assert.equal(f32BitsToF16Bits(bitsOf(2 ** -24)), 1); // smallest subnormal
  assert.equal(f32BitsToF16Bits(bitsOf(2 ** -25)), 0); // tie between 0 and 1 -> 0
  assert.equal(f32BitsToF16Bits(bitsOf(2 ** -25 * 1.5)), 1);
  assert.equal(f32BitsToF16Bits(bitsOf(3 * 2 ** -25)), 2); // tie between 1 and 2 -> 2
  assert.equal(f32BitsToF16Bits(bitsOf(-0)), 0x8000);
  assert.equal(f32BitsToF16Bits(bitsOf(1 + 2 ** -11)), 0x3c00); // tie -> even
  assert.equal(f32BitsToF16Bits(bitsOf(1 + 3 * 2 ** -11)), 0x3c02); // tie -> even (up)
  assert.equal(f32BitsToF16Bits(bitsOf(2 ** -14 - 2 ** -25)), 0x400); // rounds up into the first normal
});

test('f16: every half survives f16 -> f32 -> f16', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const back = f32ToF16(f16ToF32(all));
  for (let i = 0; i < 65536; i++) {
    const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
    if (isNaN) assert.ok((back[i]! & 0x7c00) === 0x7c00 && (back[i]! & 0x3ff) !== 0);
    else assert.equal(back[i], i, `half 0x${i.toString(16)}`);
  }
});

test('f16: result is the nearest half (property)', () => {
  fc.assert(
    fc.property(fc.float({ noNaN: true, min: -65504, max: 65504 }), (x) => {
      const h = f32BitsToF16Bits(bitsOf(x));
      const v = f16BitsToF32(h);
      const err = Math.abs(v - x);
      for (const nb of [h - 1, h + 1]) {
        if ((nb & 0x7fff) >= 0x7c00 || nb < 0 || ((nb ^ h) & 0x8000) !== 0) continue;
        const e2 = Math.abs(f16BitsToF32(nb) - x);
        if (e2 < err) return false;
        if (e2 === err && (h & 1) === 1) return false; // tie must go to even
      }
      return true;
    }),
    { numRuns: 3000 },
  );
});

test('bf16: RNE, inf, NaN', () => {
  assert.equal(f32BitsToBf16Bits(0x3f808000), 0x3f80); // tie, even stays
  assert.equal(f32BitsToBf16Bits(0x3f818000), 0x3f82); // tie, odd goes up
  assert.equal(f32BitsToBf16Bits(0x3f808001), 0x3f81);
  assert.equal(f32BitsToBf16Bits(0x7f7fffff), 0x7f80); // max float rounds to inf
  assert.equal(f32BitsToBf16Bits(bitsOf(-Infinity)), 0xff80);
  const nan = f32BitsToBf16Bits(0x7f800001);
  assert.ok((nan & 0x7f80) === 0x7f80 && (nan & 0x7f) !== 0);
  const x = new Float32Array([1, -2.5, 3.140625, 1e-40]);
  assert.deepEqual(Array.from(bf16ToF32(f32ToBf16(x))).slice(0, 3), [1, -2.5, 3.140625]);
});

test('fp8 decoders', () => {
  assert.equal(f8e4m3ToF32(0x38), 1);
  assert.equal(f8e4m3ToF32(0x7e), 448);
  assert.ok(Number.isNaN(f8e4m3ToF32(0x7f)));
  assert.equal(f8e4m3ToF32(0x01), 2 ** -9);
  assert.equal(f8e5m2ToF32(0x3c), 1);
  assert.equal(f8e5m2ToF32(0x7c), Infinity);
});

test('readTensorAsF32 over plain dtypes, unaligned views included', () => {
  const buf = new Uint8Array(1 + 16);
  const dv = new DataView(buf.buffer, 1);
  [1.5, -2, 3.25, 0].forEach((v, i) => dv.setFloat32(i * 4, v, true));
  assert.deepEqual(Array.from(readTensorAsF32({ name: 't', dtype: 'F32', shape: [4] }, buf.subarray(1))), [1.5, -2, 3.25, 0]);
  const i64 = new Uint8Array(16);
  new DataView(i64.buffer).setBigInt64(8, -7n, true);
  assert.deepEqual(Array.from(readTensorAsF32({ name: 't', dtype: 'I64', shape: [2] }, i64)), [0, -7]);
  assert.deepEqual(Array.from(readTensorAsF32({ name: 't', dtype: 'I8', shape: [2] }, new Uint8Array([0xff, 3]))), [-1, 3]);
  assert.deepEqual(Array.from(readTensorAsF32({ name: 't', dtype: 'F16', shape: [2] }, new Uint8Array([0x00, 0x3c, 0x00, 0xc0]))), [1, -2]);
  assert.deepEqual(Array.from(readTensorAsF32({ name: 't', dtype: 'BF16', shape: [1] }, new Uint8Array([0x80, 0x3f]))), [1]);
  assert.throws(() => readTensorAsF32({ name: 't', dtype: 'F32', shape: [3] }, new Uint8Array(8)), (e) => isMcdnError(e) && e.code === 'TENSOR_DATA_TRUNCATED');
  assert.throws(() => readTensorAsF32({ name: 't', dtype: 'STRING', shape: [1] }, new Uint8Array(8)), (e) => isMcdnError(e) && e.code === 'DTYPE_NOT_NUMERIC');
});

test('Q8_0 / Q4_0 quantize + dequantize stay within one step', () => {
  const x = new Float32Array(70).map((_, i) => Math.sin(i) * 3);
  const q8 = quantizeQ8_0(x);
  assert.equal(q8.length, 3 * 34);
  const y8 = dequantQ8_0(q8, 70);
  const q4 = dequantQ4_0(quantizeQ4_0(x), 70);
  for (let i = 0; i < 70; i++) {
    assert.ok(Math.abs(y8[i]! - x[i]!) <= (3 / 127) * 0.51 + 1e-3, `q8 ${i}`);
    assert.ok(Math.abs(q4[i]! - x[i]!) <= 3 / 8 + 1e-2, `q4 ${i}`); // one step where the positive end clamps at 15
  }
  assert.deepEqual(readTensorAsF32({ name: 'q', dtype: 'Q8_0', shape: [70] }, q8), y8);
});

test('element widths', () => {
  assert.equal(tensorElementWidth('F32'), 4);
  assert.equal(tensorElementWidth('BF16'), 2);
  assert.equal(tensorElementWidth('Q4_0'), 1);
  assert.equal(tensorElementWidth('F64'), 8);
});
