/**
 * The teacher: an ONNX classifier run in onnxruntime-node (CPU) to produce soft targets. Checks that
 * it takes one float tensor and outputs class scores [N, C]; detects whether those scores are
 * probabilities (rows ≥ 0 summing to 1, e.g. a trailing Softmax) and turns them into logits
 * (log p) so temperature scaling works either way. Does not train or write anything.
 */
import { readFile, stat } from 'node:fs/promises';
import { fromSystemError, inputError } from '../errors.ts';
import type { TeacherDims } from './data.ts';

type Ort = typeof import('onnxruntime-node');

export interface Teacher {
  path: string;
  inputName: string;
  outputName: string;
  /** input dims without the batch dim (null = dynamic) */
  inputDims: TeacherDims;
  fileSize: number;
  session: import('onnxruntime-node').InferenceSession;
  ort: Ort;
}

export interface TeacherScores {
  /** n × classes logits (log-probabilities when the teacher outputs probabilities) */
  logits: Float32Array;
  classes: number;
  /** true when the teacher's raw output rows were probability distributions */
  probabilities: boolean;
}

export const TEACHER_BATCH = 64;
export const MAX_CLASSES = 100_000;

export async function loadTeacher(path: string): Promise<Teacher> {
  let bytes: Uint8Array;
  let fileSize: number;
  try {
    fileSize = (await stat(path)).size;
    bytes = await readFile(path);
  } catch (e) {
    throw fromSystemError(e, path);
  }
  const ort = await import('onnxruntime-node');
  let session: import('onnxruntime-node').InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  } catch (e) {
    throw inputError('DISTILL_TEACHER_INVALID', `${path}: onnxruntime cannot load the teacher (${firstLine(e)})`, {}, 'give an ONNX classifier');
  }
  if (session.inputNames.length !== 1) {
    throw inputError('DISTILL_TEACHER_INPUTS', `${path}: teacher has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}), expected exactly 1`);
  }
  const inMeta = session.inputMetadata[0] as { isTensor: boolean; type?: string; shape?: (number | string)[] };
  if (!inMeta.isTensor || inMeta.type !== 'float32' || !inMeta.shape || inMeta.shape.length < 2) {
    throw inputError(
      'DISTILL_TEACHER_INPUTS',
      `${path}: teacher input "${session.inputNames[0]}" is ${inMeta.type ?? 'non-tensor'} ${JSON.stringify(inMeta.shape ?? [])}, expected a float32 tensor [N, ...]`,
    );
  }
  const outMeta = session.outputMetadata[0] as { isTensor: boolean; type?: string; shape?: (number | string)[] };
  const dims = inMeta.shape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : null));
  if (!outMeta.isTensor || outMeta.type !== 'float32' || (outMeta.shape && outMeta.shape.length !== 2)) {
    throw notScores(path, session.outputNames[0]!, outMeta.shape ?? []);
  }
  return { path, inputName: session.inputNames[0]!, outputName: session.outputNames[0]!, inputDims: dims, fileSize, session, ort };
}

function notScores(path: string, name: string, shape: readonly (number | string)[]) {
  return inputError(
    'DISTILL_TEACHER_OUTPUT',
    `${path}: teacher output "${name}" has shape [${shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 'N')).join(',')}], expected class scores [N, C] with C ≥ 2`,
    { found: shape },
    'distill only classifiers whose first output is a score per class',
  );
}

/** Run the teacher over `x` (n samples of `sampleShape`, teacher layout) in batches. */
export async function teacherScores(
  t: Teacher,
  x: Float32Array,
  n: number,
  sampleShape: number[],
  onBatch?: (done: number) => void,
): Promise<TeacherScores> {
  const per = sampleShape.reduce((a, b) => a * b, 1);
  let out: Float32Array | null = null;
  let classes = 0;
  for (let i = 0; i < n; i += TEACHER_BATCH) {
    const b = Math.min(TEACHER_BATCH, n - i);
    const input = new t.ort.Tensor('float32', x.subarray(i * per, (i + b) * per), [b, ...sampleShape]);
    let r: Record<string, import('onnxruntime-node').Tensor>;
    try {
      r = await t.session.run({ [t.inputName]: input });
    } catch (e) {
      throw inputError('DISTILL_TEACHER_RUN', `${t.path}: teacher failed on input [${b},${sampleShape.join(',')}] (${firstLine(e)})`);
    }
    const y = r[t.outputName]!;
    if (y.dims.length !== 2 || y.dims[0] !== b || y.dims[1]! < 2 || y.dims[1]! > MAX_CLASSES) throw notScores(t.path, t.outputName, y.dims);
    if (!out) {
      classes = y.dims[1]!;
      out = new Float32Array(n * classes);
    }
    out.set(y.data as Float32Array, i * classes);
    onBatch?.(i + b);
  }
  const logits = out!;
  const probabilities = isProbabilityRows(logits, classes);
  if (probabilities) for (let i = 0; i < logits.length; i++) logits[i] = Math.log(Math.max(logits[i]!, 1e-7));
  for (let i = 0; i < logits.length; i++) {
    if (!Number.isFinite(logits[i]!)) throw inputError('DISTILL_TEACHER_NAN', `${t.path}: teacher produced a non-finite score for sample ${Math.floor(i / classes) + 1}`);
  }
  return { logits, classes, probabilities };
}

function isProbabilityRows(v: Float32Array, c: number): boolean {
  for (let i = 0; i < v.length; i += c) {
    let s = 0;
    for (let j = 0; j < c; j++) {
      const p = v[i + j]!;
      if (!(p >= 0 && p <= 1)) return false;
      s += p;
    }
    if (Math.abs(s - 1) > 1e-3) return false;
  }
  return true;
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0]!.slice(0, 200);
}

export function argmaxRows(v: Float32Array, c: number): Int32Array {
  const n = v.length / c;
  const r = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (v[i * c + j]! > v[i * c + best]!) best = j;
    r[i] = best;
  }
  return r;
}
