/**
 * Writes a trained student (the neutral op list from student.ts) as an ONNX model — Conv, Relu,
 * MaxPool, GlobalAveragePool, Flatten, Gemm, Softmax (opset 13), batch norm already folded — or as
 * safetensors tensors. Input normalisation learned from the transfer set is folded into the first
 * Gemm when the network starts with one, otherwise emitted as Sub/Mul. The ONNX protobuf schema and
 * encoder are src/formats/onnx's (never a copy here). Pure: returns bytes, does no file I/O except
 * `onnxParamCount`, which reads a model to count its parameters.
 */
import { readFile } from 'node:fs/promises';
import { fromSystemError } from '../errors.ts';
import { decodeOnnxModel, encodeOnnxModel, forEachOnnxTensor, makeOnnxTensor, numel, type DType, type OnnxAttribute, type OnnxModel, type OnnxNode } from '../formats/index.ts';
import type { StudentOp } from './student.ts';

export interface Normalization {
  /** student input = (x − mean) · scale */
  mean: number;
  scale: number;
}

export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 7;
const FLOAT = 1;

/** Scalar mean and 1/std over the training rows (identity when the data is constant). */
export function normalization(x: Float32Array, rows: ArrayLike<number>, per: number): Normalization {
  let s = 0;
  let s2 = 0;
  let n = 0;
  for (let i = 0; i < rows.length; i++) {
    const base = rows[i]! * per;
    for (let j = 0; j < per; j++) {
      const v = x[base + j]!;
      s += v;
      s2 += v * v;
    }
    n += per;
  }
  if (n === 0) return { mean: 0, scale: 1 };
  const mean = s / n;
  const std = Math.sqrt(Math.max(s2 / n - mean * mean, 0));
  return std > 1e-6 ? { mean: Math.fround(mean), scale: Math.fround(1 / std) } : { mean: 0, scale: 1 };
}

/** Apply a normalisation (returns `x` itself for the identity). */
export function applyNorm(x: Float32Array, n: Normalization): Float32Array {
  if (n.mean === 0 && n.scale === 1) return x;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = (x[i]! - n.mean) * n.scale;
  return out;
}

function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function attr(name: string, v: { ints?: number[]; i?: number; f?: number }): OnnxAttribute {
  const base = { name, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparse_tensors: [], type_protos: [] };
  if (v.ints) return { ...base, type: 7, ints: v.ints };
  if (v.f !== undefined) return { ...base, type: 1, f: v.f };
  return { ...base, type: 2, i: v.i! };
}

function node(op: string, inputs: string[], outputs: string[], name: string, attrs: OnnxAttribute[] = []): OnnxNode {
  return { op_type: op, input: inputs, output: outputs, name, attribute: attrs, metadata_props: [] };
}

