/**
 * The numeric core of weight quantization, independent of any file format: symmetric INT8 per
 * output channel (or per tensor), uint8 affine (TF.js), and round-to-nearest-even FP16/BF16 casts
 * with their error. Pure functions over typed arrays.
 */
import { f16BitsToF32, f32BitsToF16Bits, f32BitsToBf16Bits } from '../../formats/numeric.ts';

export interface Int8Result {
  q: Int8Array;
  /** one scale per channel (length 1 for per-tensor) */
  scales: Float32Array;
  maxAbsError: number;
}

/** Split a shape around `axis`: outer × channels × inner (row-major). */
export function axisSplit(shape: readonly number[], axis: number): { outer: number; channels: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return { outer, channels: shape[axis]!, inner };
}

/**
 * Symmetric INT8: scale_c = max|w_c| / 127 (float32), q = round(w / scale) in [-127, 127].
 * `axis` null → one scale for the whole tensor. All-zero channels get scale 1 (q = 0).
 */
export function quantizeInt8(data: Float32Array, shape: readonly number[], axis: number | null): Int8Result {
  const { outer, channels, inner } = axis === null ? { outer: 1, channels: 1, inner: data.length } : axisSplit(shape, axis);
  const amax = new Float32Array(channels);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      let m = amax[c]!;
      for (let i = 0; i < inner; i++) {
        const v = Math.abs(data[base + i]!);
        if (v > m) m = v;
      }
      amax[c] = m;
    }
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = amax[c]! > 0 && Number.isFinite(amax[c]!) ? Math.fround(amax[c]! / 127) : 1;
  const q = new Int8Array(data.length);
  let maxErr = 0;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) {
        const w = data[base + i]!;
        const v = Math.max(-127, Math.min(127, roundHalfEven(w / s)));
        q[base + i] = v;
        const err = Math.abs(Math.fround(v * s) - w);
        if (err > maxErr) maxErr = err;
      }
    }
  }
  return { q, scales, maxAbsError: maxErr };
}

export function dequantizeInt8(q: Int8Array, scales: Float32Array, shape: readonly number[], axis: number | null): Float32Array {
  const { outer, channels, inner } = axis === null ? { outer: 1, channels: 1, inner: q.length } : axisSplit(shape, axis);
  const out = new Float32Array(q.length);
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) out[base + i] = q[base + i]! * s;
    }
  }
  return out;
}

export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** TF.js uint8 affine: scale = (max − min)/255, w ≈ q·scale + min (min/max over the whole tensor). */
export function quantizeUint8Affine(data: Float32Array): { q: Uint8Array; scale: number; min: number; maxAbsError: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    min = 0;
    max = 0;
  }
  // tfjs includes 0 in the range only implicitly; keep the exact min/max as tfjs' converter does
  const scale = max > min ? (max - min) / 255 : 1;
  const q = new Uint8Array(data.length);
  let maxErr = 0;
  for (let i = 0; i < data.length; i++) {
    const v = Math.max(0, Math.min(255, Math.round((data[i]! - min) / scale)));
    q[i] = v;
    const err = Math.abs(Math.fround(v * Math.fround(scale) + Math.fround(min)) - data[i]!);
    if (err > maxErr) maxErr = err;
  }
  return { q, scale, min, maxAbsError: maxErr };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** FP32 → FP16 (RNE) with the max abs error and the count of values that overflow to ±Inf. */
export function castF16(data: Float32Array): { bits: Uint16Array; maxAbsError: number; overflow: number } {
  const bits = new Uint16Array(data.length);
  let maxErr = 0;
  let overflow = 0;
  for (let i = 0; i < data.length; i++) {
    f32[0] = data[i]!;
    const h = f32BitsToF16Bits(u32[0]!);
    bits[i] = h;
    const back = f16BitsToF32(h);
    if (!Number.isFinite(back) && Number.isFinite(data[i]!)) overflow++;
    else {
      const e = Math.abs(back - data[i]!);
      if (e > maxErr) maxErr = e;
    }
  }
  return { bits, maxAbsError: maxErr, overflow };
}

/** FP32 → BF16 (RNE) with the max abs error. */
export function castBf16(data: Float32Array): { bits: Uint16Array; maxAbsError: number } {
  const bits = new Uint16Array(data.length);
  let maxErr = 0;
  for (let i = 0; i < data.length; i++) {
    f32[0] = data[i]!;
    const b = f32BitsToBf16Bits(u32[0]!);
    bits[i] = b;
    u32[0] = b << 16;
    const e = Math.abs(f32[0]! - data[i]!);
    if (e > maxErr) maxErr = e;
  }
  return { bits, maxAbsError: maxErr };
}
