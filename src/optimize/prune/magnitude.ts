/**
 * Magnitude pruning math, independent of file formats: zero the smallest-|w| fraction of a tensor
 * (per-tensor scope) or of a set of tensors with one shared threshold (global scope), or keep the
 * 2 largest of every 4 consecutive values along the reduction axis (2:4 semi-structured sparsity,
 * as sparse tensor cores expect). Exactly round(s·n) values are zeroed (ties broken by position).
 * Pure: takes and returns Float32Arrays.
 */
import { inputError } from '../../errors.ts';

export type PruneScope = 'global' | 'per-tensor';
export type PrunePattern = 'unstructured' | '2:4';

export function checkSparsity(s: number): number {
  if (!Number.isFinite(s) || s < 0 || s >= 1) {
    throw inputError('BAD_SPARSITY', `--sparsity must be a fraction in [0, 1) (e.g. 0.5 for 50 %), got ${s}`, { sparsity: s });
  }
  return s;
}

export function zeroCount(data: Float32Array): number {
  let z = 0;
  for (const v of data) if (v === 0) z++;
  return z;
}

/**
 * The magnitude threshold t and how many values equal to t must also be zeroed so that exactly
 * `k` of the values in `tensors` fall (|w| < t all go, then the first `tieBudget` with |w| == t).
 */
export function magnitudeThreshold(tensors: Float32Array[], k: number): { t: number; tieBudget: number } {
  const total = tensors.reduce((a, d) => a + d.length, 0);
  if (k <= 0) return { t: -1, tieBudget: 0 };
  const abs = new Float32Array(total);
  let o = 0;
  for (const d of tensors) for (let i = 0; i < d.length; i++) abs[o++] = Math.abs(d[i]!);
  abs.sort();
  const t = abs[Math.min(k, total) - 1]!;
  // number strictly below t
  let lo = 0;
  let hi = total;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (abs[m]! < t) lo = m + 1;
    else hi = m;
  }
  return { t, tieBudget: Math.min(k, total) - lo };
}

/** Zero values with |w| < t, and |w| == t while the shared tie budget lasts. Returns zeros added. */
export function applyThreshold(data: Float32Array, t: number, budget: { left: number }): Float32Array {
  const out = new Float32Array(data);
  if (t < 0) return out;
  for (let i = 0; i < out.length; i++) {
    const a = Math.abs(out[i]!);
    if (a < t) out[i] = 0;
    else if (a === t && budget.left > 0) {
      out[i] = 0;
      budget.left--;
    }
  }
  return out;
}

export function prunePerTensor(data: Float32Array, sparsity: number): Float32Array {
  const k = Math.round(sparsity * data.length);
  const { t, tieBudget } = magnitudeThreshold([data], k);
  return applyThreshold(data, t, { left: tieBudget });
}

export function pruneGlobal(tensors: Float32Array[], sparsity: number): Float32Array[] {
  const total = tensors.reduce((a, d) => a + d.length, 0);
  const k = Math.round(sparsity * total);
  const { t, tieBudget } = magnitudeThreshold(tensors, k);
  const budget = { left: tieBudget };
  return tensors.map((d) => applyThreshold(d, t, budget));
}

/**
 * 2:4 along `axis`: in every group of 4 consecutive positions on that axis (other indices fixed),
 * keep the 2 largest |w|; a trailing group of r < 4 keeps ceil(r/2).
 */
export function prune2of4(data: Float32Array, shape: readonly number[], axis: number): Float32Array {
  const out = new Float32Array(data);
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  const R = shape[axis]!;
  const idx = [0, 0, 0, 0];
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      for (let r0 = 0; r0 < R; r0 += 4) {
        const g = Math.min(4, R - r0);
        for (let j = 0; j < g; j++) idx[j] = (o * R + r0 + j) * inner + i;
        const drop = Math.floor(g / 2);
        // order the group by |w| ascending (ties: earlier position first) and zero the `drop` smallest
        const ord = idx.slice(0, g).sort((a, b) => Math.abs(out[a]!) - Math.abs(out[b]!) || a - b);
        for (let j = 0; j < drop; j++) out[ord[j]!] = 0;
      }
    }
  }
  return out;
}
