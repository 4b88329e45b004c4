/**
 * Host-side tensors for evaluation: the typed-array view eval feeds to and reads from the ONNX
 * runtime, conversions to/from safetensors dtypes, batch slicing/concatenation, and a seeded PRNG
 * for reproducible random inputs. Pure; no runtime, no file I/O.
 */
import type { DType } from '../../formats/types.ts';
import { inputError } from '../../errors.ts';
import { f16ToF32 } from '../../formats/numeric.ts';
import { mulberry32 } from '../../util/random.ts';

export type HostDType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
export type HostData = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface HostTensor {
  type: HostDType;
  dims: number[];
  data: HostData;
}

const FROM_ST: Partial<Record<DType, HostDType>> = {
  F32: 'float32', F64: 'float64', F16: 'float16', I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8', U8: 'uint8', BOOL: 'bool',
};
const TO_ST: Record<HostDType, DType> = {
  float32: 'F32', float64: 'F64', float16: 'F16', int64: 'I64', int32: 'I32', int16: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};

export function hostTypeOf(dtype: DType, name: string): HostDType {
  const t = FROM_ST[dtype];
  if (!t) throw inputError('EVAL_INPUT_DTYPE', `input tensor ${name}: dtype ${dtype} cannot be fed to the runtime`, { name, dtype });
  return t;
}
export function stDTypeOf(t: HostDType): DType {
  return TO_ST[t];
}

export function allocHost(type: HostDType, n: number): HostData {
  switch (type) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'float16': return new Uint16Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'int32': return new Int32Array(n);
    case 'int16': return new Int16Array(n);
    case 'int8': return new Int8Array(n);
    case 'uint8':
    case 'bool': return new Uint8Array(n);
  }
}

/** View little-endian bytes as a host tensor (copies, so the result is aligned). */
export function hostFromBytes(type: HostDType, dims: number[], bytes: Uint8Array): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = allocHost(type, n);
  const need = n * data.BYTES_PER_ELEMENT;
  if (bytes.byteLength !== need) {
    throw inputError('EVAL_INPUT_SIZE', `input tensor of shape [${dims.join(',')}] ${type} needs ${need} bytes, has ${bytes.byteLength}`);
  }
  new Uint8Array(data.buffer).set(bytes);
  return { type, dims, data };
}

export function hostToBytes(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
}

/** Rows [start, end) along the first axis (a copy). */
export function sliceBatch(t: HostTensor, start: number, end: number): HostTensor {
  const rowLen = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = t.data.slice(start * rowLen, end * rowLen) as HostData;
  return { type: t.type, dims: [end - start, ...t.dims.slice(1)], data };
}

/** Concatenate along the first axis; tensors whose trailing dims differ are concatenated flat. */
export function concatBatch(parts: HostTensor[]): HostTensor {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  const tail = first.dims.slice(1);
  const sameTail = first.dims.length > 0 && parts.every((p) => p.dims.length === first.dims.length && p.dims.slice(1).every((d, i) => d === tail[i]));
  const total = parts.reduce((a, p) => a + p.data.length, 0);
  const data = allocHost(first.type, total);
  let off = 0;
  for (const p of parts) {
    (data as Float32Array).set(p.data as Float32Array, off);
    off += p.data.length;
  }
  const dims = sameTail ? [parts.reduce((a, p) => a + p.dims[0]!, 0), ...tail] : [total];
  return { type: first.type, dims, data };
}

/** Numbers for metrics (float16 decoded; int64 converted). */
export function toNumbers(t: HostTensor): ArrayLike<number> {
  if (t.type === 'float16') {
    return f16ToF32(t.data as Uint16Array);
  }
  if (t.type === 'int64') return Float64Array.from(t.data as BigInt64Array, (v) => Number(v));
  return t.data as ArrayLike<number>;
}

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export const seededRandom: (seed: number) => () => number = mulberry32;
