/**
 * `npm run bench:optimize`: what quantization and pruning do to the fixture ONNX models, measured
 * with onnxruntime on real inputs built by the committed recipes in scripts/inputs/ (espeak-ng +
 * sox speech for Silero VAD; ImageMagick-rendered text lines for PaddleOCR rec/cls).
 * Rows: FP32 (with the zstd -19 baseline), INT8 (plain per-channel weight-only; the default = per-channel + data-free
 * sensitivity rules; per-block), INT8 calibrated (only
 * where plain INT8 misses its target), FP16, and the pruning curve (30/50/70/90 % global magnitude)
 * → file size, packed .mcz size, agreement with FP32 on the task's own decision. Writes
 * bench/out/optimize.json, docs/optimize-pruning.png and docs/optimize-bench.md.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fixture, REPO_ROOT } from '../test/fixtures.ts';
import { formatBytes, table } from '../src/cli/output.ts';
import { packFile } from '../src/codec/index.ts';
import { quantizeFile } from '../src/optimize/quantize/index.ts';
import { pruneFile } from '../src/optimize/prune/index.ts';
import { loadInputsFile } from '../src/optimize/eval/inputs-file.ts';
import { findStatePairs, loadModel, runBatched, runSequential } from '../src/optimize/eval/runner.ts';
import { ctcGreedyDecode, paddleCharset } from '../src/optimize/eval/ctc.ts';
import { argmax } from '../src/optimize/eval/metrics.ts';
import { toNumbers, type HostTensor } from '../src/optimize/eval/tensors.ts';
import { readSafetensorsFile } from '../src/formats/safetensors.ts';
import { buildVadInputs } from '../scripts/inputs/vad.ts';
import { buildOcrInputs, loadDictionary } from '../scripts/inputs/ocr.ts';
import { INPUTS_DIR } from '../scripts/inputs/tools.ts';
import { renderPng, type Series } from './optimize-plot.ts';

type Kind = 'vad' | 'rec' | 'cls' | 'none';
interface ModelCase {
  file: string;
  kind: Kind;
  inputs?: string;
  calib?: string;
  sequential?: boolean;
  /** agreement target for INT8 (FP16: 0.999) */
  target?: number;
  color: string;
}

const MODELS: ModelCase[] = [
  { file: 'silero_vad_v4legacy.onnx', kind: 'vad', inputs: 'vad-1536', calib: 'vad-calib-1536', sequential: true, target: 0.99, color: '#d62728' },
  { file: 'silero_vad_v5.onnx', kind: 'vad', inputs: 'vad-512', calib: 'vad-calib-512', sequential: true, target: 0.99, color: '#ff7f0e' },
  { file: 'ppocr_v4_rec.onnx', kind: 'rec', inputs: 'ocr-rec', calib: 'ocr-calib-rec', target: 0.97, color: '#1f77b4' },
  { file: 'ppocr_mobile_v2_cls.onnx', kind: 'cls', inputs: 'ocr-cls', calib: 'ocr-calib-cls', target: 0.99, color: '#2ca02c' },
  { file: 'ppocr_v4_det.onnx', kind: 'none', color: '#9467bd' },
];
const SPARSITIES = [0.3, 0.5, 0.7, 0.9];
const OUT = join(REPO_ROOT, 'bench', 'out', 'optimize');
const only = process.env['BENCH_MODELS']?.split(',');

interface Row {
  model: string;
  variant: string;
  size: number;
  packed: number;
  /** agreement with FP32 on the task decision (null: no inputs) */
  agreement: number | null;
  metric: string;
  target: number | null;
  note?: string;
}

function ensureInputs(): Promise<void> {
  const need = ['vad-512', 'vad-1536', 'vad-calib-512', 'vad-calib-1536', 'ocr-rec', 'ocr-cls', 'ocr-calib-rec', 'ocr-calib-cls'];
  if (need.every((n) => existsSync(join(INPUTS_DIR, `${n}.safetensors`)))) return Promise.resolve();
  console.log('building evaluation inputs (scripts/inputs: espeak-ng, sox, ImageMagick)…');
  return (async () => {
    await buildVadInputs(INPUTS_DIR, 20240601, 'eval');
    await buildVadInputs(INPUTS_DIR, 777, 'calib');
    await buildOcrInputs(INPUTS_DIR, 128, 7, 'ocr');
    await buildOcrInputs(INPUTS_DIR, 32, 1001, 'ocr-calib');
  })();
}

