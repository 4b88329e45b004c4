/**
 * The one tensor view shared by every model format (safetensors, ONNX, GGUF, TensorFlow.js).
 * A model file is a sequence of byte ranges: tensor data (`TensorInfo.offset/length`, absolute in
 * the file) and everything else ("container bytes": headers, graphs, JSON). Parsers here are pure:
 * they take bytes or a `RandomAccessSource` and return views; they never write files.
 */

export type ModelFormat = 'safetensors' | 'onnx' | 'gguf' | 'tfjs' | 'unknown';

/** Canonical dtype names (safetensors spelling, extended for GGUF block types). */
export type DType =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8'
  | 'BOOL' | 'F8_E4M3' | 'F8_E5M2'
  | 'C64' | 'C128' | 'STRING'
  // GGUF block-quantized types (elements are grouped in blocks; see ggmlBlock)
  | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0' | 'Q8_1'
  | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'Q8_K'
  | 'IQ2_XXS' | 'IQ2_XS' | 'IQ3_XXS' | 'IQ1_S' | 'IQ4_NL' | 'IQ3_S' | 'IQ2_S' | 'IQ4_XS' | 'IQ1_M'
  | 'TQ1_0' | 'TQ2_0' | 'MXFP4';

/** Bytes per element for plain dtypes; undefined for block-quantized and variable-size ones. */
export const DTYPE_BYTES: Partial<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
  C64: 8, C128: 16,
};

export function isFloatDType(d: DType): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16' || d === 'F8_E4M3' || d === 'F8_E5M2';
}

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** absolute byte offset of the tensor's data in the file it lives in */
  offset: number;
  /** byte length of the tensor's data */
  length: number;
  /** the file holding the data when it is not the parsed file itself (ONNX external data, tfjs shards) */
  file?: string;
  /** format-specific extras (e.g. ONNX "constant node", tfjs quantization descriptor) */
  extra?: Record<string, unknown>;
}

export interface ModelLayout {
  format: ModelFormat;
  /** size in bytes of the parsed file */
  size: number;
  tensors: TensorInfo[];
  /** format-level facts for `inspect`: opset, producer, metadata keys, architecture… */
  meta: Record<string, unknown>;
}

/** Random access to a file's bytes without loading it whole. */
export interface RandomAccessSource {
  readonly size: number;
  /** read exactly `length` bytes at `offset` (throws if the range is past the end) */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Number of elements of a shape (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
