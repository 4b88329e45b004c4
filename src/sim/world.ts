/**
 * "Internet scale, on paper — and in money" (issue 7 §5): a simulated world of R regions × M models
 * with Zipf popularity (plus per-region taste), diurnal demand from the real JEDI hourly curves
 * (a US and an EU CDN cluster; each region gets a curve shifted to its time zone), and a release
 * schedule (new versions staged, then deployed hours later). Every region runs a real edge cache
 * index (PolicyCache with the default eviction policy); optional features are switched per
 * scenario: packed (compressed) artifacts, delta patches for updating clients, prefetch of staged
 * versions inside each edge's learned off-peak window under a token-bucket cap, and demand-based
 * placement (the planner over aggregated demand reports) with tiered fetch from a sibling edge in
 * the same continent. To stay fast the world is SPATIALLY sampled (as in SHARDS, Waldspurger et
 * al. 2015): every k-th model by popularity rank is simulated with its full request rate, and
 * every cache, pin budget and bandwidth cap is scaled by the same factor, so hit ratios carry over
 * and bytes and money are scaled back up by k.
 * Pure and deterministic for a seed; the caller renders tables/plots and writes files.
 */
import { DEFAULT_POLICY, createPolicy } from '../cdn/eviction/index.ts';
import { PolicyCache } from '../cdn/eviction/cache.ts';
import { DemandAggregator, HOUR_MS } from '../cdn/placement/demand.ts';
import { learnOffPeak } from '../cdn/placement/offpeak.ts';
import { planPlacement } from '../cdn/placement/planner.ts';
import { predictPrefetch } from '../cdn/placement/predict.ts';
import { TokenBucket } from '../cdn/placement/token-bucket.ts';
import { cost, type CostBreakdown, type PriceTable } from './prices.ts';
import { logNormal, mulberry32, normal, zipfWeights, type Rng } from './random.ts';
import { inputError } from '../errors.ts';

export interface WorldOptions {
  regions: number;
  models: number;
  hours: number;
  /** spatial sampling: simulate every k-th model by popularity rank (k = 1/modelSample) with the full request rate of those models */
  modelSample: number;
  /** real downloads per day in the whole world (all models, all regions) */
  realDownloadsPerDay: number;
  zipfAlpha: number;
  /** sigma of the per-region log-normal taste factor */
  regionalTaste: number;
  medianModelBytes: number;
  modelSizeSigma: number;
  /** edge cache per region as a fraction of the whole catalogue's bytes */
  edgeCacheFraction: number;
  /** share of an edge cache that placement may pin */
  pinFraction: number;
  /** share of an edge cache that staged (prefetched, not yet deployed) versions may occupy */
  stagingFraction: number;
  /** packed size / raw size */
  compressionRatio: number;
  /** patch size / packed full size */
  patchRatio: number;
  /** share of post-deploy requests from clients updating from the previous version */
  updateFraction: number;
  /** versions released per model per day: popular models (top 1 %) and the rest */
  releasesPerDayTop: number;
  releasesPerDayRest: number;
  /** hours between staging and deploying a version (first wave) */
  deployDelayHours: number;
  /** rollout in two waves: continent 0 first ("canary"), every other region this many hours later */
  rolloutHours: number;
  /** prefetch bandwidth cap per edge (bytes/s, real-world bytes) */
  prefetchRate: number;
  offPeakHours: number;
  /** planner cadence */
  planEveryHours: number;
  /** number of continents (tiered-fetch groups) */
  continents: number;
  seed: number;
}

export const DEFAULT_WORLD: WorldOptions = {
  regions: 100,
  models: 10_000,
  hours: 48,
  modelSample: 0.1,
  realDownloadsPerDay: 2_000_000,
  zipfAlpha: 0.9,
  regionalTaste: 0.8,
  medianModelBytes: 300e6,
  modelSizeSigma: 1.2,
  edgeCacheFraction: 0.05,
  pinFraction: 0.3,
  stagingFraction: 0.15,
  compressionRatio: 0.85,
  patchRatio: 0.4,
  updateFraction: 0.6,
  releasesPerDayTop: 0.5,
  releasesPerDayRest: 0.03,
  deployDelayHours: 24,
  rolloutHours: 12,
  prefetchRate: 200e6,
  offPeakHours: 5,
  planEveryHours: 6,
  continents: 8,
  seed: 42,
};

