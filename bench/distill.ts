/**
 * `npm run bench:distill` — knowledge distillation on real data, side by side with the baseline of
 * training the same small student on labels alone (no teacher):
 *   1. digits: the CNN teacher from scripts/train-teacher.ts (≥ 97 % test accuracy; reused when
 *      already trained) → an MLP student with ≥ 10x fewer parameters; target ≥ 95 % of the teacher's
 *      test accuracy on the teacher's held-out test rows.
 *   2. ppocr_mobile_v2_cls.onnx (PaddleOCR 0°/180° text-direction classifier, third-party) → a CNN
 *      student ≤ 13k parameters, transfer set = text lines rendered by ImageMagick with real fonts
 *      (scripts/inputs/ocr.ts, upright and rotated 180°), split by text line; target: agrees with the
 *      teacher on ≥ 95 % of the held-out images. Accuracy against the true rotation is also shown.
 * Baselines: the same student architectures trained on the true labels alone (no teacher).
 * Intermediate files go to .tmp/distill/ (gitignored) and are reused on later runs.
 * Options: --lines N (text lines rendered per seed, 2 seeds, default 800), --quick (fewer epochs; not for the targets).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { formatBytes, table } from '../src/cli/output.ts';
import { loadDataset } from '../src/distill/data.ts';
import { distill, type DistillReport } from '../src/distill/index.ts';
import { parseStudentSpec } from '../src/distill/spec.ts';
import { accuracy, classifierInput, createClassifier, exportClassifier, fit } from '../src/distill/supervised.ts';
import { predictLogits } from '../src/distill/train.ts';
import { splitIndices } from '../src/distill/rng.ts';
import { argmaxRows } from '../src/distill/teacher.ts';
import { readSafetensorsFile, serializeSafetensors } from '../src/formats/index.ts';
import { fixture, REPO_ROOT } from '../test/fixtures.ts';
import { buildOcrInputs } from '../scripts/inputs/ocr.ts';
import { trainDigitsTeacher } from '../scripts/train-teacher.ts';

const { values } = parseArgs({ options: { lines: { type: 'string' }, quick: { type: 'boolean' } } });
const QUICK = values.quick ?? false;
const LINES = Number(values.lines ?? 800);
const WORK = resolve(REPO_ROOT, '.tmp/distill');
const PPOCR_CLS = fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx');
export const DIGITS_STUDENT = 'mlp:32';
// no global pooling: the flattened 3x12 map keeps where strokes sit vertically (the orientation cue)
export const OCR_STUDENT = 'cnn:p2-8c3s2-16c3s2-32c3s2-16c3';
/** rendering seeds of scripts/inputs/ocr.ts; each gives --lines text lines (x2 orientations) */
const OCR_SEEDS = [7, 8];

const log = (s: string) => process.stderr.write(s + '\n');
const pct = (v: number | undefined) => (v === undefined ? '-' : `${(v * 100).toFixed(2)} %`);

interface Row {
  case: string;
  method: string;
  teacherParams: number;
  studentParams: number;
  studentFile: number;
  teacherAcc?: number;
  studentAcc?: number;
  agreement?: number;
  seconds: number;
  target: string;
  pass: boolean | undefined;
}
const rows: Row[] = [];

async function runOnnx(path: string, x: Float32Array, shape: number[], n: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path);
  const per = shape.reduce((a, b) => a * b, 1);
  const parts: Float32Array[] = [];
  for (let i = 0; i < n; i += 64) {
    const b = Math.min(64, n - i);
    const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x.subarray(i * per, (i + b) * per), [b, ...shape]) });
    parts.push(Float32Array.from(out[s.outputNames[0]!]!.data as Float32Array));
  }
  await s.release();
  const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all;
}

function accOf(pred: Int32Array, labels: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) ok++;
  return ok / pred.length;
}