function valueInfo(name: string, dims: (number | string)[]): OnnxModel['functions'][number]['value_info'][number] {
  return {
    name,
    type: { tensor_type: { elem_type: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
    metadata_props: [],
  };
}

/** Fold the input normalisation into a leading Gemm (W' = W·scale, b' = b − mean·scale·Σ_rows W). */
function foldNormIntoGemm(op: Extract<StudentOp, { op: 'gemm' }>, n: Normalization): Extract<StudentOp, { op: 'gemm' }> {
  const [inDim, out] = op.wshape;
  const weight = new Float32Array(op.weight.length);
  const bias = new Float32Array(op.bias);
  const colSum = new Float64Array(out);
  for (let r = 0; r < inDim; r++)
    for (let c = 0; c < out; c++) {
      const w = op.weight[r * out + c]!;
      weight[r * out + c] = w * n.scale;
      colSum[c] = colSum[c]! + w;
    }
  for (let c = 0; c < out; c++) bias[c] = bias[c]! - n.mean * n.scale * colSum[c]!;
  return { ...op, weight, bias };
}

export function encodeStudentOnnx(ops: StudentOp[], o: { inputShape: number[]; norm: Normalization; docString?: string }): Uint8Array {
  return encodeOnnxModel(studentOnnxModel(ops, o));
}

export function studentOnnxModel(ops: StudentOp[], o: { inputShape: number[]; norm: Normalization; docString?: string }): OnnxModel {
  const nodes: OnnxNode[] = [];
  const inits = [] as ReturnType<typeof makeOnnxTensor>[];
  let cur = 'input';
  let k = 0;
  const next = (tag: string) => `${tag}_${k++}`;
  const list = [...ops];
  const identity = o.norm.mean === 0 && o.norm.scale === 1;
  if (!identity) {
    const firstParam = list.findIndex((x) => x.op !== 'flatten');
    const first = list[firstParam];
    if (first && first.op === 'gemm') list[firstParam] = foldNormIntoGemm(first, o.norm);
    else {
      inits.push(makeOnnxTensor('norm_mean', 'F32', [], f32Bytes(Float32Array.of(o.norm.mean))));
      inits.push(makeOnnxTensor('norm_scale', 'F32', [], f32Bytes(Float32Array.of(o.norm.scale))));
      const a = next('centered');
      nodes.push(node('Sub', [cur, 'norm_mean'], [a], 'normalize_sub'));
      const b = next('normalized');
      nodes.push(node('Mul', [a, 'norm_scale'], [b], 'normalize_mul'));
      cur = b;
    }
  }
  let classes = 0;
  for (const op of list) {
    const out = next(op.op);
    switch (op.op) {
      case 'conv':
        inits.push(makeOnnxTensor(`${op.name}.weight`, 'F32', op.wshape, f32Bytes(op.weight)));
        inits.push(makeOnnxTensor(`${op.name}.bias`, 'F32', [op.wshape[0]], f32Bytes(op.bias)));
        nodes.push(
          node('Conv', [cur, `${op.name}.weight`, `${op.name}.bias`], [out], `${op.name}_conv`, [
            attr('kernel_shape', { ints: [op.wshape[2], op.wshape[3]] }),
            attr('strides', { ints: [op.stride, op.stride] }),
            attr('pads', { ints: [op.pads[0], op.pads[1], op.pads[2], op.pads[3]] }),
          ]),
        );
        break;
      case 'relu':
        nodes.push(node('Relu', [cur], [out], out));
        break;
      case 'maxpool':
        nodes.push(node('MaxPool', [cur], [out], out, [attr('kernel_shape', { ints: [op.size, op.size] }), attr('strides', { ints: [op.size, op.size] })]));
        break;
      case 'gap':
        nodes.push(node('GlobalAveragePool', [cur], [out], out));
        break;
      case 'flatten':
        nodes.push(node('Flatten', [cur], [out], out, [attr('axis', { i: 1 })]));
        break;
      case 'gemm':
        inits.push(makeOnnxTensor(`${op.name}.weight`, 'F32', op.wshape, f32Bytes(op.weight)));
        inits.push(makeOnnxTensor(`${op.name}.bias`, 'F32', [op.wshape[1]], f32Bytes(op.bias)));
        nodes.push(node('Gemm', [cur, `${op.name}.weight`, `${op.name}.bias`], [out], `${op.name}_gemm`));
        classes = op.wshape[1];
        break;
      case 'softmax':
        nodes.push(node('Softmax', [cur], [out], out, [attr('axis', { i: 1 })]));
        break;
    }
    cur = out;
  }
  // name the final value "output"
  const last = nodes[nodes.length - 1]!;
  last.output = ['output'];
  return {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'modelcdn-distill',
    producer_version: '0.1.0',
    ...(o.docString ? { doc_string: o.docString } : {}),
    graph: {
      name: 'student',
      node: nodes,
      initializer: inits,
      sparse_initializer: [],
      input: [valueInfo('input', ['N', ...o.inputShape])],
      output: [valueInfo('output', ['N', classes])],
      value_info: [],
      quantization_annotation: [],
      metadata_props: [],
    },
    metadata_props: [],
    training_info: [],
    functions: [],
  };
}

/** The student's parameters as named F32 tensors (`<layer>.weight` / `<layer>.bias`), for safetensors. */
export function studentTensors(ops: StudentOp[]): { name: string; dtype: DType; shape: number[]; data: Uint8Array }[] {
  const out: { name: string; dtype: DType; shape: number[]; data: Uint8Array }[] = [];
  for (const op of ops) {
    if (op.op !== 'conv' && op.op !== 'gemm') continue;
    out.push({ name: `${op.name}.weight`, dtype: 'F32', shape: [...op.wshape], data: f32Bytes(op.weight) });
    out.push({ name: `${op.name}.bias`, dtype: 'F32', shape: [op.bias.length], data: f32Bytes(op.bias) });
  }
  return out;
}

/** Parameters of an ONNX model: elements of all initializers and Constant tensors. */
export async function onnxParamCount(path: string): Promise<number> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw fromSystemError(e, path);
  }
  let n = 0;
  forEachOnnxTensor(decodeOnnxModel(bytes, path), (t) => {
    n += numel(t.dims.map(Number));
  });
  return n;
}