export interface Scenario {
  name: string;
  /** legend label */
  short: string;
  compression: boolean;
  deltas: boolean;
  /** prefetch explicitly staged versions */
  prefetch: boolean;
  /** predictive prefetch without staging: a version deployed in the first wave is prefetched by second-wave edges whose clients use the model */
  predictive?: boolean;
  placement: boolean;
}

export const SCENARIOS: Scenario[] = [
  { name: 'raw files, lazy edge cache', short: 'raw, lazy', compression: false, deltas: false, prefetch: false, placement: false },
  { name: '+ compression (packed)', short: 'packed', compression: true, deltas: false, prefetch: false, placement: false },
  { name: '+ delta patches', short: 'packed+deltas', compression: true, deltas: true, prefetch: false, placement: false },
  { name: '+ staged prefetch (off-peak)', short: '+prefetch', compression: true, deltas: true, prefetch: true, placement: false },
  { name: '+ predictive prefetch (no staging)', short: '+predictive', compression: true, deltas: true, prefetch: false, predictive: true, placement: false },
  { name: '+ placement & tiered fetch', short: '+placement', compression: true, deltas: true, prefetch: false, placement: true },
  { name: 'all: prefetch + placement', short: 'all', compression: true, deltas: true, prefetch: true, predictive: true, placement: true },
];

/** JEDI hourly curves (24 UTC hours) for the US and EU clusters, and the clusters' UTC offsets. */
export interface DiurnalInput {
  us: number[];
  eu: number[];
  usOffset: number;
  euOffset: number;
}

/** Parse jedi_hourly_requests_us_eu.csv: takes the download class (d-1 = US, d-2 = EU). */
export function parseJedi(text: string, column = 'd'): DiurnalInput {
  const lines = text.trim().split(/\r?\n/);
  const header = lines[0]!.split(',');
  const ui = header.indexOf(`${column}-1`);
  const ei = header.indexOf(`${column}-2`);
  if (ui < 0 || ei < 0) throw inputError('BAD_DIURNAL', `JEDI csv has no ${column}-1/${column}-2 columns`);
  const us = new Array<number>(24).fill(0);
  const eu = new Array<number>(24).fill(0);
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i]!.split(',');
    const h = Number(f[0]);
    if (!(Number.isInteger(h) && h >= 0)) throw inputError('BAD_DIURNAL', `JEDI csv line ${i + 1}: bad hour '${f[0]}'`, { line: i + 1 });
    const u = Number(f[ui]);
    const e = Number(f[ei]);
    if (!(u >= 0 && e >= 0)) throw inputError('BAD_DIURNAL', `JEDI csv line ${i + 1}: request counts must be non-negative numbers`, { line: i + 1 });
    us[h % 24]! += u;
    eu[h % 24]! += e;
  }
  if (!us.some((v) => v > 0) || !eu.some((v) => v > 0)) throw inputError('BAD_DIURNAL', `JEDI csv: the ${column}-1 and ${column}-2 columns need some non-zero hours`);
  // the fixture covers hours 0..21; fill missing hours by linear interpolation around the clock
  for (const arr of [us, eu]) {
    for (let h = 0; h < 24; h++) {
      if (arr[h]! > 0) continue;
      let a = h - 1;
      while (arr[(a + 24) % 24]! <= 0) a--;
      let b = h + 1;
      while (arr[b % 24]! <= 0) b++;
      const va = arr[(a + 24) % 24]!;
      const vb = arr[b % 24]!;
      arr[h] = va + ((vb - va) * (h - a)) / (b - a);
    }
  }
  // US metro cluster ≈ Pacific time (UTC−8), EU ≈ Central European (UTC+1): both then peak late morning local
  return { us, eu, usOffset: -8, euOffset: 1 };
}