// ---------------------------------------------------------------------------------------------
// 1. digits
async function benchDigits(): Promise<void> {
  log('digits: training (or reusing) the teacher …');
  const t = await trainDigitsTeacher({ log });
  log(`digits teacher ${t.spec}: ${t.params} params, test accuracy ${pct(t.testAccuracy)}${t.reused ? ' (reused)' : ''}`);
  const t0 = Date.now();
  const out = join(t.dir, 'student.onnx');
  const r = await distill({
    teacher: t.teacher,
    data: t.trainCsv,
    testData: t.testCsv,
    labels: true,
    student: DIGITS_STUDENT,
    output: out,
    epochs: QUICK ? 10 : 80,
    patience: 15,
    temperature: 4,
    alpha: 0.7,
    seed: 1,
    report: join(t.dir, 'report.json'),
    log,
  });
  rows.push({
    case: 'digits',
    method: `distilled ${DIGITS_STUDENT}`,
    teacherParams: r.teacher.params,
    studentParams: r.student.params,
    studentFile: r.student.fileSize,
    teacherAcc: r.teacher.accuracy!,
    studentAcc: r.student.accuracy!,
    agreement: r.student.agreement,
    seconds: (Date.now() - t0) / 1000,
    target: '≥10x fewer, ≥95 % of teacher acc',
    pass: r.compression >= 10 && (r.retainedAccuracy ?? 0) >= 0.95 && (r.teacher.accuracy ?? 0) >= 0.97,
  });
  // baseline: the same student trained on the labels only (no teacher), same data, seed and validation
  const t1 = Date.now();
  const train = await loadDataset(t.trainCsv, { labels: true });
  const test = await loadDataset(t.testCsv, { labels: true });
  const { train: fitIdx, held } = splitIndices(train.n, 0.2, 1);
  const c = await createClassifier(parseStudentSpec(DIGITS_STUDENT), [64], 10, { x: train.x, rows: fitIdx }, 1);
  await fit(c, train, { trainIdx: fitIdx, valIdx: held.slice(0, Math.ceil(held.length / 2)), epochs: QUICK ? 10 : 80, batchSize: 64, learningRate: 2e-3, seed: 1, patience: 15 });
  const allTest = Int32Array.from({ length: test.n }, (_, i) => i);
  const e = exportClassifier(c, 'labels-only baseline');
  const tPred = argmaxRows(await runOnnx(t.teacher, test.x, r.data.sampleShape, test.n), 10);
  const bPred = argmaxRows(predictLogits(c.tf, c.model, classifierInput(c, test), c.shape.tfShape, allTest), 10);
  rows.push({
    case: 'digits',
    method: `labels only ${DIGITS_STUDENT}`,
    teacherParams: r.teacher.params,
    studentParams: e.params,
    studentFile: e.onnx.length,
    teacherAcc: r.teacher.accuracy!,
    studentAcc: accuracy(c, test, allTest),
    agreement: accOf(bPred, tPred),
    seconds: (Date.now() - t1) / 1000,
    target: 'baseline',
    pass: undefined,
  });
}

