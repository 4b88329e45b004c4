/**
 * Seeded pseudo-random numbers and distributions for synthetic traces and the world simulation
 * (mulberry32; Zipf by inverse CDF over a precomputed table; log-normal sizes). Deterministic for a
 * given seed; no I/O.
 */
export type Rng = () => number;

import { mulberry32 } from '../util/random.ts';

export { mulberry32 };

/** Sampler of ranks 0..n-1 with P(k) ∝ 1/(k+1)^alpha (binary search over the CDF). */
export function zipfSampler(n: number, alpha: number, rng: Rng): () => number {
  const cdf = new Float64Array(n);
  let s = 0;
  for (let k = 0; k < n; k++) {
    s += 1 / (k + 1) ** alpha;
    cdf[k] = s;
  }
  return () => {
    const x = rng() * s;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Zipf probabilities p[k] ∝ 1/(k+1)^alpha, normalized. */
export function zipfWeights(n: number, alpha: number): Float64Array {
  const w = new Float64Array(n);
  let s = 0;
  for (let k = 0; k < n; k++) s += w[k] = 1 / (k + 1) ** alpha;
  for (let k = 0; k < n; k++) w[k]! /= s;
  return w;
}

export function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** log-normal with the given median and sigma (of the underlying normal) */
export function logNormal(rng: Rng, median: number, sigma: number): number {
  return median * Math.exp(sigma * normal(rng));
}
