/**
 * The student network: builds a TensorFlow.js (tfjs-layers) model from a `StudentSpec` for a given
 * teacher input (per-sample shape in the teacher's layout: [F] or [C,H,W]) and class count, with
 * seeded initializers; and reads the trained model back as a framework-neutral op list in the
 * teacher's layout (NCHW, OIHW kernels, batch norm folded, flatten order fixed) that the ONNX and
 * safetensors writers consume. tfjs runs convolutions channels-last, so image samples are transposed
 * NCHW → NHWC once before training (`toStudentLayout`). Does not train and does no file I/O.
 */
import type { Tf, TfLayers } from './tf.ts';
import type { LayerSpec, StudentSpec } from './spec.ts';
import { inputError } from '../errors.ts';

type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;

export const BN_EPSILON = 1e-3;
export const MAX_STUDENT_PARAMS = 50_000_000;

export interface StudentShape {
  /** per-sample input shape in the teacher's layout */
  teacherShape: number[];
  /** per-sample input shape the tfjs model takes (NHWC for images, flat for MLPs) */
  tfShape: number[];
  /** true when samples must be transposed CHW → HWC before feeding the tfjs model */
  transpose: boolean;
  classes: number;
}

/** Decide input layouts for a spec and a teacher input shape; errors if a CNN gets non-image input. */
export function studentShape(spec: StudentSpec, teacherShape: number[], classes: number, specText = 'spec'): StudentShape {
  const numel = teacherShape.reduce((a, b) => a * b, 1);
  const hasSpatial = spec.layers.some((l) => l.type !== 'dense');
  if (!hasSpatial) return { teacherShape, tfShape: [numel], transpose: false, classes };
  if (teacherShape.length !== 3) {
    throw inputError(
      'DISTILL_SPEC_INPUT',
      `student ${specText} has convolution/pooling layers, which need image input [C,H,W]; the teacher input is [${teacherShape.join(',')}] per sample`,
      { expected: '[C,H,W]', found: teacherShape },
      'use an mlp: spec for flat inputs',
    );
  }
  const [c, h, w] = teacherShape as [number, number, number];
  return { teacherShape, tfShape: [h, w, c], transpose: true, classes };
}

/** Copy samples into the tfjs layout (CHW → HWC for images). */
export function toStudentLayout(x: Float32Array, n: number, s: StudentShape): Float32Array {
  if (!s.transpose) return x;
  const [c, h, w] = s.teacherShape as [number, number, number];
  const per = c * h * w;
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    const base = i * per;
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        const src = base + (ch * h + y) * w;
        const dst = base + y * w * c + ch;
        for (let xx = 0; xx < w; xx++) out[dst + xx * c] = x[src + xx]!;
      }
    }
  }
  return out;
}

/** Build the tfjs model; initializer seeds derive from `seed` and the layer index. */
export function buildStudent(tfl: TfLayers, spec: StudentSpec, shape: StudentShape, seed: number): LayersModel {
  const model = tfl.sequential();
  let first = true;
  const input = () => (first ? ((first = false), { inputShape: shape.tfShape }) : {});
  let flat = shape.tfShape.length === 1;
  spec.layers.forEach((l, i) => {
    const s = (seed * 1009 + i * 7919 + 17) >>> 0;
    switch (l.type) {
      case 'conv':
        model.add(
          tfl.layers.conv2d({
            ...input(),
            name: `l${i}_conv`,
            filters: l.filters,
            kernelSize: l.kernel,
            strides: l.stride,
            padding: 'same',
            useBias: !l.bn,
            kernelInitializer: tfl.initializers.heNormal({ seed: s }),
          }),
        );
        if (l.bn) model.add(tfl.layers.batchNormalization({ name: `l${i}_bn`, axis: -1, epsilon: BN_EPSILON, momentum: 0.9 }));
        model.add(tfl.layers.reLU({ name: `l${i}_relu` }));
        break;
      case 'pool':
        model.add(tfl.layers.maxPooling2d({ ...input(), name: `l${i}_pool`, poolSize: l.size, strides: l.size, padding: 'valid' }));
        break;
      case 'gap':
        model.add(tfl.layers.globalAveragePooling2d({ ...input(), name: `l${i}_gap` }));
        flat = true;
        break;
      case 'dense':
        if (!flat) {
          model.add(tfl.layers.flatten({ ...input(), name: `l${i}_flatten` }));
          flat = true;
        }
        model.add(
          tfl.layers.dense({
            ...input(),
            name: `l${i}_dense`,
            units: l.units,
            useBias: !l.bn,
            kernelInitializer: tfl.initializers.heNormal({ seed: s }),
          }),
        );
        if (l.bn) model.add(tfl.layers.batchNormalization({ name: `l${i}_bn`, axis: -1, epsilon: BN_EPSILON, momentum: 0.9 }));
        model.add(tfl.layers.reLU({ name: `l${i}_relu` }));
        break;
    }
  });
  if (!flat) model.add(tfl.layers.flatten({ ...input(), name: 'head_flatten' }));
  model.add(
    tfl.layers.dense({
      ...input(),
      name: 'head_dense',
      units: shape.classes,
      kernelInitializer: tfl.initializers.glorotUniform({ seed: (seed * 1009 + 99991) >>> 0 }),
    }),
  );
  return model;
}

