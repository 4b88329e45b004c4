/**
 * Trains the digits teacher used by the distillation benchmark: a CNN (default cnn:32c3-p2-64c3-fc128,
 * 151k parameters, input 1x8x8) on the UCI digits (../shared/fixtures/data/digits.csv.gz), seeded, with a fixed
 * held-out test split (20 %) it never sees; early stopping on a validation slice of the training part.
 * Writes, into a gitignored folder (default .tmp/distill/digits/):
 *   teacher.onnx     the teacher (raw 0..16 pixels [N,1,8,8] in, 10 logits out), via our ONNX exporter
 *   train.csv.gz     the training rows (64 pixels + label) = the distillation transfer set
 *   test.csv.gz      the held-out rows (64 pixels + label)
 *   teacher.json     spec, seed, parameter count, test accuracy
 * Reuses an existing teacher when teacher.json matches the spec and seed (pass --force to retrain).
 * Run: node --import tsx scripts/train-teacher.ts [--out DIR] [--spec SPEC] [--seed N] [--epochs N] [--force]
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { fixture, REPO_ROOT } from '../test/fixtures.ts';
import { loadDataset, type Dataset } from '../src/distill/data.ts';
import { splitIndices } from '../src/distill/rng.ts';
import { parseStudentSpec } from '../src/distill/spec.ts';
import { accuracy, createClassifier, exportClassifier, fit } from '../src/distill/supervised.ts';

export const DIGITS_CSV = fixture('data', 'digits.csv.gz');
export const DEFAULT_TEACHER_DIR = resolve(REPO_ROOT, '.tmp/distill/digits');
export const TEACHER_SPEC = 'cnn:32c3-p2-64c3-fc128';
export const TEST_FRACTION = 0.2;

export interface TeacherInfo {
  dir: string;
  teacher: string;
  trainCsv: string;
  testCsv: string;
  spec: string;
  seed: number;
  params: number;
  testAccuracy: number;
  epochs: number;
  reused: boolean;
}

/** Rows `idx` of a labelled dataset as CSV text (features..., label). */
export function toCsv(d: Dataset, idx: ArrayLike<number>): string {
  const per = d.sampleShape.reduce((a, b) => a * b, 1);
  const lines: string[] = [];
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k]!;
    lines.push([...d.x.subarray(i * per, (i + 1) * per), d.labels![i]!].join(','));
  }
  return lines.join('\n') + '\n';
}

export async function trainDigitsTeacher(o: { dir?: string; spec?: string; seed?: number; epochs?: number; force?: boolean; log?: (s: string) => void } = {}): Promise<TeacherInfo> {
  const dir = o.dir ?? DEFAULT_TEACHER_DIR;
  const spec = o.spec ?? TEACHER_SPEC;
  const seed = o.seed ?? 1;
  const epochs = o.epochs ?? 60;
  const log = o.log ?? (() => {});
  const paths = { teacher: join(dir, 'teacher.onnx'), trainCsv: join(dir, 'train.csv.gz'), testCsv: join(dir, 'test.csv.gz'), meta: join(dir, 'teacher.json') };
  if (!o.force && existsSync(paths.meta) && existsSync(paths.teacher) && existsSync(paths.trainCsv) && existsSync(paths.testCsv)) {
    const meta = JSON.parse(await readFile(paths.meta, 'utf8')) as TeacherInfo;
    if (meta.spec === spec && meta.seed === seed && meta.epochs === epochs) return { ...meta, dir, ...paths, reused: true };
  }
  await mkdir(dir, { recursive: true });
  const d = await loadDataset(DIGITS_CSV, { labels: true });
  const { train, held: test } = splitIndices(d.n, TEST_FRACTION, seed);
  // validation = 10 % of the training rows (early stopping), never the test rows
  const inner = splitIndices(train.length, 0.1, seed + 1);
  const fitIdx = Int32Array.from(inner.train, (i) => train[i]!);
  const valIdx = Int32Array.from(inner.held, (i) => train[i]!);
  const parsed = parseStudentSpec(spec);
  // a CNN teacher sees each row as the 1x8x8 image it is; an MLP sees 64 features
  const shape = parsed.layers.some((l) => l.type !== 'dense') ? [1, 8, 8] : [64];
  const c = await createClassifier(parsed, shape, 10, { x: d.x, rows: fitIdx }, seed);
  const r = await fit(c, d, {
    trainIdx: fitIdx,
    valIdx,
    epochs,
    batchSize: 64,
    learningRate: 1e-3,
    seed,
    patience: 12,
    onEpochEnd: (s) => log(`teacher epoch ${s.epoch}: loss ${s.loss.toFixed(4)}, validation accuracy ${(s.valScore * 100).toFixed(2)} %`),
  });
  const testAccuracy = accuracy(c, d, test);
  const { onnx, params } = exportClassifier(c, `digits teacher ${spec}, seed ${seed}, best epoch ${r.bestEpoch}`);
  await writeFile(paths.teacher, onnx);
  await writeFile(paths.trainCsv, gzipSync(toCsv(d, train)));
  await writeFile(paths.testCsv, gzipSync(toCsv(d, test)));
  const info: TeacherInfo = { dir, ...paths, spec, seed, params, testAccuracy, epochs, reused: false };
  await writeFile(paths.meta, JSON.stringify(info, null, 2) + '\n');
  c.model.dispose();
  return info;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, spec: { type: 'string' }, seed: { type: 'string' }, epochs: { type: 'string' }, force: { type: 'boolean' } },
  });
  const info = await trainDigitsTeacher({
    ...(values.out ? { dir: resolve(values.out) } : {}),
    ...(values.spec ? { spec: values.spec } : {}),
    ...(values.seed ? { seed: Number(values.seed) } : {}),
    ...(values.epochs ? { epochs: Number(values.epochs) } : {}),
    force: values.force ?? false,
    log: (s) => process.stderr.write(s + '\n'),
  });
  process.stdout.write(
    `${info.reused ? 'reused' : 'trained'} teacher ${info.spec}: ${info.params} parameters, test accuracy ${(info.testAccuracy * 100).toFixed(2)} %\n` +
      `  ${info.teacher}\n  ${info.trainCsv}\n  ${info.testCsv}\n`,
  );
  if (info.testAccuracy < 0.97) {
    process.stderr.write(`teacher test accuracy ${(info.testAccuracy * 100).toFixed(2)} % is below the 97 % target\n`);
    process.exitCode = 1;
  }
}