/** A local-time demand shape (mean 1) averaged from the two clusters' curves. */
export function localShape(d: DiurnalInput): Float64Array {
  const mu = d.us.reduce((a, b) => a + b, 0) / 24;
  const me = d.eu.reduce((a, b) => a + b, 0) / 24;
  const s = new Float64Array(24);
  for (let hl = 0; hl < 24; hl++) {
    const u = d.us[(((hl - d.usOffset) % 24) + 24) % 24]! / mu;
    const e = d.eu[(((hl - d.euOffset) % 24) + 24) % 24]! / me;
    s[hl] = (u + e) / 2;
  }
  return s;
}

export interface HourPoint {
  hour: number;
  originBytes: number;
  interRegionBytes: number;
  prefetchBytes: number;
  requestedBytes: number;
  hitBytes: number;
}

export interface ScenarioResult {
  scenario: Scenario;
  requests: number;
  /** real-world bytes (sample × scale) */
  requestedBytes: number;
  originBytes: number;
  interRegionBytes: number;
  prefetchBytes: number;
  edgeByteHitRatio: number;
  peakOriginBytesPerHour: number;
  /** share of origin egress that happened inside the receiving edge's off-peak window */
  originOffPeakShare: number;
  /** demand-weighted share of (region, deploy) pairs whose new version was already at the edge at deploy time */
  deployReadiness: number;
  deploys: number;
  cost: CostBreakdown;
  hourly: HourPoint[];
}

export interface WorldResult {
  options: WorldOptions;
  prices: PriceTable;
  scale: number;
  catalogueBytes: number;
  edgeCacheBytes: number;
  sampledRequests: number;
  scenarios: ScenarioResult[];
}

interface Model {
  raw: number;
  version: number;
  /** hours at which a new version is staged */
  stages: number[];
}

interface World {
  /** the sampled models (every k-th popularity rank) */
  models: Model[];
  /** 1/k: the sampled models stand for their strata; requests, caches and caps scale by this */
  sampleShare: number;
  regionCdf: Float64Array[];
  regionWeight: Float64Array;
  regionOffset: Int32Array;
  continent: Int32Array;
  shape: Float64Array;
  sampled: number;
}

function buildWorld(o: WorldOptions, diurnal: DiurnalInput): World {
  const rng = mulberry32(o.seed);
  const pop = zipfWeights(o.models, o.zipfAlpha);
  const models: Model[] = [];
  const top = Math.max(1, Math.floor(o.models / 100));
  const k = Math.max(1, Math.round(1 / Math.min(1, Math.max(1e-6, o.modelSample))));
  // stratified sampling: one model per stratum of k consecutive ranks, carrying the stratum's mean popularity
  const ranks: number[] = [];
  const stratumPop: number[] = [];
  for (let m = 0; m < o.models; m += k) {
    ranks.push(m);
    let p = 0;
    for (let j = m; j < Math.min(o.models, m + k); j++) p += pop[j]!;
    stratumPop.push(p);
  }
  const sampleShare = 1 / k;
  for (const m of ranks) {
    const raw = Math.min(20e9, Math.max(5e6, logNormal(rng, o.medianModelBytes, o.modelSizeSigma)));
    const perDay = m < top ? o.releasesPerDayTop : o.releasesPerDayRest;
    const stages: number[] = [];
    // Poisson process of releases over the run (staged at that hour, deployed deployDelay later)
    let t = -Math.log(Math.max(rng(), 1e-12)) * (24 / perDay);
    while (t < o.hours) {
      stages.push(Math.floor(t));
      t += -Math.log(Math.max(rng(), 1e-12)) * (24 / perDay);
    }
    models.push({ raw, version: 1, stages });
  }
  // regions: UTC offsets spread over −8..+9 (most traffic in the Americas, Europe, Asia), Zipf-ish sizes
  const regionOffset = new Int32Array(o.regions);
  const regionWeight = new Float64Array(o.regions);
  const continent = new Int32Array(o.regions);
  let wsum = 0;
  for (let r = 0; r < o.regions; r++) {
    regionOffset[r] = Math.round(-8 + (17 * r) / Math.max(1, o.regions - 1));
    regionWeight[r] = 1 / (1 + (r * 7919) % o.regions) ** 0.5;
    wsum += regionWeight[r]!;
    continent[r] = Math.min(o.continents - 1, Math.floor((r * o.continents) / o.regions));
  }
  for (let r = 0; r < o.regions; r++) regionWeight[r]! /= wsum / o.regions; // mean 1
  const regionCdf: Float64Array[] = [];
  for (let r = 0; r < o.regions; r++) {
    const cdf = new Float64Array(ranks.length);
    let s = 0;
    ranks.forEach((_m, i) => {
      s += stratumPop[i]! * Math.exp(o.regionalTaste * normal(rng) - (o.regionalTaste * o.regionalTaste) / 2);
      cdf[i] = s;
    });
    for (let i = 0; i < ranks.length; i++) cdf[i]! /= s;
    regionCdf.push(cdf);
  }
  return { models, sampleShare, regionCdf, regionWeight, regionOffset, continent, shape: localShape(diurnal), sampled: 0 };
}

