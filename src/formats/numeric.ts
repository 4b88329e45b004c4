/**
 * Numeric conversions between tensor dtypes: f32 <-> f16 and f32 <-> bf16 with round-to-nearest-even
 * (subnormals, ±inf and NaN handled), FP8 (E4M3FN, E5M2) decoding, and `readTensorAsF32` which turns
 * a tensor's little-endian bytes of any plain dtype (and GGUF Q8_0/Q4_0/Q4_1/Q8_1 blocks)
 * into a Float32Array. Pure functions on typed arrays; no I/O, no knowledge of file formats.
 */
import { inputError } from '../errors.ts';
import { DTYPE_BYTES, numel, type DType, type TensorInfo } from './types.ts';
import { ggmlBlock } from './ggml-types.ts';

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** IEEE binary32 bits -> binary16 bits, round to nearest, ties to even. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal half (or zero): value in units of 2^-24 is m24 >> (14 - e)
    const s = 14 - e;
    if (s > 24) return sign;
    const m24 = mant | 0x800000;
    const q = m24 >>> s;
    const rem = m24 & ((1 << s) - 1);
    const half = 1 << (s - 1);
    const up = rem > half || (rem === half && (q & 1) === 1) ? 1 : 0;
    return sign | (q + up);
  }
  const q = mant >>> 13;
  const rem = mant & 0x1fff;
  const up = rem > 0x1000 || (rem === 0x1000 && (q & 1) === 1) ? 1 : 0;
  return (sign | ((e << 10) + q + up)) & 0xffff; // carry rolls into the exponent (up to inf)
}

/** binary16 bits -> the float value (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) {
    if (mant === 0) return sign * Infinity;
    // keep NaN payload: build the f32 bits directly
    u32buf[0] = ((h & 0x8000) << 16) | 0x7f800000 | (mant << 13);
    return f32buf[0]!;
  }
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let F16_TABLE: Float32Array | undefined;
function f16Table(): Float32Array {
  if (!F16_TABLE) {
    F16_TABLE = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) F16_TABLE[i] = f16BitsToF32(i);
  }
  return F16_TABLE;
}

export function f32ToF16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToF16Bits(bits[i]!);
  return out;
}

export function f16ToF32(src: Uint16Array): Float32Array {
  const t = f16Table();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return out;
}

/** binary32 bits -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN. */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  const lsb = (x >>> 16) & 1;
  return Math.floor(((x >>> 0) + 0x7fff + lsb) / 65536) & 0xffff;
}

export function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32BitsToBf16Bits(bits[i]!);
  return out;
}

export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const ob = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) ob[i] = src[i]! << 16;
  return out;
}

/** FP8 E4M3FN (bias 7, no infinities, 0x7f/0xff = NaN). */
export function f8e4m3ToF32(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >>> 3) & 0xf;
  const mant = b & 0x7;
  if (exp === 0xf && mant === 0x7) return NaN;
  if (exp === 0) return sign * mant * 2 ** -9;
  return sign * (1 + mant / 8) * 2 ** (exp - 7);
}

/** FP8 E5M2 (bias 15, IEEE-like): the top byte of a binary16. */
export function f8e5m2ToF32(b: number): number {
  return f16BitsToF32((b & 0xff) << 8);
}

/** Bytes per element used for byte-plane grouping (1 for block-quantized and byte types). */
export function tensorElementWidth(dtype: DType): number {
  if (dtype === 'C64') return 4;
  if (dtype === 'C128') return 8;
  return DTYPE_BYTES[dtype] ?? 1;
}

/** Expected byte length of a tensor of `dtype` and `shape`, or undefined if variable (STRING). */
export function tensorByteLength(dtype: DType, shape: readonly number[]): number | undefined {
  const n = numel(shape);
  const w = DTYPE_BYTES[dtype];
  if (w !== undefined) return n * w;
  const b = ggmlBlock(dtype);
  if (b) return Math.ceil(n / b.elements) * b.bytes;
  return undefined;
}

