/**
 * The trace-driven simulator core: replays a Trace through one or more simulated edges in-process,
 * each a PolicyCache with the same eviction policy code the real edge runs (or Belady's offline
 * optimum), and counts hits, bytes and origin egress. Requests are split across edges by the
 * trace's region column, or by a deterministic hash of the request index. Pure and synchronous:
 * no I/O, no clock, no randomness beyond seeded hashes — the same inputs give the same result.
 */
import { createPolicy } from '../cdn/eviction/index.ts';
import { PolicyCache } from '../cdn/eviction/cache.ts';
import type { EvictionPolicy } from '../cdn/eviction/policy.ts';
import { BeladyPolicy } from './belady.ts';
import { planPlacement, type PlanDemand } from '../cdn/placement/planner.ts';
import { nextUseIndex, type Trace } from './trace.ts';

export interface SimOptions {
  /** policy name from createPolicy, or 'belady' */
  policy: string;
  /** byte budget of EACH edge */
  capacityBytes: number;
  /** number of simulated edges (default: the trace's regions, else 1) */
  regions?: number;
  /** precomputed region assignment (from assignRegions), to share between runs */
  regionOf?: Int32Array;
  /** precomputed next-use index for Belady (from nextUseIndex with the same regionOf) */
  nextUse?: Float64Array;
  /** on a miss, fetch from a sibling edge that holds the object before going to the origin */
  tiered?: boolean;
  /** demand-based placement: periodically plan and pin/prefetch each edge's most-wanted objects */
  placement?: PlacementSimOptions;
}

export interface PlacementSimOptions {
  /** share of each edge's budget the planner may pin (default 0.3) */
  pinFraction?: number;
  /** requests between two plans (default: trace length / 50, at least 1000) */
  epoch?: number;
  /** planner's weight of global popularity (default 0.3) */
  spread?: number;
  /** objects expected fewer times than this per epoch stay lazily loaded (default 2) */
  minExpectedRequests?: number;
}

export interface SimResult {
  policy: string;
  capacityBytes: number;
  regions: number;
  requests: number;
  hits: number;
  bytesRequested: number;
  bytesHit: number;
  /** bytes fetched from the origin (misses not served by a sibling) */
  originBytes: number;
  /** bytes fetched from sibling edges (tiered fetch) */
  siblingBytes: number;
  /** bytes fetched ahead of demand by placement (included in originBytes / siblingBytes) */
  prefetchBytes: number;
  objectHitRatio: number;
  byteHitRatio: number;
  objectMissRatio: number;
  byteMissRatio: number;
}

/** 32-bit integer hash (a splitmix/murmur finalizer): deterministic request → region split. */
export function hash32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Region of each request: the trace's region column modulo n, else a hash of the request index. */
export function assignRegions(t: Trace, n: number): Int32Array {
  const r = new Int32Array(t.length);
  if (n <= 1) return r;
  if (t.region) for (let i = 0; i < t.length; i++) r[i] = t.region[i]! % n;
  else for (let i = 0; i < t.length; i++) r[i] = hash32(i + 0x9e3779b9) % n;
  return r;
}

/** Next-use index per region stream (the future one edge sees), Infinity when never again. */
export function nextUseByRegion(t: Trace, regionOf: Int32Array, regions: number): Float64Array {
  if (regions <= 1) return nextUseIndex(t);
  const next = new Float64Array(t.length);
  const last = new Map<number, number>();
  const nobj = t.keys.length;
  for (let i = t.length - 1; i >= 0; i--) {
    const k = regionOf[i]! * nobj + t.obj[i]!;
    next[i] = last.get(k) ?? Infinity;
    last.set(k, i);
  }
  return next;
}

export function defaultRegions(t: Trace, regions?: number): number {
  return regions ?? (t.regionNames ? Math.max(1, t.regionNames.length) : 1);
}

