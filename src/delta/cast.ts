/**
 * Cross-dtype prediction for the tensor method: when NEW holds a tensor re-encoded to another float
 * type (FP32 → FP16 re-quantization, BF16 → FP32 upcast…), OLD's values converted to NEW's dtype
 * (IEEE round-to-nearest-even, the formats area's converters) predict NEW almost exactly, and only
 * the residual against that prediction is coded. Pure functions over bytes; no I/O.
 */
import type { DType } from '../formats/types.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../formats/numeric.ts';

export interface CastKind {
  from: DType;
  to: DType;
  fromWidth: number;
  toWidth: number;
  convert(old: Uint8Array): Uint8Array;
}

/** A fresh, aligned copy: typed-array views need an offset that is a multiple of the width. */
function view(b: Uint8Array): ArrayBuffer {
  const c = new Uint8Array(b.length);
  c.set(b);
  return c.buffer;
}

export const CASTS: Record<string, CastKind> = {
  'f32>f16': { from: 'F32', to: 'F16', fromWidth: 4, toWidth: 2, convert: (b) => new Uint8Array(f32ToF16(new Float32Array(view(b))).buffer) },
  'f32>bf16': { from: 'F32', to: 'BF16', fromWidth: 4, toWidth: 2, convert: (b) => new Uint8Array(f32ToBf16(new Float32Array(view(b))).buffer) },
  'f16>f32': { from: 'F16', to: 'F32', fromWidth: 2, toWidth: 4, convert: (b) => new Uint8Array(f16ToF32(new Uint16Array(view(b))).buffer) },
  'bf16>f32': { from: 'BF16', to: 'F32', fromWidth: 2, toWidth: 4, convert: (b) => new Uint8Array(bf16ToF32(new Uint16Array(view(b))).buffer) },
};

/** The cast that turns an OLD tensor of dtype `from` into NEW's dtype `to`, if we have one. */
export function castFor(from: DType, to: DType): string | undefined {
  return Object.keys(CASTS).find((k) => CASTS[k].from === from && CASTS[k].to === to);
}
