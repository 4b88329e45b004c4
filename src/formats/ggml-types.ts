/**
 * The ggml tensor type table (GGUF's `ggml_type` enum): type id <-> DType name and the block
 * geometry (elements per block, bytes per block) that fixes every tensor's byte size. Pure data;
 * it does not parse or dequantize anything.
 */
import type { DType } from './types.ts';

export interface GgmlTypeInfo {
  id: number;
  dtype: DType;
  /** elements per block (1 for plain types) */
  elements: number;
  /** bytes per block */
  bytes: number;
}

/** Ids follow ggml.h (gaps are types removed from ggml). */
export const GGML_TYPES: GgmlTypeInfo[] = [
  { id: 0, dtype: 'F32', elements: 1, bytes: 4 },
  { id: 1, dtype: 'F16', elements: 1, bytes: 2 },
  { id: 2, dtype: 'Q4_0', elements: 32, bytes: 18 },
  { id: 3, dtype: 'Q4_1', elements: 32, bytes: 20 },
  { id: 6, dtype: 'Q5_0', elements: 32, bytes: 22 },
  { id: 7, dtype: 'Q5_1', elements: 32, bytes: 24 },
  { id: 8, dtype: 'Q8_0', elements: 32, bytes: 34 },
  { id: 9, dtype: 'Q8_1', elements: 32, bytes: 36 },
  { id: 10, dtype: 'Q2_K', elements: 256, bytes: 84 },
  { id: 11, dtype: 'Q3_K', elements: 256, bytes: 110 },
  { id: 12, dtype: 'Q4_K', elements: 256, bytes: 144 },
  { id: 13, dtype: 'Q5_K', elements: 256, bytes: 176 },
  { id: 14, dtype: 'Q6_K', elements: 256, bytes: 210 },
  { id: 15, dtype: 'Q8_K', elements: 256, bytes: 292 },
  { id: 16, dtype: 'IQ2_XXS', elements: 256, bytes: 66 },
  { id: 17, dtype: 'IQ2_XS', elements: 256, bytes: 74 },
  { id: 18, dtype: 'IQ3_XXS', elements: 256, bytes: 98 },
  { id: 19, dtype: 'IQ1_S', elements: 256, bytes: 50 },
  { id: 20, dtype: 'IQ4_NL', elements: 32, bytes: 18 },
  { id: 21, dtype: 'IQ3_S', elements: 256, bytes: 110 },
  { id: 22, dtype: 'IQ2_S', elements: 256, bytes: 82 },
  { id: 23, dtype: 'IQ4_XS', elements: 256, bytes: 136 },
  { id: 24, dtype: 'I8', elements: 1, bytes: 1 },
  { id: 25, dtype: 'I16', elements: 1, bytes: 2 },
  { id: 26, dtype: 'I32', elements: 1, bytes: 4 },
  { id: 27, dtype: 'I64', elements: 1, bytes: 8 },
  { id: 28, dtype: 'F64', elements: 1, bytes: 8 },
  { id: 29, dtype: 'IQ1_M', elements: 256, bytes: 56 },
  { id: 30, dtype: 'BF16', elements: 1, bytes: 2 },
  { id: 34, dtype: 'TQ1_0', elements: 256, bytes: 54 },
  { id: 35, dtype: 'TQ2_0', elements: 256, bytes: 66 },
  { id: 39, dtype: 'MXFP4', elements: 32, bytes: 17 },
];

const BY_ID = new Map(GGML_TYPES.map((t) => [t.id, t]));
const BY_DTYPE = new Map(GGML_TYPES.map((t) => [t.dtype, t]));

export function ggmlTypeById(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}
export function ggmlTypeByDType(d: DType): GgmlTypeInfo | undefined {
  return BY_DTYPE.get(d);
}
/** Block geometry of a block-quantized dtype, undefined for plain (per-element) dtypes. */
export function ggmlBlock(d: DType): { elements: number; bytes: number } | undefined {
  const t = BY_DTYPE.get(d);
  return t && t.elements > 1 ? { elements: t.elements, bytes: t.bytes } : undefined;
}
