/**
 * Synthetic request traces for benchmarks and sanity checks on data we have not seen: Zipf
 * popularity over a catalogue with log-normal object sizes (heavy-tailed, like web and model
 * blobs), popularity drift (the ranking of a slice of the catalogue is reshuffled every `epoch`
 * requests, so new objects become hot and old ones cool down) and a fraction of one-hit wonders
 * (objects requested once, like scans or crawlers). Deterministic for a seed. Pure: builds a Trace
 * in memory, writes nothing.
 */
import { logNormal, mulberry32, zipfSampler } from './random.ts';
import type { Trace } from './trace.ts';

export interface SyntheticOptions {
  requests: number;
  objects: number;
  /** Zipf exponent (0.6–1.0 is typical for CDNs) */
  alpha?: number;
  /** median object size in bytes */
  medianSize?: number;
  /** sigma of log(size) */
  sizeSigma?: number;
  /** fraction of requests that go to a never-repeated object */
  oneHitFraction?: number;
  /** every this many requests, `driftFraction` of the ranks are reshuffled (0 = no drift) */
  epoch?: number;
  driftFraction?: number;
  /** number of regions to label requests with (a `region` column), 0 = none */
  regions?: number;
  seed?: number;
}

export function syntheticTrace(o: SyntheticOptions): Trace {
  const rng = mulberry32(o.seed ?? 1);
  const alpha = o.alpha ?? 0.8;
  const median = o.medianSize ?? 32_000;
  const sigma = o.sizeSigma ?? 1.5;
  const oneHit = o.oneHitFraction ?? 0.2;
  const epoch = o.epoch ?? 0;
  const drift = o.driftFraction ?? 0.1;
  const zipf = zipfSampler(o.objects, alpha, rng);
  // rank → object id; object sizes fixed per object
  const perm = new Int32Array(o.objects);
  for (let i = 0; i < o.objects; i++) perm[i] = i;
  for (let i = o.objects - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  const sizes = new Float64Array(o.objects);
  for (let i = 0; i < o.objects; i++) sizes[i] = Math.max(1, Math.round(logNormal(rng, median, sigma)));
  const n = o.requests;
  const obj = new Int32Array(n);
  const size = new Float64Array(n);
  const time = new Float64Array(n);
  const nreg = o.regions ?? 0;
  const region = nreg > 0 ? new Int32Array(n) : undefined;
  // dense ids: catalogue objects first (created lazily, in order of first request), then one-hit wonders
  const dense = new Int32Array(o.objects).fill(-1);
  const keys: string[] = [];
  let nextOneHit = 0;
  for (let i = 0; i < n; i++) {
    if (epoch > 0 && i > 0 && i % epoch === 0) {
      const swaps = Math.floor(o.objects * drift);
      for (let s = 0; s < swaps; s++) {
        const a = Math.floor(rng() * o.objects);
        const c = Math.floor(rng() * o.objects);
        [perm[a], perm[c]] = [perm[c]!, perm[a]!];
      }
    }
    if (region) region[i] = Math.floor(rng() * nreg);
    time[i] = i;
    if (rng() < oneHit) {
      obj[i] = keys.length;
      keys.push(`w${nextOneHit++}`);
      size[i] = Math.max(1, Math.round(logNormal(rng, median, sigma)));
    } else {
      const id = perm[zipf()]!;
      if (dense[id] === -1) {
        dense[id] = keys.length;
        keys.push(`o${id}`);
      }
      obj[i] = dense[id]!;
      size[i] = sizes[id]!;
    }
  }
  return {
    length: n,
    obj,
    size,
    time,
    keys,
    ...(region ? { region, regionNames: Array.from({ length: nreg }, (_, i) => `r${i}`) } : {}),
  };
}
