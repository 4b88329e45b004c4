/**
 * Seeded randomness for reproducible distillation runs: a 32-bit Mulberry32 generator, Fisher–Yates
 * shuffles and seeded train/validation splits. Pure; no tfjs (tfjs initializers get derived seeds).
 */

import { mulberry32 } from '../util/random.ts';

export { mulberry32 };

/** Shuffle `a` in place with `rand` (Fisher–Yates). */
export function shuffleInPlace<T>(a: T[] | Int32Array | Uint32Array, rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/** A seeded permutation of 0..n-1. */
export function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  shuffleInPlace(p, mulberry32(seed));
  return p;
}

/** Split 0..n-1 into (train, held) with round(n·fraction) held out, seeded. */
export function splitIndices(n: number, fraction: number, seed: number): { train: Int32Array; held: Int32Array } {
  const p = permutation(n, seed ^ 0x5eed);
  const h = Math.min(n - 1, Math.max(fraction > 0 ? 1 : 0, Math.round(n * fraction)));
  return { held: p.slice(0, h).sort(), train: p.slice(h).sort() };
}
