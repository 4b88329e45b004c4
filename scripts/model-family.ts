/**
 * A model family with real training dynamics, for delta-update benchmarks: consecutive checkpoints of
 * one digits classifier (default mlp:512,256, 167k parameters), each exported as ONNX and safetensors,
 * FP32 and INT8 (INT8 by the optimize area's quantizer: ONNX DequantizeLinear per-channel weights,
 * safetensors compressed-tensors int8). Checkpoints:
 *   v1  base: trained from a seeded init for --base-epochs epochs
 *   v2  continued: v1 trained --more-epochs further on the same data (a routine retrain)
 *   v3  last layer: v2 with only the class layer fine-tuned (every other tensor identical)
 *   v4  shifted: v2 fine-tuned on a shifted subset (digits 0–4 only, images moved one pixel right)
 * Pairs that make sense to diff: v1→v2, v2→v3, v2→v4 (and v1→v4 as a two-step update).
 * Everything is regenerated on demand into a gitignored folder (default .tmp/family/); deterministic
 * for a given --seed. Prints the paths (and --json prints a manifest).
 * Run: node --import tsx scripts/model-family.ts [--out DIR] [--spec SPEC] [--seed N] [--json]
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../test/fixtures.ts';
import { loadDataset, type Dataset } from '../src/distill/data.ts';
import { splitIndices } from '../src/distill/rng.ts';
import { parseStudentSpec } from '../src/distill/spec.ts';
import { accuracy, createClassifier, exportClassifier, fit, HEAD_LAYERS, type Classifier } from '../src/distill/supervised.ts';
import { writeSafetensors } from '../src/formats/index.ts';
import { DIGITS_CSV } from './train-teacher.ts';

export const FAMILY_DIR = resolve(REPO_ROOT, '.tmp/family');
export const FAMILY_SPEC = 'mlp:512,256';

export interface FamilyMember {
  version: string;
  description: string;
  parent?: string;
  testAccuracy: number;
  files: { onnx: string; safetensors: string; onnxInt8?: string; safetensorsInt8?: string };
  sizes: Record<string, number>;
}

export interface Family {
  dir: string;
  spec: string;
  seed: number;
  members: FamilyMember[];
  int8: string;
}

/** Rows with label < 5, each 8x8 image moved one pixel to the right (left column zero). */
function shiftedSubset(d: Dataset, rows: ArrayLike<number>): { data: Dataset; idx: Int32Array } {
  const keep = Array.from(rows).filter((i) => d.labels![i]! < 5);
  const x = new Float32Array(keep.length * 64);
  const labels = new Int32Array(keep.length);
  keep.forEach((i, k) => {
    for (let r = 0; r < 8; r++) for (let c = 7; c >= 1; c--) x[k * 64 + r * 8 + c] = d.x[i * 64 + r * 8 + c - 1]!;
    labels[k] = d.labels![i]!;
  });
  return { data: { x, n: keep.length, sampleShape: [64], labels, source: `${d.source} (digits 0-4, shifted 1px right)` }, idx: Int32Array.from({ length: keep.length }, (_, k) => k) };
}

