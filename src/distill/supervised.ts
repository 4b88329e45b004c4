/**
 * Plain supervised training of a spec'd network on a labelled dataset (no teacher), kept in memory
 * so it can be trained further, fine-tuned (last layer only, shifted data) and exported after each
 * stage. Used by scripts/train-teacher.ts and scripts/model-family.ts. No file I/O: callers write
 * the ONNX/safetensors bytes it returns.
 */
import { inputError } from '../errors.ts';
import type { Dataset } from './data.ts';
import { applyNorm, encodeStudentOnnx, normalization, studentTensors, type Normalization } from './export.ts';
import type { StudentSpec } from './spec.ts';
import { buildStudent, exportedParamCount, studentOps, studentShape, toStudentLayout, type StudentShape } from './student.ts';
import { loadTf, type Tf } from './tf.ts';
import { agreement, predictLogits, train, type TrainOptions, type TrainResult } from './train.ts';

type LayersModel = import('@tensorflow/tfjs-layers').LayersModel;

export interface Classifier {
  tf: Tf;
  model: LayersModel;
  spec: StudentSpec;
  shape: StudentShape;
  norm: Normalization;
  classes: number;
}

export async function createClassifier(spec: StudentSpec, sampleShape: number[], classes: number, normFrom: { x: Float32Array; rows: ArrayLike<number> }, seed: number): Promise<Classifier> {
  const { tf, tfl } = await loadTf();
  const shape = studentShape(spec, sampleShape, classes);
  const norm = normalization(normFrom.x, normFrom.rows, sampleShape.reduce((a, b) => a * b, 1));
  return { tf, model: buildStudent(tfl, spec, shape, seed), spec, shape, norm, classes };
}

/** Samples of `d` in the classifier's input layout (normalised, NHWC for images). */
export function classifierInput(c: Classifier, d: Dataset): Float32Array {
  return toStudentLayout(applyNorm(d.x, c.norm), d.n, c.shape);
}

export type FitOptions = Omit<TrainOptions, 'x' | 'sampleShape' | 'classes' | 'labels' | 'teacherLogits' | 'temperature' | 'alpha'>;

/** Train on labels (cross-entropy) from the classifier's current weights. */
export async function fit(c: Classifier, d: Dataset, o: FitOptions): Promise<TrainResult> {
  if (!d.labels) throw inputError('DISTILL_NO_LABELS', `${d.source}: supervised training needs labels`);
  return train(c.tf, c.model, { ...o, x: classifierInput(c, d), sampleShape: c.shape.tfShape, classes: c.classes, labels: d.labels, temperature: 1, alpha: 0 });
}

/** Accuracy against the labels of rows `idx` of `d`. */
export function accuracy(c: Classifier, d: Dataset, idx: ArrayLike<number>): number {
  const logits = predictLogits(c.tf, c.model, classifierInput(c, d), c.shape.tfShape, idx);
  return agreement(logits, c.classes, Array.from({ length: idx.length }, (_, i) => i), { labels: Int32Array.from(Array.from(idx), (i) => d.labels![i]!) });
}

/** Export as ONNX (logits output) and as named F32 tensors; `params` counts the exported network. */
export function exportClassifier(c: Classifier, doc: string): { onnx: Uint8Array; tensors: ReturnType<typeof studentTensors>; params: number } {
  const ops = studentOps(c.tf, c.model, c.spec, c.shape, false);
  return { onnx: encodeStudentOnnx(ops, { inputShape: c.shape.teacherShape, norm: c.norm, docString: doc }), tensors: studentTensors(ops), params: exportedParamCount(ops) };
}

/** Names of the layers a "last layer only" fine-tune trains. */
export const HEAD_LAYERS = ['head_dense'];
