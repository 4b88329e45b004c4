/**
 * Tiny ONNX models built in memory for tests of quantize/prune (any opset): MatMul, Gemm with
 * transB, Conv with bias, optionally a weight held in a Constant node. Uses src/formats' ONNX
 * encoder; test support only, never used by commands.
 */
import { encodeOnnxModel, makeOnnxTensor, type OnnxModel, type OnnxTensor, type OnnxValueInfo } from '../formats/onnx/model.ts';
import { intAttr, makeNode, tensorAttr } from './onnx/rewrite.ts';

function vi(name: string, dims: number[]): OnnxValueInfo {
  return { name, type: { tensor_type: { elem_type: 1, shape: { dim: dims.map((d) => ({ dim_value: d })) } } }, metadata_props: [] };
}

function f32(name: string, shape: number[], seed: number, scale = 0.5): OnnxTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    // channel-dependent magnitudes make per-channel scales matter
    v[i] = ((s / 2 ** 32) * 2 - 1) * scale * (1 + (i % 7));
  }
  return makeOnnxTensor(name, 'F32', shape, new Uint8Array(v.buffer));
}

/**
 * x[1,16] → MatMul W1[16,64] (initializer) → Gemm W2[32,64] transB=1 + bias (Constant node for W2)
 * → y[1,32]; and a Conv branch: img[1,3,8,8] → Conv K[16,3,3,3] + bias → z[1,16,6,6].
 */
export function tinyOnnxModel(opset: number, irVersion = 7): OnnxModel {
  const w2 = f32('W2', [32, 64], 2);
  const model: OnnxModel = {
    ir_version: irVersion,
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'modelcdn-test',
    metadata_props: [],
    training_info: [],
    functions: [],
    graph: {
      name: 'tiny',
      node: [
        makeNode('MatMul', ['x', 'W1'], ['h'], 'mm'),
        makeNode('Constant', [], ['W2'], 'w2const', [tensorAttr('value', w2)]),
        makeNode('Gemm', ['h', 'W2', 'B2'], ['y'], 'gemm', [intAttr('transB', 1)]),
        makeNode('Conv', ['img', 'K', 'KB'], ['z'], 'conv'),
      ],
      initializer: [f32('W1', [16, 64], 1), f32('B2', [32], 3), f32('K', [16, 3, 3, 3], 4), f32('KB', [16], 5)],
      sparse_initializer: [],
      input: [vi('x', [1, 16]), vi('img', [1, 3, 8, 8])],
      output: [vi('y', [1, 32]), vi('z', [1, 16, 6, 6])],
      value_info: [],
      quantization_annotation: [],
      metadata_props: [],
    },
  };
  // before IR 4 initializers are listed as graph inputs too
  if (irVersion < 4) model.graph!.input.push(...model.graph!.initializer.map((t) => vi(t.name!, t.dims.map(Number))));
  return model;
}

export function tinyOnnxBytes(opset: number, irVersion = 7): Uint8Array {
  return encodeOnnxModel(tinyOnnxModel(opset, irVersion));
}
