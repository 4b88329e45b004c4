/**
 * Runs a comparison for the simulate command and the benchmark: every requested policy at every
 * cache size, always side by side with Belady's offline optimum and LRU, with ratios to Belady and
 * timing. Cache sizes are parsed here ("5%" of the trace's unique bytes, or "20GB"). Pure apart
 * from reading the clock for throughput; no I/O.
 */
import { inputError } from '../errors.ts';
import { DEFAULT_POLICY, POLICY_NAMES } from '../cdn/eviction/index.ts';
import { parseBytes } from '../cli/output.ts';
import { assignRegions, defaultRegions, nextUseByRegion, simulate, type SimResult } from './simulate.ts';
import { uniqueBytes, type Trace } from './trace.ts';

export interface CacheSizeSpec {
  /** as given, e.g. "5%" or "20GB" */
  label: string;
  bytes: number;
}

/** "5%" (of unique bytes), "0.5%", "20GB", "512MiB", or a comma-separated list of those. */
export function parseCacheSizes(spec: string, unique: number): CacheSizeSpec[] {
  const out: CacheSizeSpec[] = [];
  for (const raw of spec.split(',')) {
    const s = raw.trim();
    const pct = /^([0-9]+(?:\.[0-9]+)?)\s*%$/.exec(s);
    let bytes: number;
    if (pct) {
      const p = Number(pct[1]);
      if (!(p > 0 && p <= 100)) throw inputError('BAD_CACHE_SIZE', `cache size '${s}' must be a percentage in (0, 100]`, { value: s });
      bytes = Math.max(1, Math.round((unique * p) / 100));
    } else {
      bytes = parseBytes(s);
      if (!(bytes > 0)) throw inputError('BAD_CACHE_SIZE', `cache size '${s}' is neither a percentage (5%) nor a byte size (20GB)`, { value: s });
    }
    out.push({ label: s, bytes });
  }
  return out;
}

/** "all", "default" or a comma-separated list; validated against the known policies. */
export function parsePolicies(spec: string): string[] {
  if (spec === 'all') return [...POLICY_NAMES];
  const names = spec.split(',').map((s) => s.trim()).map((s) => (s === 'default' ? DEFAULT_POLICY : s));
  for (const n of names) {
    if (n !== 'belady' && !POLICY_NAMES.includes(n)) {
      throw inputError('UNKNOWN_POLICY', `unknown eviction policy '${n}'`, { name: n }, `use one of: ${[...POLICY_NAMES, 'all'].join(', ')}`);
    }
  }
  return [...new Set(names)];
}

export interface ComparisonRow extends SimResult {
  cacheLabel: string;
  /** this policy's byte miss ratio / Belady's */
  byteMissVsBelady: number;
  objectMissVsBelady: number;
  /** excess byte misses beyond compulsory ones, relative to Belady's excess */
  excessVsBelady: number;
  seconds: number;
  requestsPerMinute: number;
}

export interface Comparison {
  requests: number;
  objects: number;
  uniqueBytes: number;
  bytesRequested: number;
  /** byte miss ratio no cache can avoid (first requests of every object) */
  compulsoryByteMissRatio: number;
  regions: number;
  rows: ComparisonRow[];
}

export function compare(
  t: Trace,
  opts: { policies: string[]; cacheSizes: CacheSizeSpec[]; regions?: number; tiered?: boolean; placement?: boolean; onRow?: (r: ComparisonRow) => void },
): Comparison {
  const regions = defaultRegions(t, opts.regions);
  const regionOf = assignRegions(t, regions);
  const nextUse = nextUseByRegion(t, regionOf, regions);
  const unique = uniqueBytes(t);
  let total = 0;
  for (let i = 0; i < t.length; i++) total += t.size[i]!;
  // compulsory misses: the first request of each object in each region
  const seen = new Set<number>();
  let compulsory = 0;
  for (let i = 0; i < t.length; i++) {
    const k = regionOf[i]! * t.keys.length + t.obj[i]!;
    if (!seen.has(k)) {
      seen.add(k);
      compulsory += t.size[i]!;
    }
  }
  const compulsoryRatio = total ? compulsory / total : 0;
  const policies = ['belady', 'lru', ...opts.policies.filter((p) => p !== 'belady' && p !== 'lru')];
  const rows: ComparisonRow[] = [];
  for (const cs of opts.cacheSizes) {
    let bel: SimResult | undefined;
    for (const policy of policies) {
      const t0 = performance.now();
      const r = simulate(t, { policy, capacityBytes: cs.bytes, regions, regionOf, nextUse, tiered: opts.tiered === true, ...(opts.placement ? { placement: {} } : {}) });
      const seconds = (performance.now() - t0) / 1000;
      if (policy === 'belady') bel = r;
      const b = bel!;
      const ratio = (x: number, y: number) => (y > 0 ? x / y : x > 0 ? Infinity : 1);
      const row: ComparisonRow = {
        ...r,
        cacheLabel: cs.label,
        byteMissVsBelady: ratio(r.byteMissRatio, b.byteMissRatio),
        objectMissVsBelady: ratio(r.objectMissRatio, b.objectMissRatio),
        excessVsBelady: ratio(r.byteMissRatio - compulsoryRatio, b.byteMissRatio - compulsoryRatio),
        seconds,
        requestsPerMinute: seconds > 0 ? (t.length / seconds) * 60 : Infinity,
      };
      rows.push(row);
      opts.onRow?.(row);
    }
  }
  return { requests: t.length, objects: t.keys.length, uniqueBytes: unique, bytesRequested: total, compulsoryByteMissRatio: compulsoryRatio, regions, rows };
}
