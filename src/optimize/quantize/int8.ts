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

export interface Int8BlockResult extends Int8Result {
  /** the weight's shape with the reduction axis split into [R / g, g] */
  blockShape: number[];
  /** scale tensor shape: blockShape with 1 everywhere but the channel axis and the block-index axis */
  scaleShape: number[];
}

/**
 * Symmetric INT8 with one scale per (output channel, block of g consecutive positions along the
 * reduction axis). Requires shape[redAxis] % g === 0. Values keep their row-major order; the result
 * is described in `blockShape` (reduction axis split in two) so a broadcast Mul applies the scales.
 */
export function quantizeInt8Blocks(
  data: Float32Array,
  shape: readonly number[],
  chAxis: number,
  redAxis: number,
  g: number,
  /** round the scales to their storage precision before quantizing (so q·scale is exact on load) */
  roundScales?: (s: Float32Array) => Float32Array,
): Int8BlockResult {
  const R = shape[redAxis]!;
  const blocks = R / g;
  const blockShape = [...shape.slice(0, redAxis), blocks, g, ...shape.slice(redAxis + 1)];
  const chB = chAxis < redAxis ? chAxis : chAxis + 1;
  const scaleShape = blockShape.map((d, i) => (i === chB || i === redAxis ? d : 1));
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const C = shape[chAxis]!;
  const sIndex = (i: number) => {
    const c = Math.floor(i / strides[chAxis]!) % C;
    const b = Math.floor(Math.floor(i / strides[redAxis]!) % R / g);
    return chB < redAxis ? c * blocks + b : b * C + c;
  };
  const amax = new Float32Array(C * blocks);
  for (let i = 0; i < data.length; i++) {
    const k = sIndex(i);
    const v = Math.abs(data[i]!);
    if (v > amax[k]!) amax[k] = v;
  }
  const scales = new Float32Array(C * blocks);
  for (let k = 0; k < scales.length; k++) scales[k] = amax[k]! > 0 && Number.isFinite(amax[k]!) ? Math.fround(amax[k]! / 127) : 1;
  if (roundScales) scales.set(roundScales(scales));
  const q = new Int8Array(data.length);
  let maxErr = 0;
  for (let i = 0; i < data.length; i++) {
    const s = scales[sIndex(i)]!;
    const w = data[i]!;
    const v = Math.max(-127, Math.min(127, roundHalfEven(w / s)));
    q[i] = v;
    const err = Math.abs(Math.fround(v * s) - w);
    if (err > maxErr) maxErr = err;
  }
  return { q, scales, maxAbsError: maxErr, blockShape, scaleShape };
}

/**
 * FP16 copies of scales when every one survives the cast within 0.1 % (no underflow, no overflow),
 * else null (keep them in float32). Values slightly below max|w|/127 after rounding are fine: q is
 * clamped to ±127.
 */
export function scalesAsF16(scales: Float32Array): { bits: Uint16Array; values: Float32Array } | null {
  const { bits } = castF16(scales);
  const values = new Float32Array(scales.length);
  for (let i = 0; i < scales.length; i++) {
    const v = f16BitsToF32(bits[i]!);
    if (!(v > 0) || !Number.isFinite(v) || Math.abs(v - scales[i]!) > 1e-3 * scales[i]!) return null;
    values[i] = v;
  }
  return { bits, values };
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