async function run(path: string, inputs: Record<string, HostTensor>, sequential: boolean): Promise<Record<string, HostTensor>> {
  const m = await loadModel(path);
  try {
    return (sequential ? await runSequential(m, inputs, findStatePairs(m.inputs, m.outputs)) : await runBatched(m, inputs, 16)).outputs;
  } finally {
    await m.close();
  }
}

/** The task decision per row: VAD speech (p > 0.5), rec greedy text, cls argmax. */
function decisions(kind: Kind, outs: Record<string, HostTensor>, charset: string[]): (string | number | boolean)[] {
  const t = Object.values(outs)[0]!;
  const d = toNumbers(t);
  if (kind === 'vad') return Array.from(d as ArrayLike<number>, (v) => v > 0.5);
  if (kind === 'rec') return ctcGreedyDecode(d, t.dims, charset);
  const c = t.dims[t.dims.length - 1]!;
  return Array.from({ length: d.length / c }, (_, i) => argmax(d, i * c, c));
}

/** "N per-block, M FP16 (reaches Log …)" from the default rules' report reasons */
function sensitiveNote(tensors: { reason?: string; action: string; name: string }[]): string {
  const sens = tensors.filter((t) => t.reason?.startsWith('sensitive'));
  if (!sens.length) return 'none';
  const blk = sens.filter((t) => t.action === 'int8').length;
  const half = sens.filter((t) => t.action === 'fp16');
  return [blk ? `${blk} per-block (per-channel error > 1 %)` : '', half.length ? `${half.length} FP16 (${[...new Set(half.map((t) => t.reason!.replace('sensitive: output reaches ', 'feeds ')))].join(', ')})` : ''].filter(Boolean).join(', ');
}

function agree(a: unknown[], b: unknown[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) s++;
  return s / a.length;
}

async function packedSize(path: string): Promise<number> {
  const out = `${path}.mcz`;
  const r = await packFile(path, out);
  await rm(out, { force: true });
  return r.packedSize;
}