function aligned<T>(bytes: Uint8Array, width: number, make: (buf: ArrayBuffer, off: number, len: number) => T): T {
  const n = Math.floor(bytes.length / width);
  if (bytes.byteOffset % width === 0) return make(bytes.buffer as ArrayBuffer, bytes.byteOffset, n);
  const copy = new Uint8Array(n * width); // (Buffer#slice would be a view, so copy explicitly)
  copy.set(bytes.subarray(0, n * width));
  return make(copy.buffer, 0, n);
}

/**
 * Decode a tensor's little-endian data bytes (`bytes.length` must be `info.length`) into floats.
 * Integer types are converted by value; block types are dequantized.
 */
export function readTensorAsF32(info: Pick<TensorInfo, 'name' | 'dtype' | 'shape'>, bytes: Uint8Array): Float32Array {
  const n = numel(info.shape);
  const need = tensorByteLength(info.dtype, info.shape);
  if (need === undefined || (info.dtype !== 'C64' && info.dtype !== 'C128' && DTYPE_BYTES[info.dtype] === undefined && !ggmlBlock(info.dtype))) {
    throw inputError('DTYPE_NOT_NUMERIC', `tensor ${info.name}: dtype ${info.dtype} cannot be read as float32`);
  }
  if (bytes.length < need) {
    throw inputError('TENSOR_DATA_TRUNCATED', `tensor ${info.name}: ${bytes.length} bytes of data, ${need} expected for ${info.dtype}[${info.shape.join(',')}]`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (info.dtype) {
    case 'F32':
      out.set(aligned(bytes.subarray(0, n * 4), 4, (b, o, l) => new Float32Array(b, o, l)));
      return out;
    case 'F16':
      return f16ToF32(aligned(bytes.subarray(0, n * 2), 2, (b, o, l) => new Uint16Array(b, o, l)));
    case 'BF16':
      return bf16ToF32(aligned(bytes.subarray(0, n * 2), 2, (b, o, l) => new Uint16Array(b, o, l)));
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
      return out;
    case 'U64':
      for (let i = 0; i < n; i++) out[i] = Number(dv.getBigUint64(i * 8, true));
      return out;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      return out;
    case 'U32':
      for (let i = 0; i < n; i++) out[i] = dv.getUint32(i * 4, true);
      return out;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
      return out;
    case 'U16':
      for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, true);
      return out;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      return out;
    case 'U8':
      for (let i = 0; i < n; i++) out[i] = bytes[i]!;
      return out;
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = bytes[i] ? 1 : 0;
      return out;
    case 'F8_E4M3':
      for (let i = 0; i < n; i++) out[i] = f8e4m3ToF32(bytes[i]!);
      return out;
    case 'F8_E5M2':
      for (let i = 0; i < n; i++) out[i] = f8e5m2ToF32(bytes[i]!);
      return out;
    case 'Q8_0':
      return dequantQ8_0(bytes, n);
    case 'Q4_0':
      return dequantQ4_0(bytes, n);
    case 'Q4_1':
      return dequantQ4_1(bytes, n);
    case 'Q8_1':
      return dequantQ8_1(bytes, n);
    default:
      throw inputError('DTYPE_NOT_SUPPORTED', `tensor ${info.name}: reading ${info.dtype} as float32 is not supported`);
  }
}

const t16 = () => f16Table();

/** ggml Q8_0: blocks of 32: f16 scale d, 32 x int8 q; x = d * q. */
export function dequantQ8_0(bytes: Uint8Array, n: number): Float32Array {
  const t = t16();
  const out = new Float32Array(n);
  for (let b = 0, i = 0; i < n; b += 34) {
    const d = t[bytes[b]! | (bytes[b + 1]! << 8)]!;
    for (let j = 0; j < 32 && i < n; j++, i++) out[i] = d * ((bytes[b + 2 + j]! << 24) >> 24);
  }
  return out;
}

/** ggml Q4_0: blocks of 32: f16 d, 16 bytes; element j (<16) = low nibble of byte j, j+16 = high nibble; x = d*(q-8). */
export function dequantQ4_0(bytes: Uint8Array, n: number): Float32Array {
  const t = t16();
  const out = new Float32Array(n);
  for (let b = 0, base = 0; base < n; b += 18, base += 32) {
    const d = t[bytes[b]! | (bytes[b + 1]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = bytes[b + 2 + j]!;
      if (base + j < n) out[base + j] = d * ((q & 0xf) - 8);
      if (base + j + 16 < n) out[base + j + 16] = d * ((q >>> 4) - 8);
    }
  }
  return out;
}

/** ggml Q4_1: blocks of 32: f16 d, f16 m, 16 bytes; x = d*q + m. */
export function dequantQ4_1(bytes: Uint8Array, n: number): Float32Array {
  const t = t16();
  const out = new Float32Array(n);
  for (let b = 0, base = 0; base < n; b += 20, base += 32) {
    const d = t[bytes[b]! | (bytes[b + 1]! << 8)]!;
    const m = t[bytes[b + 2]! | (bytes[b + 3]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = bytes[b + 4 + j]!;
      if (base + j < n) out[base + j] = d * (q & 0xf) + m;
      if (base + j + 16 < n) out[base + j + 16] = d * (q >>> 4) + m;
    }
  }
  return out;
}

/** ggml Q8_1: blocks of 32: f16 d, f16 s (= d * sum q), 32 x int8; x = d * q. */
export function dequantQ8_1(bytes: Uint8Array, n: number): Float32Array {
  const t = t16();
  const out = new Float32Array(n);
  for (let b = 0, i = 0; i < n; b += 36) {
    const d = t[bytes[b]! | (bytes[b + 1]! << 8)]!;
    for (let j = 0; j < 32 && i < n; j++, i++) out[i] = d * ((bytes[b + 4 + j]! << 24) >> 24);
  }
  return out;
}

/** Quantize floats to ggml Q8_0 blocks (reference algorithm: d = amax/127, q = round(x/d)). */
export function quantizeQ8_0(src: Float32Array): Uint8Array {
  const blocks = Math.ceil(src.length / 32);
  const out = new Uint8Array(blocks * 34);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[b * 32 + j] ?? 0));
    const d = amax / 127;
    const dh = f32BitsToF16Bits(toBits(d));
    out[b * 34] = dh & 0xff;
    out[b * 34 + 1] = dh >>> 8;
    const id = d ? 1 / d : 0;
    for (let j = 0; j < 32; j++) out[b * 34 + 2 + j] = Math.round((src[b * 32 + j] ?? 0) * id) & 0xff;
  }
  return out;
}

/** Quantize floats to ggml Q4_0 blocks (reference: d = max/-8 by signed absmax, q = min(15, trunc(x/d + 8.5))). */
export function quantizeQ4_0(src: Float32Array): Uint8Array {
  const blocks = Math.ceil(src.length / 32);
  const out = new Uint8Array(blocks * 18);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = src[b * 32 + j] ?? 0;
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = max / -8;
    const dh = f32BitsToF16Bits(toBits(d));
    out[b * 18] = dh & 0xff;
    out[b * 18 + 1] = dh >>> 8;
    const id = d ? 1 / d : 0;
    for (let j = 0; j < 16; j++) {
      const x0 = (src[b * 32 + j] ?? 0) * id;
      const x1 = (src[b * 32 + j + 16] ?? 0) * id;
      const q0 = Math.min(15, Math.trunc(x0 + 8.5));
      const q1 = Math.min(15, Math.trunc(x1 + 8.5));
      out[b * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

function toBits(v: number): number {
  f32buf[0] = v;
  return u32buf[0]!;
}
