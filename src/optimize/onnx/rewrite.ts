/**
 * Small, safe edits of a decoded ONNX graph used by quantize and prune: build nodes/attributes,
 * read a constant as float32, and replace a constant (initializer or Constant node) by a chain of
 * nodes that computes the same name from new stored tensors (e.g. int8 + scale → DequantizeLinear).
 * Operates on src/formats/onnx's plain model objects; no I/O, no decoding.
 */
import { inputError } from '../../errors.ts';
import { f16ToF32, bf16ToF32 } from '../../formats/numeric.ts';
import { isExternalTensor, makeOnnxTensor, onnxTensorData, type OnnxAttribute, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from '../../formats/onnx/model.ts';
import type { ConstantTensor } from './weights.ts';

export const ONNX_FLOAT = 1;
export const ONNX_INT8 = 3;
export const ONNX_INT64 = 7;
export const ONNX_FLOAT16 = 10;
export const ONNX_DOUBLE = 11;
export const ONNX_BFLOAT16 = 16;

const ATTR_INT = 2;
const ATTR_TENSOR = 4;

function emptyAttr(name: string): OnnxAttribute {
  return { name, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparse_tensors: [], type_protos: [] };
}
export function intAttr(name: string, v: number): OnnxAttribute {
  return { ...emptyAttr(name), type: ATTR_INT, i: v };
}
export function tensorAttr(name: string, t: OnnxTensor): OnnxAttribute {
  return { ...emptyAttr(name), type: ATTR_TENSOR, t };
}
export function makeNode(op: string, inputs: string[], outputs: string[], name: string, attrs: OnnxAttribute[] = []): OnnxNode {
  return { input: inputs, output: outputs, name, op_type: op, domain: '', attribute: attrs, metadata_props: [] };
}

export function isFloatDataType(dt: number | undefined): boolean {
  return dt === ONNX_FLOAT || dt === ONNX_FLOAT16 || dt === ONNX_DOUBLE || dt === ONNX_BFLOAT16;
}

/** The constant's values as float32 (F32, F16, BF16, F64 sources). */
export function readConstantF32(t: OnnxTensor): Float32Array {
  if (isExternalTensor(t)) throw inputError('ONNX_EXTERNAL_UNSUPPORTED', `ONNX tensor ${t.name ?? ''}: external data is not supported by quantize/prune yet`);
  const d = onnxTensorData(t);
  const b = d.bytes;
  switch (d.dataType) {
    case ONNX_FLOAT: {
      const out = new Float32Array(b.length / 4);
      new Uint8Array(out.buffer).set(b);
      return out;
    }
    case ONNX_FLOAT16:
    case ONNX_BFLOAT16: {
      const u = new Uint16Array(b.length / 2);
      new Uint8Array(u.buffer).set(b);
      return d.dataType === ONNX_FLOAT16 ? f16ToF32(u) : bf16ToF32(u);
    }
    case ONNX_DOUBLE: {
      const f = new Float64Array(b.length / 8);
      new Uint8Array(f.buffer).set(b);
      return Float32Array.from(f);
    }
    default:
      throw inputError('ONNX_TENSOR_NOT_FLOAT', `ONNX tensor ${t.name ?? ''}: data type ${d.dataType} is not a float type`);
  }
}

export function bytesView(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Overwrite a tensor's values in place (stored as raw_data, typed fields cleared), keeping name and dtype. */
export function setTensorBytes(t: OnnxTensor, bytes: Uint8Array): void {
  const fresh = makeOnnxTensor(t.name ?? '', t.data_type ?? ONNX_FLOAT, t.dims.map(Number), bytes);
  t.raw_data = fresh.raw_data!;
  t.float_data = [];
  t.double_data = [];
  t.int32_data = [];
  t.int64_data = [];
  t.uint64_data = [];
}

/** Encode float32 values in the tensor's own float dtype (F32/F16/BF16/F64). */
export function encodeLike(dataType: number, values: Float32Array, castHalf: (v: Float32Array) => Uint16Array, castBf: (v: Float32Array) => Uint16Array): Uint8Array {
  switch (dataType) {
    case ONNX_FLOAT: return bytesView(values).slice();
    case ONNX_FLOAT16: return bytesView(castHalf(values));
    case ONNX_BFLOAT16: return bytesView(castBf(values));
    case ONNX_DOUBLE: return bytesView(Float64Array.from(values));
    default: throw inputError('ONNX_TENSOR_NOT_FLOAT', `data type ${dataType} is not a float type`);
  }
}

function tensorValueInfo(t: OnnxTensor): OnnxValueInfo {
  return {
    name: t.name!,
    type: { tensor_type: { elem_type: t.data_type, shape: { dim: t.dims.map((d) => ({ dim_value: d })) } } },
    metadata_props: [],
  };
}

/**
 * Replace constant `c` by `tensors` (new stored constants) and `nodes` (which must end by producing
 * `c.name`). A Constant node is replaced in place by Constant nodes for `tensors` followed by
 * `nodes`; an initializer is removed and `tensors` become initializers (also listed as graph inputs
 * when the model's IR version requires it), with `nodes` put first in the graph.
 */
export function replaceConstant(model: OnnxModel, c: ConstantTensor, tensors: OnnxTensor[], nodes: OnnxNode[], alloc: (b: string) => string): void {
  const g: OnnxGraph = c.graph;
  if (c.constantNode) {
    const idx = g.node.indexOf(c.constantNode);
    if (idx < 0) throw new Error(`internal: Constant node for ${c.name} not found`);
    const consts = tensors.map((t) => makeNode('Constant', [], [t.name!], alloc(`${t.name}_const`), [tensorAttr('value', t)]));
    g.node.splice(idx, 1, ...consts, ...nodes);
    return;
  }
  const i = g.initializer.indexOf(c.tensor);
  if (i < 0) throw new Error(`internal: initializer ${c.name} not found`);
  g.initializer.splice(i, 1, ...tensors);
  const irOld = model.ir_version !== undefined && Number(model.ir_version) < 4;
  const inIdx = g.input.findIndex((v) => v.name === c.name);
  if (inIdx >= 0) g.input.splice(inIdx, 1);
  if (irOld || inIdx >= 0) g.input.push(...tensors.map(tensorValueInfo));
  g.node.unshift(...nodes);
}

const DTYPE_NAME: Record<number, string> = { 1: 'F32', 2: 'U8', 3: 'I8', 4: 'U16', 5: 'I16', 6: 'I32', 7: 'I64', 9: 'BOOL', 10: 'F16', 11: 'F64', 12: 'U32', 13: 'U64', 16: 'BF16' };

/** "F32", "I64"… for an ONNX data type number. */
export function onnxDTypeName(dt: number | undefined): string {
  return DTYPE_NAME[dt ?? 0] ?? `onnx type ${dt}`;
}
