/**
 * Options and report types shared by the per-format quantizers and the quantize/optimize commands.
 * Types only.
 */
export type Scheme = 'int8' | 'fp16' | 'bf16';
export type Granularity = 'per-channel' | 'per-tensor' | 'per-block';

/** values per scale along the reduction axis with --granularity per-block */
export const DEFAULT_BLOCK_SIZE = 64;

export interface QuantizeOptions {
  scheme: Scheme;
  granularity: Granularity;
  /** tensors whose name matches stay as they are */
  exclude?: RegExp;
  /** tensors with fewer elements stay as they are */
  minElements: number;
  /** per-block: values per scale along the reduction axis (default 64) */
  blockSize?: number;
  /** ONNX: constants to leave as they are, by key (`graph|name`), with the reason to report */
  skip?: Map<string, string>;
  /** ONNX int8: store these constants (by key) as FP16 instead (mixed precision), with the reason */
  half?: Map<string, string>;
  /**
   * ONNX int8 per-channel: turn off the default data-free sensitivity rules (FP16 for weights feeding
   * Log/Reciprocal/Div denominators; per-block for weights with a large per-channel error)
   */
  plain?: boolean;
  /** ONNX: quantize only these constants (by key) — used to measure one tensor's sensitivity */
  only?: Set<string>;
}

/** Key of an ONNX constant for skip/only: subgraph path and name. */
export function constantKey(graph: string | undefined, name: string): string {
  return `${graph ?? ''}|${name}`;
}

export const DEFAULT_MIN_ELEMENTS = 1024;

export interface TensorReport {
  name: string;
  /** subgraph path (ONNX If/Loop bodies) when not the main graph */
  graph?: string;
  shape: number[];
  dtype: string;
  action: 'kept' | 'int8' | 'fp16' | 'bf16' | 'q8_0' | 'uint8';
  /** data-movement ops between the weight and its consumer (derived weights, per-row scales) */
  via?: string[];
  /** why a tensor was kept */
  reason?: string;
  /** channel axis of per-channel scales (null = one scale) */
  axis?: number | null;
  /** per-block: block length along `blockAxis` (the reduction axis) */
  blockSize?: number;
  blockAxis?: number;
  scaleMin?: number;
  scaleMax?: number;
  maxAbsError?: number;
  bytesBefore: number;
  bytesAfter: number;
}

export interface QuantizeReport {
  format: string;
  scheme: Scheme;
  granularity: Granularity;
  /** how values are restored: DequantizeLinear, Cast+Mul, Cast, compressed-tensors, Q8_0, tfjs-uint8 */
  method: string;
  opset?: number;
  tensors: TensorReport[];
}