// ---------------------------------------------------------------------------------------------
// 2. PaddleOCR direction classifier
async function benchOcr(): Promise<void> {
  const dir = join(WORK, `ocr-${LINES}`);
  const parts: { x: Float32Array; labels: number[]; shape: number[] }[] = [];
  for (const seed of OCR_SEEDS) {
    const sub = join(dir, `seed-${seed}`);
    const clsPath = join(sub, 'ocr-cls.safetensors');
    if (!existsSync(clsPath)) {
      log(`ocr: rendering ${LINES} text lines (seed ${seed}) with ImageMagick, upright + 180°, into ${sub} …`);
      await buildOcrInputs(sub, LINES, seed);
    }
    const f = await readSafetensorsFile(clsPath);
    const t = f.tensors.find((q) => q.name === 'x')!;
    const m = t.shape[0]!;
    parts.push({
      x: new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)),
      labels: f.metadata?.['labels'] ? (JSON.parse(f.metadata['labels']) as string[]).map((l) => (l === '180' ? 1 : 0)) : Array.from({ length: m }, (_, i) => i % 2),
      shape: t.shape.slice(1),
    });
  }
  const shape = parts[0]!.shape;
  const per = shape.reduce((a, b) => a * b, 1);
  const n = parts.reduce((a, p) => a + p.labels.length, 0);
  const all = new Float32Array(n * per);
  const labels: number[] = [];
  for (const p of parts) {
    all.set(p.x, labels.length * per);
    labels.push(...p.labels);
  }
  // split by text line (both orientations of a line on the same side), seeded
  const lines = n / 2;
  const { train: trainLines, held: testLines } = splitIndices(lines, 0.25, 11);
  const pick = (ls: Int32Array) => Int32Array.from(Array.from(ls).flatMap((l) => [2 * l, 2 * l + 1]));
  const trainIdx = pick(trainLines);
  const testIdx = pick(testLines);
  const gather = (idx: Int32Array) => {
    const o = new Float32Array(idx.length * per);
    idx.forEach((i, k) => o.set(all.subarray(i * per, (i + 1) * per), k * per));
    return o;
  };
  const xTest = gather(testIdx);
  const yTest = Int32Array.from(testIdx, (i) => labels[i]!);
  const transfer = join(dir, 'transfer.safetensors');
  const testFile = join(dir, 'test.safetensors');
  const f32 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  await writeFile(transfer, serializeSafetensors([{ name: 'inputs', dtype: 'F32', shape: [trainIdx.length, ...shape], data: f32(gather(trainIdx)) }]));
  await writeFile(
    testFile,
    serializeSafetensors([
      { name: 'inputs', dtype: 'F32', shape: [testIdx.length, ...shape], data: f32(xTest) },
      { name: 'labels', dtype: 'I32', shape: [testIdx.length], data: new Uint8Array(yTest.buffer) },
    ]),
  );
  log(`ocr: ${trainIdx.length} transfer images, ${testIdx.length} held-out images (${testLines.length} lines never seen in training)`);
  const t0 = Date.now();
  const out = join(dir, 'student.onnx');
  const r: DistillReport = await distill({
    teacher: PPOCR_CLS,
    data: transfer,
    testData: testFile,
    student: OCR_STUDENT,
    output: out,
    epochs: QUICK ? 3 : 25,
    patience: 6,
    temperature: 2,
    alpha: 1,
    valSplit: 0.15,
    seed: 1,
    report: join(dir, 'report.json'),
    log,
  });
  const seconds = (Date.now() - t0) / 1000;
  const tPred = argmaxRows(await runOnnx(PPOCR_CLS, xTest, shape, testIdx.length), 2);
  const sPred = argmaxRows(await runOnnx(out, xTest, shape, testIdx.length), 2);
  rows.push({
    case: 'ppocr cls 0/180',
    method: `distilled ${OCR_STUDENT}`,
    teacherParams: r.teacher.params,
    studentParams: r.student.params,
    studentFile: r.student.fileSize,
    teacherAcc: accOf(tPred, yTest),
    studentAcc: accOf(sPred, yTest),
    agreement: accOf(sPred, tPred),
    seconds,
    target: '≤13k params, ≥95 % agreement',
    pass: r.student.params <= 13_000 && accOf(sPred, tPred) >= 0.95,
  });
  // baseline: the same student trained on the true rotation labels (no teacher), same images and seed
  const t1 = Date.now();
  const trainX = gather(trainIdx);
  const trainSet = { x: trainX, n: trainIdx.length, sampleShape: shape, labels: Int32Array.from(trainIdx, (i) => labels[i]!), source: 'rendered text lines' };
  const testSet = { x: xTest, n: testIdx.length, sampleShape: shape, labels: yTest, source: 'rendered text lines (held out)' };
  const split = splitIndices(trainSet.n, 0.15, 1);
  const c = await createClassifier(parseStudentSpec(OCR_STUDENT), shape, 2, { x: trainX, rows: split.train }, 1);
  await fit(c, trainSet, { trainIdx: split.train, valIdx: split.held, epochs: QUICK ? 3 : 25, batchSize: 64, learningRate: 2e-3, seed: 1, patience: 6 });
  const e = exportClassifier(c, 'labels-only baseline');
  const bPred = argmaxRows(predictLogits(c.tf, c.model, classifierInput(c, testSet), c.shape.tfShape, Int32Array.from({ length: testSet.n }, (_, i) => i)), 2);
  rows.push({
    case: 'ppocr cls 0/180',
    method: `labels only ${OCR_STUDENT}`,
    teacherParams: r.teacher.params,
    studentParams: e.params,
    studentFile: e.onnx.length,
    teacherAcc: accOf(tPred, yTest),
    studentAcc: accOf(bPred, yTest),
    agreement: accOf(bPred, tPred),
    seconds: (Date.now() - t1) / 1000,
    target: 'baseline',
    pass: undefined,
  });
}

await mkdir(WORK, { recursive: true });
await benchDigits();
await benchOcr();

process.stdout.write(
  '\n' +
    table(
      ['case', 'student', 'teacher params', 'student params', 'ratio', 'student file', 'teacher acc', 'student acc', 'kept', 'agreement', 'time', 'target', 'ok'],
      rows.map((r) => [
        r.case,
        r.method,
        r.teacherParams,
        r.studentParams,
        `${(r.teacherParams / r.studentParams).toFixed(1)}x`,
        formatBytes(r.studentFile),
        pct(r.teacherAcc),
        pct(r.studentAcc),
        r.teacherAcc && r.studentAcc !== undefined ? pct(r.studentAcc / r.teacherAcc) : '-',
        pct(r.agreement),
        `${r.seconds.toFixed(0)} s`,
        r.target,
        r.pass === undefined ? '' : r.pass ? 'yes' : 'NO',
      ]),
    ) +
    '\n' +
    'accuracy: digits against the true digit on the teacher\'s held-out test rows; ppocr against the true rotation of held-out text lines.\n' +
    'agreement: student argmax = teacher argmax on the same held-out inputs.\n',
);
if (rows.some((r) => r.pass === false)) process.exitCode = 1;