/** Trainable parameter count of the exported (BN-folded) network. */
export function exportedParamCount(ops: StudentOp[]): number {
  let n = 0;
  for (const o of ops) if (o.op === 'conv' || o.op === 'gemm') n += o.weight.length + o.bias.length;
  return n;
}

/** A framework-neutral op in the teacher's layout (what the ONNX/safetensors writers consume). */
export type StudentOp =
  | { op: 'conv'; name: string; weight: Float32Array; wshape: [number, number, number, number]; bias: Float32Array; stride: number; pads: [number, number, number, number] }
  | { op: 'relu' }
  | { op: 'maxpool'; size: number }
  | { op: 'gap' }
  | { op: 'flatten' }
  | { op: 'gemm'; name: string; weight: Float32Array; wshape: [number, number]; bias: Float32Array }
  | { op: 'softmax' };

/** 'same' padding as TensorFlow computes it: [top, left, bottom, right]. */
export function samePads(h: number, w: number, k: number, s: number): [number, number, number, number] {
  const ph = Math.max((Math.ceil(h / s) - 1) * s + k - h, 0);
  const pw = Math.max((Math.ceil(w / s) - 1) * s + k - w, 0);
  return [Math.floor(ph / 2), Math.floor(pw / 2), ph - Math.floor(ph / 2), pw - Math.floor(pw / 2)];
}

/**
 * Read a trained tfjs student as ops in the teacher's layout. `softmax` appends a Softmax (when the
 * teacher outputs probabilities, the student does too).
 */
