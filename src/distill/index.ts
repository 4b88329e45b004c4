/**
 * Knowledge distillation, end to end: load the ONNX teacher and the transfer set, compute soft
 * targets in onnxruntime, train the student (tfjs, wasm backend), export it as ONNX, check the ONNX
 * file against the tfjs student in onnxruntime before it is renamed into place, and build the report.
 * The CLI command and the benchmark are thin callers of `distill()`. Writes only the output model and
 * the optional report (each atomically); never touches the teacher or the data file.
 */
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { McdnError, fromSystemError, inputError } from '../errors.ts';
import { writeFileAtomic } from '../formats/index.ts';
import { checkLabels, fitSampleShape, loadDataset, type Dataset } from './data.ts';
import { splitIndices } from './rng.ts';
import { parseStudentSpec, parseStudentSpecJson, formatStudentSpec, type StudentSpec } from './spec.ts';
import { buildStudent, checkSpatial, exportedParamCount, studentOps, studentShape, toStudentLayout } from './student.ts';
import { argmaxRows, loadTeacher, teacherScores } from './teacher.ts';
import { loadTf } from './tf.ts';
import { agreement, predictLogits, train, type EpochStats } from './train.ts';
import { applyNorm, encodeStudentOnnx, onnxParamCount, normalization } from './export.ts';

export { parseStudentSpec, parseStudentSpecJson, formatStudentSpec } from './spec.ts';
export type { StudentSpec, LayerSpec } from './spec.ts';

export interface ProgressSink {
  tick(n: number): void;
  done(): void;
}

export interface DistillOptions {
  teacher: string;
  data: string;
  /** compact spec, JSON text, or a path to a .json spec file */
  student: string;
  output: string;
  labels?: boolean;
  /** a separate labelled/unlabelled test file; default: part of the held-out split */
  testData?: string;
  epochs?: number;
  temperature?: number;
  alpha?: number;
  valSplit?: number;
  seed?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  report?: string;
  signal?: AbortSignal;
  progress?: (label: string, total: number) => ProgressSink;
  log?: (line: string) => void;
}

export interface DistillReport {
  teacher: { path: string; params: number; fileSize: number; accuracy?: number };
  student: { path: string; spec: string; params: number; fileSize: number; accuracy?: number; agreement: number };
  /** params(teacher) / params(student) */
  compression: number;
  /** student accuracy / teacher accuracy (labels given) */
  retainedAccuracy?: number;
  data: { path: string; samples: number; sampleShape: number[]; classes: number; train: number; validation: number; test: number; testSource: string };
  training: {
    epochs: number;
    bestEpoch: number;
    stoppedEarly: boolean;
    valAgreement: number;
    temperature: number;
    alpha: number;
    seed: number;
    seconds: number;
    history: EpochStats[];
  };
  /** max |onnxruntime(student.onnx) − tfjs student| over the test samples */
  exportMaxAbsDiff: number;
  teacherOutputsProbabilities: boolean;
}

export const DEFAULTS = { epochs: 30, temperature: 4, alpha: 0.7, valSplit: 0.2, seed: 1, batchSize: 64, learningRate: 2e-3, patience: 8 };
export const MAX_EPOCHS = 100_000;
/** fewest transfer samples: some to train on, some to validate and test */
export const MIN_SAMPLES = 4;
/** exported model vs tfjs student: above this the export is wrong, not merely imprecise */
export const EXPORT_TOLERANCE = 1e-4;

/** Resolve --student: a compact spec, inline JSON, or a JSON file. */
export async function resolveSpec(text: string): Promise<StudentSpec> {
  const t = text.trim();
  if (/^(mlp|cnn):/i.test(t) || t.startsWith('{')) return parseStudentSpec(t);
  if (/\.json$/i.test(t) || existsSync(t)) {
    let body: string;
    try {
      body = await readFile(t, 'utf8');
    } catch (e) {
      throw fromSystemError(e, t);
    }
    return parseStudentSpecJson(body);
  }
  return parseStudentSpec(t); // throws DISTILL_BAD_SPEC with the expected forms
}

function checkRange(name: string, v: number, min: number, max: number, integer = false): void {
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw inputError('DISTILL_BAD_OPTION', `--${name} ${v}: expected ${integer ? 'an integer' : 'a number'} in ${min}..${max}`);
  }
}

