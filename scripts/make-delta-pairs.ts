/**
 * Derive "continued training" version pairs from a real model for the delta benchmark: every float32
 * weight × (1 + N(0, σ)) for σ = 1e-4, 1e-3, 1e-2, and one pair where only the last 10 % of the
 * weights change with σ = 1e-3 ("fine-tune the last layers"): walking weight tensors (float32, ≥ 2
 * elements) from the end of the file, each one is changed if it still fits in a budget of 10 % of all
 * weight bytes. Counting tensors instead would pick exporter helper scalars (ppocr's last 10 % of
 * tensors are 124 bytes) or, among real weights, 36 % of the bytes; a single tensor larger than the
 * budget (ppocr's 3.2 MB classifier head, 29.5 % alone) is skipped. Seeded (mulberry32 + Box–Muller), so the files are
 * the same on every run. Tensor byte ranges come from readModelLayout; the container bytes are left
 * untouched, so each NEW has OLD's exact layout. Writes only into the output folder (gitignored).
 *
 *   node --import tsx scripts/make-delta-pairs.ts [--model PATH] [--out .tmp/pairs] [--seed 1]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readModelLayout } from '../src/formats/index.ts';
import type { TensorInfo } from '../src/formats/types.ts';
import { gaussian, prng } from '../src/delta/test-util.ts';
import { fixture } from '../test/fixtures.ts';

export interface DerivedPair {
  name: string;
  old: string;
  new: string;
  sigma: number;
  changedTensors: number;
  changedBytes: number;
}

function perturbable(t: TensorInfo): boolean {
  const enc = t.extra?.['encoding'];
  return t.dtype === 'F32' && t.file === undefined && (enc === undefined || enc === 'raw') && t.length % 4 === 0;
}

export async function makeDeltaPairs(model: string, outDir: string, seed = 1): Promise<DerivedPair[]> {
  const old = new Uint8Array(await readFile(model));
  const layout = await readModelLayout(model);
  const tensors = layout.tensors.filter(perturbable).sort((a, b) => a.offset - b.offset);
  await mkdir(outDir, { recursive: true });
  const stem = basename(model).replace(/\.[^.]+$/, '');
  const ext = basename(model).slice(stem.length);
  const weights = tensors.filter((t) => t.length >= 8);
  const total = weights.reduce((a, t) => a + t.length, 0);
  const lastTenPct: TensorInfo[] = [];
  for (let i = weights.length - 1, acc = 0; i >= 0; i--) {
    if (acc + weights[i].length > total * 0.1) continue;
    acc += weights[i].length;
    lastTenPct.push(weights[i]);
  }
  const specs: { name: string; sigma: number; change: TensorInfo[] }[] = [
    { name: `${stem}_sigma1e-4`, sigma: 1e-4, change: tensors },
    { name: `${stem}_sigma1e-3`, sigma: 1e-3, change: tensors },
    { name: `${stem}_sigma1e-2`, sigma: 1e-2, change: tensors },
    { name: `${stem}_last10pct_sigma1e-3`, sigma: 1e-3, change: lastTenPct.reverse() },
  ];
  const pairs: DerivedPair[] = [];
  for (const [i, s] of specs.entries()) {
    const g = gaussian(prng(seed * 1000 + i));
    const nw = Uint8Array.from(old);
    let changedBytes = 0;
    const changed = s.change;
    for (const t of changed) {
      const f = new Float32Array(nw.slice(t.offset, t.offset + t.length).buffer);
      for (let k = 0; k < f.length; k++) f[k] = f[k] * (1 + s.sigma * g());
      nw.set(new Uint8Array(f.buffer), t.offset);
      changedBytes += t.length;
    }
    const path = join(outDir, `${s.name}${ext}`);
    await writeFile(path, nw);
    pairs.push({ name: s.name, old: resolve(model), new: resolve(path), sigma: s.sigma, changedTensors: changed.length, changedBytes });
  }
  await writeFile(join(outDir, `${stem}.pairs.json`), JSON.stringify(pairs, null, 2) + '\n');
  return pairs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { model: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' } } });
  const model = values.model ?? fixture('models', 'onnx', 'ppocr_v4_rec.onnx');
  const pairs = await makeDeltaPairs(model, values.out ?? '.tmp/pairs', Number(values.seed ?? 1));
  for (const p of pairs) process.stdout.write(`${p.name}: ${p.changedTensors} tensors, ${p.changedBytes} bytes changed → ${p.new}\n`);
}