export function studentOps(tf: Tf, model: LayersModel, spec: StudentSpec, shape: StudentShape, softmax: boolean): StudentOp[] {
  const w = (name: string): Float32Array[] => {
    const layer = model.getLayer(name);
    return layer.getWeights().map((t) => t.dataSync() as Float32Array);
  };
  const ops: StudentOp[] = [];
  // spatial state in NCHW terms
  let [c, h, wd] = shape.teacherShape.length === 3 ? (shape.teacherShape as [number, number, number]) : [0, 0, 0];
  let flat = shape.teacherShape.length !== 3 || !spec.layers.some((l) => l.type !== 'dense');
  if (flat && shape.teacherShape.length > 1) ops.push({ op: 'flatten' });
  let flatWidth = shape.teacherShape.reduce((a, b) => a * b, 1);
  let pendingFlattenPerm = false;

  const foldBn = (i: number, kernel: Float32Array, outC: number, bias: Float32Array | null, outerStride: number) => {
    const [gamma, beta, mean, variance] = w(`l${i}_bn`) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const b = new Float32Array(outC);
    const k = new Float32Array(kernel);
    for (let o = 0; o < outC; o++) {
      const scale = gamma[o]! / Math.sqrt(variance[o]! + BN_EPSILON);
      b[o] = ((bias ? bias[o]! : 0) - mean[o]!) * scale + beta[o]!;
      for (let j = o; j < k.length; j += outerStride) k[j] = k[j]! * scale;
    }
    return { k, b };
  };

  const dense = (i: number | 'head', l: LayerSpec | null) => {
    const name = i === 'head' ? 'head_dense' : `l${i}_dense`;
    const ws = w(name);
    let kernel = ws[0]!; // [in, out] row-major
    const units = kernel.length / flatWidth;
    let bias: Float32Array = ws[1] ?? new Float32Array(units);
    if (l && l.type === 'dense' && l.bn) ({ k: kernel, b: bias } = foldBn(i as number, kernel, units, null, units));
    if (pendingFlattenPerm) {
      // tfjs flattened H,W,C; ONNX Flatten of NCHW gives C,H,W: permute the kernel's rows
      const perm = new Float32Array(kernel.length);
      for (let ch = 0; ch < c; ch++)
        for (let y = 0; y < h; y++)
          for (let x = 0; x < wd; x++) {
            const src = ((y * wd + x) * c + ch) * units;
            const dst = ((ch * h + y) * wd + x) * units;
            perm.set(kernel.subarray(src, src + units), dst);
          }
      kernel = perm;
      pendingFlattenPerm = false;
    }
    ops.push({ op: 'gemm', name: i === 'head' ? 'head' : `l${i}`, weight: kernel, wshape: [flatWidth, units], bias });
    flatWidth = units;
  };

  spec.layers.forEach((l, i) => {
    switch (l.type) {
      case 'conv': {
        const ws = w(`l${i}_conv`);
        let kernel = ws[0]!; // HWIO
        let bias: Float32Array = l.bn ? new Float32Array(l.filters) : ws[1]!;
        if (l.bn) ({ k: kernel, b: bias } = foldBn(i, kernel, l.filters, null, l.filters));
        const k = l.kernel;
        const oihw = new Float32Array(kernel.length);
        for (let ky = 0; ky < k; ky++)
          for (let kx = 0; kx < k; kx++)
            for (let ci = 0; ci < c; ci++)
              for (let co = 0; co < l.filters; co++) oihw[((co * c + ci) * k + ky) * k + kx] = kernel[((ky * k + kx) * c + ci) * l.filters + co]!;
        ops.push({ op: 'conv', name: `l${i}`, weight: oihw, wshape: [l.filters, c, k, k], bias, stride: l.stride, pads: samePads(h, wd, k, l.stride) });
        ops.push({ op: 'relu' });
        c = l.filters;
        h = Math.ceil(h / l.stride);
        wd = Math.ceil(wd / l.stride);
        break;
      }
      case 'pool':
        ops.push({ op: 'maxpool', size: l.size });
        h = Math.floor(h / l.size);
        wd = Math.floor(wd / l.size);
        break;
      case 'gap':
        ops.push({ op: 'gap' }, { op: 'flatten' });
        flat = true;
        flatWidth = c;
        break;
      case 'dense':
        if (!flat) {
          ops.push({ op: 'flatten' });
          flat = true;
          flatWidth = c * h * wd;
          pendingFlattenPerm = true;
        }
        dense(i, l);
        ops.push({ op: 'relu' });
        break;
    }
  });
  if (!flat) {
    ops.push({ op: 'flatten' });
    flatWidth = c * h * wd;
    pendingFlattenPerm = true;
  }
  dense('head', null);
  if (softmax) ops.push({ op: 'softmax' });
  if (exportedParamCount(ops) > MAX_STUDENT_PARAMS) throw inputError('DISTILL_STUDENT_TOO_LARGE', `student has more than ${MAX_STUDENT_PARAMS} parameters`);
  return ops;
}

/** Check a spec's spatial sizes stay ≥ 1 for this input (so errors come before training). */
export function checkSpatial(spec: StudentSpec, shape: StudentShape, specText: string): void {
  if (!shape.transpose) return;
  let [, h, w] = shape.teacherShape as [number, number, number];
  for (const l of spec.layers) {
    if (l.type === 'conv') {
      h = Math.ceil(h / l.stride);
      w = Math.ceil(w / l.stride);
    } else if (l.type === 'pool') {
      h = Math.floor(h / l.size);
      w = Math.floor(w / l.size);
    }
    if (h < 1 || w < 1) {
      throw inputError('DISTILL_SPEC_TOO_DEEP', `student ${specText}: the ${l.type} layer shrinks the ${shape.teacherShape.slice(1).join('x')} input below 1x1`);
    }
  }
}
