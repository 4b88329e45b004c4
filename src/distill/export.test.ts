/**
 * Export parity: the ONNX file written for a student must compute what the tfjs student computes
 * (max abs diff ≤ 1e-4 in onnxruntime-node), for MLPs and CNNs with strides, batch norm (folded),
 * pooling, global average pooling, flatten-order permutation, input normalisation and Softmax.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { decodeOnnxModel } from '../formats/index.ts';
import { applyNorm, encodeStudentOnnx, studentTensors } from './export.ts';
import { mulberry32 } from './rng.ts';
import { parseStudentSpec } from './spec.ts';
import { buildStudent, exportedParamCount, studentOps, studentShape, toStudentLayout } from './student.ts';
import { loadTf } from './tf.ts';
import { predictLogits } from './train.ts';

const CASES: { spec: string; input: number[]; classes: number; softmax: boolean }[] = [
  { spec: 'mlp:16,8', input: [64], classes: 10, softmax: false },
  { spec: 'mlp:12bn', input: [2, 5, 6], classes: 3, softmax: true },
  { spec: 'mlp:', input: [7], classes: 2, softmax: false },
  { spec: 'cnn:4c3-p2-6c3s2bn-fc10', input: [3, 12, 17], classes: 4, softmax: false },
  { spec: 'cnn:5c3s2bn-6c5bn-gap', input: [3, 16, 40], classes: 2, softmax: true },
  { spec: 'cnn:3c1-4c2s2', input: [1, 8, 8], classes: 10, softmax: false },
];

test('ONNX export matches the tfjs student in onnxruntime (≤ 1e-4)', async () => {
  const { tf, tfl } = await loadTf();
  for (const [ci, c] of CASES.entries()) {
    const spec = parseStudentSpec(c.spec);
    const shape = studentShape(spec, c.input, c.classes);
    const model = buildStudent(tfl, spec, shape, 11 + ci);
    // random, non-trivial weights everywhere (BN statistics included) so folding is exercised
    const rand = mulberry32(100 + ci);
    const names = model.weights.map((w) => w.originalName);
    model.setWeights(
      model.getWeights().map((w, i) => {
        const isVar = /moving_variance|gamma/.test(names[i]!);
        return tf.tensor(Float32Array.from({ length: w.size }, () => (isVar ? 0.5 + rand() : (rand() - 0.5) * 0.8)), w.shape);
      }),
    );
    const n = 9;
    const per = c.input.reduce((a, b) => a * b, 1);
    const raw = Float32Array.from({ length: n * per }, () => rand() * 16);
    const norm = { mean: 7.5, scale: 0.2 };
    const xs = toStudentLayout(applyNorm(raw, norm), n, shape);
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    const logits = predictLogits(tf, model, xs, shape.tfShape, idx);
    const ops = studentOps(tf, model, spec, shape, c.softmax);
    const bytes = encodeStudentOnnx(ops, { inputShape: c.input, norm });
    const m = decodeOnnxModel(bytes);
    const used = new Set(m.graph!.node.map((nd) => nd.op_type));
    for (const op of used) assert.ok(['Conv', 'Relu', 'MaxPool', 'GlobalAveragePool', 'Flatten', 'Gemm', 'Softmax', 'Sub', 'Mul'].includes(op!), `${c.spec}: unexpected op ${op}`);
    assert.ok(!used.has('BatchNormalization'));
    const s = await ort.InferenceSession.create(bytes);
    const out = await s.run({ input: new ort.Tensor('float32', raw, [n, ...c.input]) });
    const y = out['output']!.data as Float32Array;
    assert.deepEqual(out['output']!.dims, [n, c.classes]);
    let max = 0;
    for (let i = 0; i < n; i++) {
      const row = Array.from(logits.subarray(i * c.classes, (i + 1) * c.classes));
      let want = row;
      if (c.softmax) {
        const mx = Math.max(...row);
        const e = row.map((v) => Math.exp(v - mx));
        const sum = e.reduce((a, b) => a + b, 0);
        want = e.map((v) => v / sum);
      }
      for (let j = 0; j < c.classes; j++) max = Math.max(max, Math.abs(y[i * c.classes + j]! - want[j]!));
    }
    assert.ok(max <= 1e-4, `${c.spec}: max abs diff ${max}`);
    // parameter count of the exported (folded) network equals the sum over its tensors
    const tensors = studentTensors(ops);
    assert.equal(exportedParamCount(ops), tensors.reduce((a, t) => a + t.data.length / 4, 0));
    await s.release();
    model.dispose();
  }
});