export async function distill(o: DistillOptions): Promise<DistillReport> {
  const started = Date.now();
  const log = o.log ?? (() => {});
  const epochs = o.epochs ?? DEFAULTS.epochs;
  const temperature = o.temperature ?? DEFAULTS.temperature;
  const alpha = o.alpha ?? DEFAULTS.alpha;
  const valSplit = o.valSplit ?? DEFAULTS.valSplit;
  const seed = o.seed ?? DEFAULTS.seed;
  const batchSize = o.batchSize ?? DEFAULTS.batchSize;
  const learningRate = o.learningRate ?? DEFAULTS.learningRate;
  const patience = o.patience ?? DEFAULTS.patience;
  checkRange('epochs', epochs, 1, MAX_EPOCHS, true);
  checkRange('temperature', temperature, 0.05, 100);
  checkRange('alpha', alpha, 0, 1);
  checkRange('val-split', valSplit, 0.01, 0.9);
  checkRange('seed', seed, 0, 2 ** 32 - 1, true);
  checkRange('batch-size', batchSize, 1, 65536, true);
  checkRange('lr', learningRate, 1e-7, 10);
  checkRange('patience', patience, 1, MAX_EPOCHS, true);

  // 1. everything that can fail on bad input, before any training
  const spec = await resolveSpec(o.student);
  const specText = formatStudentSpec(spec);
  const teacher = await loadTeacher(o.teacher);
  try {
    const data = await loadDataset(o.data, { labels: o.labels ?? false });
    const sampleShape = fitSampleShape(data, teacher.inputDims, o.teacher);
    const test: Dataset | null = o.testData ? await loadDataset(o.testData, { labels: o.labels ?? false }) : null;
    if (test) fitSampleShape(test, sampleShape, o.teacher);

    const bar = (label: string, total: number) => o.progress?.(label, total);
    const tb = bar('teacher', data.n + (test?.n ?? 0));
    let tbDone = 0;
    const tick = (d: number) => {
      tb?.tick(d - tbDone);
      tbDone = d;
    };
    const scores = await teacherScores(teacher, data.x, data.n, sampleShape, tick);
    tbDone = 0;
    const testScores = test ? await teacherScores(teacher, test.x, test.n, sampleShape, tick) : null;
    tb?.done();
    const classes = scores.classes;
    checkLabels(data, classes);
    if (test) checkLabels(test, classes);
    const shape = studentShape(spec, sampleShape, classes, specText);
    checkSpatial(spec, shape, specText);

    // 2. splits: train / validation (early stopping) / test (report), seeded
    const { train: trainIdx, held } = splitIndices(data.n, valSplit, seed);
    let valIdx = held;
    let testIdx: Int32Array;
    if (test) testIdx = Int32Array.from({ length: test.n }, (_, i) => i);
    else {
      const half = Math.ceil(held.length / 2);
      valIdx = held.slice(0, half);
      testIdx = held.slice(half);
      if (testIdx.length === 0) testIdx = valIdx;
    }
    if (data.n < MIN_SAMPLES || trainIdx.length < 1) {
      throw inputError('DISTILL_DATA_TOO_SMALL', `${o.data}: ${data.n} samples, expected at least ${MIN_SAMPLES} (training plus held-out rows)`);
    }

    // 3. train the student on normalized input
    const norm = normalization(data.x, trainIdx, sampleShape.reduce((a, b) => a * b, 1));
    const { tf, tfl } = await loadTf();
    const xTrain = toStudentLayout(applyNorm(data.x, norm), data.n, shape);
    const model = buildStudent(tfl, spec, shape, seed);
    log(`student ${specText}: ${model.countParams()} trainable parameters; teacher outputs ${scores.probabilities ? 'probabilities' : 'logits'} over ${classes} classes`);
    const result = await train(tf, model, {
      x: xTrain,
      sampleShape: shape.tfShape,
      classes,
      teacherLogits: scores.logits,
      ...(data.labels ? { labels: data.labels } : {}),
      trainIdx,
      valIdx,
      epochs,
      batchSize,
      learningRate,
      temperature,
      alpha,
      seed,
      patience,
      ...(o.signal ? { signal: o.signal } : {}),
      onEpochStart: (e, batches) => bar(`epoch ${e}/${epochs}`, batches) ?? { tick() {}, done() {} },
      onEpochEnd: (s) => log(`epoch ${s.epoch}: loss ${s.loss.toFixed(4)}, validation agreement ${(s.valScore * 100).toFixed(2)} %`),
    });
    if (o.signal?.aborted) throw new McdnError('CANCELLED', 'cancelled', 'distillation cancelled; nothing written');

    // 4. evaluate on the test samples
    const src = test ?? data;
    const srcScores = testScores ?? scores;
    const xTest = test ? toStudentLayout(applyNorm(test.x, norm), test.n, shape) : xTrain;
    const sLogits = predictLogits(tf, model, xTest, shape.tfShape, testIdx);
    const agree = agreement(sLogits, classes, testIdx, { logits: srcScores.logits });
    let teacherAcc: number | undefined;
    let studentAcc: number | undefined;
    if (src.labels) {
      const tArg = argmaxRows(srcScores.logits, classes);
      let ok = 0;
      for (const i of testIdx) if (tArg[i] === src.labels[i]) ok++;
      teacherAcc = ok / testIdx.length;
      studentAcc = agreement(sLogits, classes, Array.from({ length: testIdx.length }, (_, i) => i), { labels: Int32Array.from(testIdx, (i) => src.labels![i]!) });
    }

    // 5. export, verify in onnxruntime, then write atomically
    const ops = studentOps(tf, model, spec, shape, scores.probabilities);
    const onnx = encodeStudentOnnx(ops, { inputShape: sampleShape, norm, docString: `distilled from ${o.teacher} (${specText})` });
    const diff = await verifyExport(teacher.ort, onnx, src.x, sampleShape, testIdx, sLogits, classes, scores.probabilities);
    if (!(diff <= EXPORT_TOLERANCE)) {
      throw new McdnError('DISTILL_EXPORT_MISMATCH', 'internal', `exported ONNX differs from the trained student by ${diff} (limit ${EXPORT_TOLERANCE}); nothing written`);
    }
    const teacherParams = await onnxParamCount(o.teacher);
    const studentParams = exportedParamCount(ops);
    const fileSize = await writeFileAtomic(o.output, (w) => w.write(onnx));
    model.dispose();

    const report: DistillReport = {
      teacher: { path: o.teacher, params: teacherParams, fileSize: teacher.fileSize, ...(teacherAcc !== undefined ? { accuracy: teacherAcc } : {}) },
      student: { path: o.output, spec: specText, params: studentParams, fileSize, ...(studentAcc !== undefined ? { accuracy: studentAcc } : {}), agreement: agree },
      compression: teacherParams / studentParams,
      ...(teacherAcc !== undefined && studentAcc !== undefined && teacherAcc > 0 ? { retainedAccuracy: studentAcc / teacherAcc } : {}),
      data: {
        path: o.data,
        samples: data.n,
        sampleShape,
        classes,
        train: trainIdx.length,
        validation: valIdx.length,
        test: testIdx.length,
        testSource: test ? o.testData! : 'held-out split of the data',
      },
      training: {
        epochs: result.history.length,
        bestEpoch: result.bestEpoch,
        stoppedEarly: result.stoppedEarly,
        valAgreement: result.bestValScore,
        temperature,
        alpha: data.labels ? alpha : 1,
        seed,
        seconds: (Date.now() - started) / 1000,
        history: result.history,
      },
      exportMaxAbsDiff: diff,
      teacherOutputsProbabilities: scores.probabilities,
    };
    if (o.report) await writeFileAtomic(o.report, (w) => w.write(new TextEncoder().encode(JSON.stringify(report, null, 2) + '\n')));
    return report;
  } finally {
    await teacher.session.release().catch(() => {});
  }
}

