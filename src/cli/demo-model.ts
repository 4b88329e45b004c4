/**
 * The demo's second version: a deterministic "fine-tune" of a model — the float32 weight tensors
 * that make up the last ~10 % of its weight bytes are scaled by (1 + N(0, 1e-3)), everything else
 * (graph, other tensors) kept byte for byte, as when only the last layers are trained further.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { readModelLayout } from '../formats/index.ts';
import { gaussian, mulberry32 } from '../util/random.ts';

export async function makeFineTune(model: string, outDir: string, seed = 7, fraction = 0.1, sigma = 1e-3): Promise<string> {
  const bytes = new Uint8Array(await readFile(model));
  const layout = await readModelLayout(model);
  const weights = layout.tensors
    .filter((t) => t.dtype === 'F32' && t.file === undefined && t.length >= 64 && t.length % 4 === 0 && (t.extra?.['encoding'] ?? 'raw') === 'raw')
    .sort((a, b) => a.offset - b.offset);
  const total = weights.reduce((s, t) => s + t.length, 0);
  const gauss = gaussian(mulberry32(seed));
  let changed = 0;
  for (let i = weights.length - 1; i >= 0; i--) {
    const t = weights[i]!;
    if (changed + t.length > total * fraction) continue;
    const f = new Float32Array(bytes.slice(t.offset, t.offset + t.length).buffer);
    for (let k = 0; k < f.length; k++) f[k] = f[k]! * (1 + sigma * gauss());
    bytes.set(new Uint8Array(f.buffer), t.offset);
    changed += t.length;
  }
  await mkdir(outDir, { recursive: true });
  const out = join(outDir, basename(model));
  await writeFile(out, bytes);
  return out;
}
