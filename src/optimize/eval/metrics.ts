/**
 * Agreement metrics between two runs of "the same" model output (e.g. FP32 vs INT8): cosine
 * similarity, max/mean absolute error, argmax agreement along the last axis, and decision agreement
 * at a threshold for single-score outputs (last dim 1). Pure functions over numeric arrays; no
 * runtime, no I/O.
 */
import { inputError } from '../../errors.ts';

export interface NumericTensor {
  dims: readonly number[];
  data: ArrayLike<number>;
}

export interface OutputMetrics {
  name: string;
  shape: number[];
  elements: number;
  cosine: number;
  maxAbsError: number;
  meanAbsError: number;
  /** fraction of rows (all axes but the last) whose argmax along the last axis agrees; null when last dim is 1 */
  argmaxAgreement: number | null;
  /** rows compared for argmax */
  rows: number;
  /** for outputs whose last dim is 1: fraction of elements on the same side of `threshold` */
  thresholdAgreement: number | null;
  threshold: number | null;
  /** elements that are NaN in one output but not the other */
  nanMismatches: number;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Cosine similarity of two vectors (1 when both are all zero; 0 when exactly one is). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) continue;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 && nb === 0) return 1;
  if (na === 0 || nb === 0) return 0;
  return Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
}

/** Index of the largest value in data[start, start+len) (first one on ties; NaN never wins). */
export function argmax(data: ArrayLike<number>, start: number, len: number): number {
  let best = 0;
  let bv = -Infinity;
  for (let j = 0; j < len; j++) {
    const v = data[start + j]!;
    if (v > bv) {
      bv = v;
      best = j;
    }
  }
  return best;
}

export function compareOutputs(name: string, a: NumericTensor, b: NumericTensor, threshold = 0.5): OutputMetrics {
  if (!sameShape(a.dims, b.dims)) {
    throw inputError('EVAL_SHAPE_MISMATCH', `output ${name}: shapes differ (${a.dims.join('x')} vs ${b.dims.join('x')})`, {
      name,
      a: a.dims,
      b: b.dims,
    }, 'the two models must produce the same output shapes for the same inputs');
  }
  const n = a.data.length;
  let maxAbs = 0;
  let sumAbs = 0;
  let counted = 0;
  let nanMismatches = 0;
  for (let i = 0; i < n; i++) {
    const x = a.data[i]!;
    const y = b.data[i]!;
    const xn = Number.isNaN(x);
    const yn = Number.isNaN(y);
    if (xn || yn) {
      if (xn !== yn) nanMismatches++;
      continue;
    }
    const d = Math.abs(x - y);
    if (d > maxAbs) maxAbs = d;
    sumAbs += d;
    counted++;
  }
  const last = a.dims.length > 0 ? a.dims[a.dims.length - 1]! : 1;
  const rows = last > 0 ? Math.floor(n / last) : 0;
  let argmaxAgreement: number | null = null;
  let thresholdAgreement: number | null = null;
  if (last > 1 && rows > 0) {
    let agree = 0;
    for (let r = 0; r < rows; r++) if (argmax(a.data, r * last, last) === argmax(b.data, r * last, last)) agree++;
    argmaxAgreement = agree / rows;
  } else if (n > 0) {
    let agree = 0;
    for (let i = 0; i < n; i++) if (a.data[i]! > threshold === b.data[i]! > threshold) agree++;
    thresholdAgreement = agree / n;
  }
  return {
    name,
    shape: [...a.dims],
    elements: n,
    cosine: cosine(a.data, b.data),
    maxAbsError: maxAbs,
    meanAbsError: counted ? sumAbs / counted : 0,
    argmaxAgreement,
    rows,
    thresholdAgreement,
    threshold: thresholdAgreement === null ? null : threshold,
    nanMismatches,
  };
}