/** Run the encoded student in onnxruntime on `idx` rows of raw `x`; max abs diff vs the tfjs outputs. */
export async function verifyExport(
  ort: typeof import('onnxruntime-node'),
  onnx: Uint8Array,
  x: Float32Array,
  sampleShape: number[],
  idx: Int32Array,
  tfLogits: Float32Array,
  classes: number,
  softmax: boolean,
): Promise<number> {
  let session: import('onnxruntime-node').InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnx);
  } catch (e) {
    throw new McdnError('DISTILL_EXPORT_INVALID', 'internal', `onnxruntime rejects the exported student: ${String((e as Error).message).split('\n')[0]}`);
  }
  const per = sampleShape.reduce((a, b) => a * b, 1);
  const rows = Math.min(idx.length, 256);
  const xb = new Float32Array(rows * per);
  for (let i = 0; i < rows; i++) xb.set(x.subarray(idx[i]! * per, (idx[i]! + 1) * per), i * per);
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', xb, [rows, ...sampleShape]) });
  const y = out[session.outputNames[0]!]!.data as Float32Array;
  let max = 0;
  for (let i = 0; i < rows; i++) {
    const ref = tfLogits.subarray(i * classes, (i + 1) * classes);
    const want = softmax ? softmaxRow(ref) : ref;
    for (let j = 0; j < classes; j++) max = Math.max(max, Math.abs(y[i * classes + j]! - want[j]!));
  }
  await session.release();
  return max;
}

function softmaxRow(v: Float32Array): Float64Array {
  const m = Math.max(...v);
  const e = Float64Array.from(v, (a) => Math.exp(a - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((a) => a / s);
}

export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    throw fromSystemError(e, path);
  }
}