function sample(cdf: Float64Array, x: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function runScenario(o: WorldOptions, w: World, sc: Scenario, prices: PriceTable, scale: number, edgeCacheBytes: number): ScenarioResult {
  const rng: Rng = mulberry32(o.seed * 7 + 1); // same request stream in every scenario
  const R = o.regions;
  const perRegionHour = (o.realDownloadsPerDay * w.sampleShare) / 24 / R;
  const fullSize = (m: number) => w.models[m]!.raw * (sc.compression ? o.compressionRatio : 1);
  const caches = Array.from({ length: R }, () => new PolicyCache(createPolicy(DEFAULT_POLICY, edgeCacheBytes / scale), edgeCacheBytes / scale));
  // per rollout wave: the deployed version of every model
  const version = [w.models.map(() => 1), w.models.map(() => 1)];
  const released = w.models.map(() => 1);
  const waveOf = (r: number) => (w.continent[r] === 0 ? 0 : 1);
  const firstWave = Array.from({ length: R }, (_, r) => r).filter((r) => waveOf(r) === 0).map((r) => `r${r}`);
  const stagesAt = new Map<number, number[]>();
  w.models.forEach((m, i) => {
    for (const s of m.stages) stagesAt.set(s, [...(stagesAt.get(s) ?? []), i]);
  });
  const deploysAt = new Map<number, { m: number; v: number; wave: number }[]>();
  // per region: demand in the last 24 h per model (for "who needs the staged version") and hour-of-day profile
  const recent = Array.from({ length: R }, () => new Map<number, number[]>());
  const profile = Array.from({ length: R }, () => new Float64Array(24));
  const agg = sc.placement ? new DemandAggregator({ halfLifeMs: 24 * HOUR_MS, windowMs: 3 * 24 * HOUR_MS }) : undefined;
  const queue: { key: string; size: number; until: number; staged: boolean; demand: number }[][] = Array.from({ length: R }, () => []);
  const stagedBytes = new Float64Array(R);
  const stagingBudget = (edgeCacheBytes / scale) * o.stagingFraction;
  const buckets = Array.from({ length: R }, () => new TokenBucket(o.prefetchRate / scale, (o.prefetchRate / scale) * 3600));
  const pinnedUntil: Map<string, number>[] = Array.from({ length: R }, () => new Map());
  const placed: Set<string>[] = Array.from({ length: R }, () => new Set());
  const hourly: HourPoint[] = [];
  let requests = 0;
  let reqBytes = 0;
  let hitBytes = 0;
  let origin = 0;
  let inter = 0;
  let prefetched = 0;
  let originOffPeak = 0;
  let readyW = 0;
  let readyTotal = 0;
  let deploys = 0;
  const offPeakOf = (r: number, h: number): boolean => {
    // learned from the edge's own history after a day, else a configured 01:00–06:00 local default
    const utcHour = h % 24;
    let start: number;
    if (h >= 24) start = learnOffPeak(profile[r]!, o.offPeakHours).startMin / 60;
    else start = (((1 - w.regionOffset[r]!) % 24) + 24) % 24;
    return (utcHour - start + 24) % 24 < o.offPeakHours;
  };
  const fetch = (r: number, key: string, size: number, isOffPeak: boolean, pt: HourPoint): void => {
    if (sc.placement) {
      for (let j = 0; j < R; j++) {
        if (j !== r && w.continent[j] === w.continent[r] && caches[j]!.sizeOf(key) === size) {
          inter += size;
          pt.interRegionBytes += size;
          return;
        }
      }
    }
    origin += size;
    pt.originBytes += size;
    if (isOffPeak) originOffPeak += size;
  };
  const keyOf = (m: number, v: number) => `m${m}@${v}`;
  const patchKey = (m: number, v: number) => `m${m}@p${v - 1}-${v}`; // the patch v−1 → v
  for (let h = 0; h < o.hours; h++) {
    const now = h * 3600;
    const pt: HourPoint = { hour: h, originBytes: 0, interRegionBytes: 0, prefetchBytes: 0, requestedBytes: 0, hitBytes: 0 };
    const offPeak = Array.from({ length: R }, (_, r) => offPeakOf(r, h));
    // staging: queue prefetch of the new version (and its patch) at edges whose clients used the model in the last day
    const enqueue = (r: number, m: number, v: number, until: number): void => {
      // predicted need: the edge's clients asked for the model at least twice in the last day
      const demand = demandCount(recent[r]!, m, h);
      if (demand < 2) return;
      queue[r]!.push({ key: keyOf(m, v), size: fullSize(m), until, staged: true, demand });
      if (sc.deltas) queue[r]!.push({ key: patchKey(m, v), size: fullSize(m) * o.patchRatio, until, staged: true, demand });
      queue[r]!.sort((a, b) => b.demand - a.demand); // most-wanted first, so the budget goes where clients are
    };
    for (const m of stagesAt.get(h) ?? []) {
      const v = ++released[m]!;
      const dh = h + o.deployDelayHours;
      deploysAt.set(dh, [...(deploysAt.get(dh) ?? []), { m, v, wave: 0 }]);
      deploysAt.set(dh + o.rolloutHours, [...(deploysAt.get(dh + o.rolloutHours) ?? []), { m, v, wave: 1 }]);
      if (!sc.prefetch) continue;
      for (let r = 0; r < R; r++) enqueue(r, m, v, dh + (waveOf(r) === 0 ? 0 : o.rolloutHours));
    }
    // deploys: flip the channel for the wave; measure readiness at its edges whose clients use the model
    for (const { m, v, wave } of deploysAt.get(h) ?? []) {
      version[wave]![m] = v;
      if (wave === 0) deploys++;
      for (let r = 0; r < R; r++) {
        if (waveOf(r) !== wave) continue;
        const d = demandCount(recent[r]!, m, h);
        if (d === 0) continue;
        readyTotal += d;
        if (caches[r]!.has(keyOf(m, v))) readyW += d;
      }
      // predictive prefetch: the first wave has it, so second-wave edges whose clients use the model
      // fetch it ahead — decided by the same predictor an edge runs (src/cdn/placement/predict.ts)
      if (sc.predictive && wave === 0) {
        const dep = {
          model: `m${m}`,
          version: String(v),
          regions: firstWave,
          totalRegions: R,
          size: fullSize(m),
          ...(sc.deltas ? { patches: { [String(v - 1)]: fullSize(m) * o.patchRatio } } : {}),
        };
        for (let r = 0; r < R; r++) {
          if (waveOf(r) !== 1) continue;
          const demand = demandCount(recent[r]!, m, h);
          const items = predictPrefetch(`r${r}`, [{ model: dep.model, version: String(version[1]![m]), requests: demand }], [dep]);
          for (const it of items) {
            const key = it.kind === 'full' ? keyOf(m, v) : patchKey(m, v);
            if (!caches[r]!.has(key)) queue[r]!.push({ key, size: it.size, until: h + o.rolloutHours, staged: true, demand: it.priority });
          }
          if (items.length) queue[r]!.sort((a, b) => b.demand - a.demand);
        }
      }
    }
    // placement: plan from aggregated demand, pin and queue what is missing
    if (agg && h > 0 && h % o.planEveryHours === 0) {
      const snap = agg.snapshot(h * HOUR_MS);
      const regions = Array.from({ length: R }, (_, r) => ({ name: `r${r}`, capacityBytes: (edgeCacheBytes / scale) * o.pinFraction }));
      const plan = planPlacement(
        regions,
        snap.map((e) => ({ region: e.region, model: e.model, version: e.version, size: e.size, requests: e.decayedRequests })),
        { spread: 0.3, minExpectedRequests: 2 },
      );
      const want: Set<string>[] = Array.from({ length: R }, () => new Set());
      for (const p of plan.placements) want[Number(p.region.slice(1))]!.add(`${p.model}@${p.version}`);
      for (let r = 0; r < R; r++) {
        for (const k of placed[r]!) if (!want[r]!.has(k)) caches[r]!.unpin(k);
        for (const k of want[r]!) {
          if (caches[r]!.has(k)) caches[r]!.pin(k);
          else {
            const m = Number(k.slice(1, k.indexOf('@')));
            const size = k.includes('@p') ? fullSize(m) * o.patchRatio : fullSize(m);
            queue[r]!.push({ key: k, size, until: Infinity, staged: false, demand: Infinity });
          }
        }
        placed[r] = want[r]!;
      }
    }
    // prefetch inside each edge's off-peak window, under its token bucket
    if (sc.prefetch || sc.predictive || sc.placement) {
      for (let r = 0; r < R; r++) {
        if (!offPeak[r] || queue[r]!.length === 0) continue;
        const q = queue[r]!;
        const b = buckets[r]!;
        while (q.length > 0) {
          const it = q[0]!;
          if (it.until <= h || caches[r]!.has(it.key)) {
            q.shift();
            continue;
          }
          if (it.staged && stagedBytes[r]! + it.size > stagingBudget) {
            q.shift(); // over the staging budget: this one will be lazily loaded after deploy
            continue;
          }
          if (b.available(now * 1000) < it.size) break;
          b.take(it.size, now * 1000);
          q.shift();
          if (caches[r]!.insert(it.key, it.size, requests, true)) {
            caches[r]!.pin(it.key);
            if (it.staged) {
              pinnedUntil[r]!.set(it.key, it.until);
              stagedBytes[r]! += it.size;
            }
            prefetched += it.size;
            pt.prefetchBytes += it.size;
            fetch(r, it.key, it.size, true, pt);
          }
        }
      }
    }
    // expire staging pins
    for (let r = 0; r < R; r++) {
      for (const [k, until] of pinnedUntil[r]!) {
        if (until <= h) {
          if (!placed[r]!.has(k)) caches[r]!.unpin(k);
          pinnedUntil[r]!.delete(k);
          stagedBytes[r]! -= caches[r]!.sizeOf(k) ?? 0;
        }
      }
    }
    // requests
    for (let r = 0; r < R; r++) {
      const lam = perRegionHour * w.regionWeight[r]! * w.shape[(((h + w.regionOffset[r]!) % 24) + 24) % 24]!;
      const n = Math.floor(lam) + (rng() < lam - Math.floor(lam) ? 1 : 0);
      const counts = new Map<string, { requests: number; bytes: number }>();
      for (let i = 0; i < n; i++) {
        const m = sample(w.regionCdf[r]!, rng());
        const v = version[waveOf(r)]![m]!;
        const update = rng() < o.updateFraction && v > 1;
        const key = update && sc.deltas ? patchKey(m, v) : keyOf(m, v);
        const size = update && sc.deltas ? fullSize(m) * o.patchRatio : fullSize(m);
        requests++;
        reqBytes += size;
        pt.requestedBytes += size;
        const res = caches[r]!.access(key, size, requests);
        if (res === 'hit') {
          hitBytes += size;
          pt.hitBytes += size;
        } else fetch(r, key, size, offPeak[r]!, pt);
        const arr = recent[r]!.get(m) ?? [];
        arr.push(h);
        recent[r]!.set(m, arr);
        profile[r]![h % 24]! += 1;
        if (agg) {
          const c = counts.get(key) ?? { requests: 0, bytes: 0 };
          c.requests++;
          c.bytes += size;
          counts.set(key, c);
        }
      }
      if (agg && counts.size > 0) {
        agg.record({
          region: `r${r}`,
          from: h * HOUR_MS,
          to: (h + 1) * HOUR_MS,
          items: [...counts].map(([k, c]) => ({ model: k.slice(0, k.indexOf('@')), version: k.slice(k.indexOf('@') + 1), requests: c.requests, bytes: c.bytes })),
        });
      }
    }
    hourly.push({ ...pt, originBytes: pt.originBytes * scale, interRegionBytes: pt.interRegionBytes * scale, prefetchBytes: pt.prefetchBytes * scale, requestedBytes: pt.requestedBytes * scale, hitBytes: pt.hitBytes * scale });
  }
  const months = o.hours / 730;
  const storage = R * edgeCacheBytes;
  return {
    scenario: sc,
    requests,
    requestedBytes: reqBytes * scale,
    originBytes: origin * scale,
    interRegionBytes: inter * scale,
    prefetchBytes: prefetched * scale,
    edgeByteHitRatio: reqBytes ? hitBytes / reqBytes : 0,
    peakOriginBytesPerHour: Math.max(...hourly.map((p) => p.originBytes)),
    originOffPeakShare: origin ? originOffPeak / origin : 0,
    deployReadiness: readyTotal ? readyW / readyTotal : 0,
    deploys,
    cost: cost(prices, { originBytes: origin * scale, interRegionBytes: inter * scale, storageBytes: storage, months }),
    hourly,
  };
}

function demandCount(recent: Map<number, number[]>, m: number, h: number): number {
  const arr = recent.get(m);
  if (!arr) return 0;
  while (arr.length > 0 && arr[0]! < h - 24) arr.shift();
  return arr.length;
}

export function simulateWorld(opts: Partial<WorldOptions>, diurnal: DiurnalInput, prices: PriceTable, scenarios: Scenario[] = SCENARIOS): WorldResult {
  const o: WorldOptions = { ...DEFAULT_WORLD, ...opts };
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw inputError('BAD_WORLD_OPTION', `world option ${k} must be a non-negative number, got ${String(v)}`);
  }
  for (const k of ['regions', 'models', 'hours', 'continents', 'offPeakHours', 'planEveryHours'] as const) {
    if (!(Number.isInteger(o[k]) && o[k] >= 1)) throw inputError('BAD_WORLD_OPTION', `world option ${k} must be an integer ≥ 1, got ${o[k]}`);
  }
  if (o.offPeakHours > 23) throw inputError('BAD_WORLD_OPTION', `world option offPeakHours must be at most 23, got ${o.offPeakHours}`);
  for (const k of ['modelSample', 'edgeCacheFraction', 'pinFraction', 'stagingFraction', 'compressionRatio', 'patchRatio', 'updateFraction'] as const) {
    if (!(o[k] > 0 && o[k] <= 1) && !(k !== 'modelSample' && k !== 'edgeCacheFraction' && o[k] === 0)) {
      throw inputError('BAD_WORLD_OPTION', `world option ${k} must be within (0, 1], got ${o[k]}`);
    }
  }
  if (!(o.prefetchRate > 0 && o.realDownloadsPerDay > 0)) throw inputError('BAD_WORLD_OPTION', 'prefetchRate and realDownloadsPerDay must be positive');
  if (o.regions * Math.ceil(o.models * o.modelSample) > 50_000_000) throw inputError('BAD_WORLD_OPTION', 'regions × sampled models is too large (limit 50 M): lower modelSample');
  const w = buildWorld(o, diurnal);
  // bytes of the sampled catalogue × k ≈ the whole catalogue; caches and caps scale by the sampled share
  const catalogue = w.models.reduce((a, m) => a + m.raw * o.compressionRatio, 0) / w.sampleShare;
  const edgeCacheBytes = catalogue * o.edgeCacheFraction;
  const scale = 1 / w.sampleShare;
  const results = scenarios.map((sc) => runScenario(o, w, sc, prices, scale, edgeCacheBytes));
  return { options: o, prices, scale, catalogueBytes: catalogue, edgeCacheBytes, sampledRequests: results[0]?.requests ?? 0, scenarios: results };
}