function zstd19(path: string): number {
  const r = spawnSync('zstd', ['-19', '-q', '-c', path], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`zstd -19 failed: ${r.stderr}`);
  return r.stdout.length;
}

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  await ensureInputs();
  const charset = paddleCharset(await loadDictionary());
  const rows: Row[] = [];
  const curves: { model: string; color: string; points: { s: number; packed: number; agreement: number | null }[] }[] = [];
  const started = Date.now();
  for (const mc of MODELS) {
    if (only && !only.some((o) => mc.file.includes(o))) continue;
    const src = fixture('models', 'onnx', mc.file);
    const name = mc.file.replace(/\.onnx$/, '');
    const metric = mc.kind === 'vad' ? 'speech decisions (p>0.5) equal' : mc.kind === 'rec' ? 'decoded lines identical' : mc.kind === 'cls' ? 'argmax class equal' : 'no input set';
    const inputs = mc.inputs ? await loadInputsFile(join(INPUTS_DIR, `${mc.inputs}.safetensors`)) : undefined;
    const ref = inputs ? decisions(mc.kind, await run(src, inputs, !!mc.sequential), charset) : null;
    const measure = async (path: string) => (inputs && ref ? agree(ref, decisions(mc.kind, await run(path, inputs, !!mc.sequential), charset)) : null);
    const size0 = (await stat(src)).size;
    const packed0 = await packedSize(src);
    rows.push({ model: name, variant: 'FP32 (zstd -19 baseline)', size: size0, packed: zstd19(src), agreement: null, metric, target: null });
    rows.push({ model: name, variant: 'FP32', size: size0, packed: packed0, agreement: ref ? 1 : null, metric, target: null });
    if (ref && mc.kind === 'rec') {
      const texts = JSON.parse((await readSafetensorsFile(join(INPUTS_DIR, `${mc.inputs}.safetensors`))).metadata!['texts']!) as string[];
      rows[rows.length - 1]!.note = `FP32 reads ${(agree(ref, texts) * 100).toFixed(1)} % of the rendered lines exactly`;
    }
    if (ref && mc.kind === 'cls') {
      const labels = (JSON.parse((await readSafetensorsFile(join(INPUTS_DIR, `${mc.inputs}.safetensors`))).metadata!['labels']!) as string[]).map((l) => (l === '180' ? 1 : 0));
      rows[rows.length - 1]!.note = `FP32 orientation accuracy ${(agree(ref, labels) * 100).toFixed(1)} %`;
    }
    // INT8 plain per-channel (--plain: no sensitivity rule) — the scheme before the default rules
    const qp = join(OUT, `${name}.int8plain.onnx`);
    const rp0 = await quantizeFile(src, qp, { scheme: 'int8', granularity: 'per-channel', minElements: 1024, plain: true });
    rows.push({ model: name, variant: 'INT8 per-channel --plain', size: rp0.sizeAfter, packed: await packedSize(qp), agreement: await measure(qp), metric, target: mc.target ?? null });
    // INT8 default: per-channel + data-free sensitivity rules (src/optimize/quantize/sensitivity.ts)
    const q8 = join(OUT, `${name}.int8.onnx`);
    const rq = await quantizeFile(src, q8, { scheme: 'int8', granularity: 'per-channel', minElements: 1024 });
    const a8 = await measure(q8);
    const weightsBefore = rq.report.tensors.filter((t) => t.action !== 'kept').reduce((a, t) => a + t.bytesBefore, 0);
    const weightsAfter = rq.report.tensors.filter((t) => t.action !== 'kept').reduce((a, t) => a + t.bytesAfter, 0);
    rows.push({
      model: name, variant: 'INT8 default', size: rq.sizeAfter, packed: await packedSize(q8), agreement: a8, metric, target: mc.target ?? null,
      note: `${rq.quantized} tensors via ${rq.report.method}; quantized weights ${(weightsBefore / weightsAfter).toFixed(2)}x smaller; sensitive: ${sensitiveNote(rq.report.tensors)}`,
    });
    // INT8 per-block (one scale per output channel and block of ≤ 64 inputs)
    const qb = join(OUT, `${name}.int8blk.onnx`);
    const rb = await quantizeFile(src, qb, { scheme: 'int8', granularity: 'per-block', blockSize: 64, minElements: 1024 });
    rows.push({
      model: name, variant: 'INT8 per-block (64)', size: rb.sizeAfter, packed: await packedSize(qb), agreement: await measure(qb), metric, target: mc.target ?? null,
      note: `${rb.report.tensors.filter((t) => t.blockSize).length} of ${rb.quantized} tensors in blocks (others per-channel)`,
    });
    // INT8 calibrated where plain INT8 misses the target
    if (a8 !== null && mc.target && a8 < mc.target && mc.calib) {
      const qc = join(OUT, `${name}.int8cal.onnx`);
      const cal = await loadInputsFile(join(INPUTS_DIR, `${mc.calib}.safetensors`));
      const rc = await quantizeFile(src, qc, { scheme: 'int8', granularity: 'per-channel', minElements: 1024 }, { inputs: cal, sequential: !!mc.sequential, target: 0.995, maxRows: 32 });
      rows.push({
        model: name, variant: 'INT8 calibrated', size: rc.sizeAfter, packed: await packedSize(qc), agreement: await measure(qc), metric, target: mc.target,
        note: `FP16 for ${rc.calibration?.keptInFloat.map((k) => k.name).join(', ') || 'none'} (chosen on ${mc.calib}, ${rc.calibration?.evaluations} runs)`,
      });
    }
    // FP16
    const h = join(OUT, `${name}.fp16.onnx`);
    const rh = await quantizeFile(src, h, { scheme: 'fp16', granularity: 'per-channel', minElements: 1024 });
    rows.push({ model: name, variant: 'FP16', size: rh.sizeAfter, packed: await packedSize(h), agreement: await measure(h), metric, target: 0.999 });
    // pruning curve (FP32, global magnitude, unstructured)
    const curve = { model: name, color: mc.color, points: [{ s: 0, packed: packed0, agreement: ref ? 1 : null }] as { s: number; packed: number; agreement: number | null }[] };
    for (const s of SPARSITIES) {
      const p = join(OUT, `${name}.p${s * 100}.onnx`);
      const rp = await pruneFile(src, p, { sparsity: s, scope: 'global', pattern: 'unstructured', minElements: 1024 });
      const pk = await packedSize(p);
      const ag = await measure(p);
      curve.points.push({ s: s * 100, packed: pk, agreement: ag });
      rows.push({ model: name, variant: `pruned ${s * 100} %`, size: rp.sizeAfter, packed: pk, agreement: ag, metric, target: null });
      await rm(p, { force: true });
    }
    curves.push(curve);
    console.log(`${name}: done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  // table
  const fp32 = new Map(rows.filter((r) => r.variant === 'FP32').map((r) => [r.model, r]));
  const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(2)} %`);
  const header = ['model', 'variant', 'file', 'x smaller', 'packed', 'x smaller (vs FP32 file)', 'agreement with FP32', 'target', 'ok'];
  const body = rows.map((r) => {
    const f = fp32.get(r.model)!;
    const ok = r.target === null || r.agreement === null ? '' : r.agreement >= r.target ? 'yes' : 'NO';
    return [r.model, r.variant, formatBytes(r.size), (f.size / r.size).toFixed(2), formatBytes(r.packed), (f.size / r.packed).toFixed(2), pct(r.agreement), r.target === null || r.agreement === null ? '' : `≥ ${(r.target * 100).toFixed(1)} %`, ok];
  });
  const text = table(header, body);
  console.log('\n' + text);
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.model} ${r.variant}: ${r.note}`);
  console.log('\n' + notes.join('\n'));
  // size target on the weight-dominated recognizer
  for (const v of ['INT8 per-channel --plain', 'INT8 default', 'INT8 per-block (64)']) {
    const rec = rows.find((r) => r.model === 'ppocr_v4_rec' && r.variant === v);
    if (rec) console.log(`ppocr_v4_rec ${v}: ${fp32.get('ppocr_v4_rec')!.size} → ${rec.size} bytes (${(fp32.get('ppocr_v4_rec')!.size / rec.size).toFixed(2)}x file; ≤ 3.0 MB: ${rec.size <= 3_000_000 ? 'yes' : 'NO'})`);
  }
  // plot
  const xs = [0, 30, 50, 70, 90];
  const sizeSeries: Series[] = curves.map((c) => ({ label: c.model, color: c.color, points: c.points.map((p) => [p.s, (100 * p.packed) / c.points[0]!.packed] as [number, number]) }));
  const agreeSeries: Series[] = curves.filter((c) => c.points[0]!.agreement !== null).map((c) => ({ label: c.model, color: c.color, points: c.points.map((p) => [p.s, 100 * (p.agreement ?? NaN)] as [number, number]) }));
  const png = join(REPO_ROOT, 'docs', 'optimize-pruning.png');
  await renderPng(png, { title: 'Packed .mcz size vs magnitude pruning (FP32)', yLabel: '% of unpruned .mcz', yMin: 0, yMax: 100, series: sizeSeries }, { title: 'Agreement with the unpruned model', yLabel: 'agreement %', yMin: 0, yMax: 100, series: agreeSeries }, xs);
  console.log(`\nplot: ${png}`);
  const md = [
    '# bench:optimize results',
    '',
    `Generated by \`npm run bench:optimize\` on ${new Date().toISOString().slice(0, 10)} (onnxruntime-node CPU, graphOptimizationLevel basic, 1 thread).`,
    'Agreement = fraction of rows whose task decision equals the FP32 model\'s: Silero VAD speech/non-speech per frame (p > 0.5),',
    'PaddleOCR rec greedy-CTC text per line, cls class per image. Inputs: scripts/inputs/ (espeak-ng + sox; ImageMagick + DejaVu/WenQuanYi fonts).',
    '',
    '```',
    text,
    '```',
    '',
    ...notes,
    '',
    '![pruning curve](optimize-pruning.png)',
    '',
  ].join('\n');
  await writeFile(join(REPO_ROOT, 'docs', 'optimize-bench.md'), md);
  await writeFile(join(REPO_ROOT, 'bench', 'out', 'optimize.json'), JSON.stringify({ rows, curves }, null, 2));
  console.log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

await main();