export async function buildFamily(o: { dir?: string; spec?: string; seed?: number; baseEpochs?: number; moreEpochs?: number; log?: (s: string) => void } = {}): Promise<Family> {
  const dir = o.dir ?? FAMILY_DIR;
  const spec = o.spec ?? FAMILY_SPEC;
  const seed = o.seed ?? 1;
  const log = o.log ?? (() => {});
  await mkdir(dir, { recursive: true });
  const d = await loadDataset(DIGITS_CSV, { labels: true });
  const { train, held: test } = splitIndices(d.n, 0.2, seed);
  const c = await createClassifier(parseStudentSpec(spec), [64], 10, { x: d.x, rows: train }, seed);
  // an empty validation set: no early stopping, every stage keeps its final weights
  const none = new Int32Array(0);
  // fine-tunes (v3, v4) use a 3x lower learning rate, as fine-tunes usually do
  const stage = (epochs: number, data: Dataset, idx: Int32Array, s: number, trainableLayers?: string[], learningRate = 1e-3) =>
    fit(c, data, { trainIdx: idx, valIdx: none, epochs, batchSize: 64, learningRate, seed: s, patience: epochs + 1, ...(trainableLayers ? { trainableLayers } : {}) });

  let quantizeFile: typeof import('../src/optimize/quantize/index.ts').quantizeFile | undefined;
  let int8 = 'optimize quantizer (src/optimize/quantize): ONNX int8 per-channel DequantizeLinear, safetensors compressed-tensors int8';
  try {
    ({ quantizeFile } = await import('../src/optimize/quantize/index.ts'));
  } catch (e) {
    int8 = `INT8 skipped: the optimize quantizer is not available (${(e as Error).message.split('\n')[0]})`;
  }

  const members: FamilyMember[] = [];
  const save = async (version: string, description: string, parent: string | undefined, cl: Classifier) => {
    const { onnx, tensors } = exportClassifier(cl, `modelcdn model family ${spec} ${version}: ${description}`);
    const files: FamilyMember['files'] = { onnx: join(dir, `digits-${version}.onnx`), safetensors: join(dir, `digits-${version}.safetensors`) };
    await writeFile(files.onnx, onnx);
    await writeSafetensors(files.safetensors, tensors, { family: 'modelcdn digits', version, spec, description });
    if (quantizeFile) {
      const q = { scheme: 'int8' as const, granularity: 'per-channel' as const, minElements: 1024 };
      files.onnxInt8 = join(dir, `digits-${version}.int8.onnx`);
      files.safetensorsInt8 = join(dir, `digits-${version}.int8.safetensors`);
      await quantizeFile(files.onnx, files.onnxInt8, q);
      await quantizeFile(files.safetensors, files.safetensorsInt8, q);
    }
    const sizes: Record<string, number> = {};
    for (const [k, p] of Object.entries(files)) sizes[k] = (await stat(p)).size;
    const testAccuracy = accuracy(cl, d, test);
    members.push({ version, description, ...(parent ? { parent } : {}), testAccuracy, files, sizes });
    log(`${version}: ${description} — test accuracy ${(testAccuracy * 100).toFixed(2)} %`);
  };

  await stage(o.baseEpochs ?? 8, d, train, seed);
  await save('v1', `base, ${o.baseEpochs ?? 8} epochs`, undefined, c);
  await stage(o.moreEpochs ?? 3, d, train, seed + 1);
  await save('v2', `v1 trained ${o.moreEpochs ?? 3} more epochs`, 'v1', c);
  const v2 = c.model.getWeights().map((w) => w.clone());
  await stage(3, d, train, seed + 2, HEAD_LAYERS, 3e-4);
  await save('v3', 'v2 with only the last layer fine-tuned (3 epochs)', 'v2', c);
  c.model.setWeights(v2);
  const shifted = shiftedSubset(d, train);
  await stage(3, shifted.data, shifted.idx, seed + 3, undefined, 3e-4);
  await save('v4', 'v2 fine-tuned 3 epochs on digits 0-4 shifted one pixel right', 'v2', c);
  c.tf.dispose(v2);
  c.model.dispose();
  const family: Family = { dir, spec, seed, members, int8 };
  await writeFile(join(dir, 'family.json'), JSON.stringify(family, null, 2) + '\n');
  return family;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, spec: { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' } } });
  const t0 = Date.now();
  const fam = await buildFamily({
    ...(values.out ? { dir: resolve(values.out) } : {}),
    ...(values.spec ? { spec: values.spec } : {}),
    ...(values.seed ? { seed: Number(values.seed) } : {}),
    log: (s) => process.stderr.write(s + '\n'),
  });
  if (values.json) process.stdout.write(JSON.stringify(fam, null, 2) + '\n');
  else {
    for (const m of fam.members) {
      process.stdout.write(`${m.version}${m.parent ? ` (from ${m.parent})` : ''}: ${m.description}\n`);
      for (const [k, p] of Object.entries(m.files)) process.stdout.write(`  ${k.padEnd(16)} ${String(m.sizes[k]).padStart(8)} B  ${p}\n`);
    }
    process.stdout.write(`${fam.int8}\nmanifest: ${join(fam.dir, 'family.json')} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
}