export function simulate(t: Trace, opts: SimOptions): SimResult {
  const regions = defaultRegions(t, opts.regions);
  const regionOf = opts.regionOf ?? assignRegions(t, regions);
  let nextUse: Float64Array | undefined;
  if (opts.policy === 'belady') nextUse = opts.nextUse ?? nextUseByRegion(t, regionOf, regions);
  const caches: PolicyCache[] = [];
  for (let r = 0; r < regions; r++) {
    const p: EvictionPolicy = nextUse ? new BeladyPolicy(opts.capacityBytes, nextUse) : createPolicy(opts.policy, opts.capacityBytes);
    caches.push(new PolicyCache(p, opts.capacityBytes));
  }
  const { obj, size, keys } = t;
  let hits = 0;
  let bytesRequested = 0;
  let bytesHit = 0;
  let originBytes = 0;
  let siblingBytes = 0;
  const tiered = opts.tiered === true && regions > 1;
  let prefetchBytes = 0;
  /** fetch for a miss or a prefetch: a sibling that has it (tiered), else the origin */
  const fetch = (r: number, key: string, s: number): void => {
    if (tiered) {
      for (let j = 1; j < regions; j++) {
        if (caches[(r + j) % regions]!.sizeOf(key) === s) {
          siblingBytes += s;
          return;
        }
      }
    }
    originBytes += s;
  };
  // placement state: decayed demand per region (object index → count) and the current pins
  const pl = opts.placement && !nextUse ? opts.placement : undefined;
  const epoch = pl ? Math.max(1000, pl.epoch ?? Math.floor(t.length / 50)) : Infinity;
  const demand = pl ? Array.from({ length: regions }, () => new Map<number, number>()) : [];
  const lastSize = pl ? new Float64Array(keys.length) : new Float64Array(0);
  let pinned: Set<string>[] = pl ? Array.from({ length: regions }, () => new Set<string>()) : [];
  const replan = (now: number): void => {
    const items: PlanDemand[] = [];
    for (let r = 0; r < regions; r++) {
      for (const [o, c] of demand[r]!) {
        if (c < 0.05) demand[r]!.delete(o);
        else if (c >= 0.5) items.push({ region: `r${r}`, model: keys[o]!, version: '0', size: lastSize[o]!, requests: c });
      }
    }
    const plan = planPlacement(
      Array.from({ length: regions }, (_, r) => ({ name: `r${r}`, capacityBytes: opts.capacityBytes * (pl!.pinFraction ?? 0.3) })),
      items,
      { spread: pl!.spread ?? 0.3, minExpectedRequests: pl!.minExpectedRequests ?? 2 },
    );
    const want: Set<string>[] = Array.from({ length: regions }, () => new Set<string>());
    for (const p of plan.placements) want[Number(p.region.slice(1))]!.add(p.model);
    for (let r = 0; r < regions; r++) {
      const c = caches[r]!;
      for (const k of pinned[r]!) if (!want[r]!.has(k)) c.unpin(k);
      for (const k of want[r]!) {
        if (!c.has(k)) {
          const sz = lastSize[keyIndex.get(k)!]!;
          if (!c.insert(k, sz, now, true)) continue;
          prefetchBytes += sz;
          fetch(r, k, sz);
        }
        c.pin(k);
      }
    }
    pinned = want;
    for (const m of demand) for (const [o, v] of m) m.set(o, v / 2); // half-life: one epoch
  };
  const keyIndex = new Map<string, number>();
  if (pl) keys.forEach((k, i) => keyIndex.set(k, i));
  for (let i = 0; i < t.length; i++) {
    const key = keys[obj[i]!]!;
    const s = size[i]!;
    const r = regionOf[i]!;
    if (pl) {
      if (i > 0 && i % epoch === 0) replan(i);
      const o = obj[i]!;
      demand[r]!.set(o, (demand[r]!.get(o) ?? 0) + 1);
      lastSize[o] = s;
    }
    bytesRequested += s;
    if (caches[r]!.access(key, s, i) === 'hit') {
      hits++;
      bytesHit += s;
      continue;
    }
    fetch(r, key, s);
  }
  const n = t.length;
  return {
    policy: opts.policy,
    capacityBytes: opts.capacityBytes,
    regions,
    requests: n,
    hits,
    bytesRequested,
    bytesHit,
    originBytes,
    siblingBytes,
    prefetchBytes,
    objectHitRatio: n ? hits / n : 0,
    byteHitRatio: bytesRequested ? bytesHit / bytesRequested : 0,
    objectMissRatio: n ? 1 - hits / n : 0,
    byteMissRatio: bytesRequested ? 1 - bytesHit / bytesRequested : 0,
  };
}
