/**
 * ONNX TensorProto.DataType numbers <-> modelcdn DType names. Pure tables; types without a DType
 * (FNUZ float8, 4-bit) map to undefined and are reported as raw bytes by callers.
 */
import type { DType } from '../types.ts';

export const ONNX_DATA_TYPE = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
  FLOAT8E4M3FN: 17, FLOAT8E4M3FNUZ: 18, FLOAT8E5M2: 19, FLOAT8E5M2FNUZ: 20, UINT4: 21, INT4: 22, FLOAT4E2M1: 23,
} as const;

const TO_DTYPE: Record<number, DType> = {
  1: 'F32', 2: 'U8', 3: 'I8', 4: 'U16', 5: 'I16', 6: 'I32', 7: 'I64', 8: 'STRING', 9: 'BOOL', 10: 'F16',
  11: 'F64', 12: 'U32', 13: 'U64', 14: 'C64', 15: 'C128', 16: 'BF16', 17: 'F8_E4M3', 19: 'F8_E5M2',
  // no exact DType: same width, bytes kept as is
  18: 'U8', 20: 'U8',
};

const FROM_DTYPE: Partial<Record<DType, number>> = {
  F32: 1, U8: 2, I8: 3, U16: 4, I16: 5, I32: 6, I64: 7, STRING: 8, BOOL: 9, F16: 10, F64: 11, U32: 12, U64: 13,
  C64: 14, C128: 15, BF16: 16, F8_E4M3: 17, F8_E5M2: 19,
};

/** 4-bit ONNX types: two elements per byte. */
export function isOnnx4Bit(dataType: number): boolean {
  return dataType === 21 || dataType === 22 || dataType === 23;
}

export function onnxDataTypeToDType(dataType: number): DType | undefined {
  if (isOnnx4Bit(dataType)) return 'U8';
  return TO_DTYPE[dataType];
}

export function dtypeToOnnxDataType(d: DType): number | undefined {
  return FROM_DTYPE[d];
}

/** Bytes of raw_data a tensor of this data type and element count must have (undefined for STRING/unknown). */
export function onnxRawByteLength(dataType: number, n: number): number | undefined {
  if (isOnnx4Bit(dataType)) return Math.ceil(n / 2);
  const w: Record<number, number> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2, 17: 1, 18: 1, 19: 1, 20: 1 };
  const x = w[dataType];
  return x === undefined ? undefined : x * n;
}
