/**
 * Demand-based placement planner: for every region and its pin capacity, choose which model
 * versions to pin so that the expected origin bytes saved (expected requests × size) is maximal,
 * spread globally popular models to more regions, and leave the long tail to lazy loading — with a
 * human-readable reason for every decision. Pure function of its input (a demand snapshot and the
 * regions' capacities); deterministic; no I/O. The origin serves the plan, edges prefetch it.
 *
 * Expected requests of item i in region r over the planning horizon blend local history with the
 * global popularity of the item, scaled to the region's share of traffic:
 *     E[r,i] = (1 − α)·local[r,i] + α·global[i]·share[r]
 * α (`spread`, default 0.3) is the weight of the global prior: a model popular everywhere earns
 * pins in regions whose own history is thin, which is how popular models get wider distribution.
 * The per-region problem is a knapsack (value E·size, weight size); we fill greedily by value
 * density, which is E itself — so the order is "most expected requests first", skipping items that
 * no longer fit. Items with E below `minExpectedRequests` are never pinned (long tail → lazy load).
 */
import { inputError } from '../../errors.ts';

export interface PlanRegion {
  name: string;
  /** bytes the region may pin (a share of its edge cache; the rest stays for lazy loading) */
  capacityBytes: number;
}

export interface PlanDemand {
  region: string;
  model: string;
  version: string;
  size: number;
  /** expected requests over the planning horizon from this region's own history */
  requests: number;
}

export interface PlanOptions {
  /** weight α of the global prior (0 = local history only) */
  spread?: number;
  /** items expected fewer times than this in a region are left to lazy loading */
  minExpectedRequests?: number;
}

export interface Placement {
  region: string;
  model: string;
  version: string;
  size: number;
  expectedRequests: number;
  /** expected origin bytes saved over the horizon = expectedRequests × size */
  savedBytes: number;
  reason: string;
}

export interface LazyDecision {
  region: string;
  model: string;
  version: string;
  expectedRequests: number;
  reason: string;
}

export interface Plan {
  placements: Placement[];
  /** items with demand in a region that were not pinned there (only those with any local demand) */
  lazy: LazyDecision[];
  regions: { name: string; capacityBytes: number; usedBytes: number; pins: number; savedBytes: number }[];
  /** model@version → number of regions it is pinned in */
  spread: Record<string, number>;
  totalSavedBytes: number;
}

const fmtBytes = (n: number): string => {
  const u = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(n >= 100 || i === 0 ? 0 : 1)} ${u[i]}`;
};
const fmtReq = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function planPlacement(regions: PlanRegion[], demand: PlanDemand[], opts: PlanOptions = {}): Plan {
  const alpha = opts.spread ?? 0.3;
  const minReq = opts.minExpectedRequests ?? 1;
  if (!(alpha >= 0 && alpha <= 1)) throw inputError('BAD_PLAN_OPTIONS', `spread must be within 0..1, got ${alpha}`);
  if (!(minReq >= 0)) throw inputError('BAD_PLAN_OPTIONS', `minExpectedRequests must be ≥ 0, got ${minReq}`);
  const regionNames = new Set<string>();
  for (const r of regions) {
    if (regionNames.has(r.name)) throw inputError('BAD_PLAN_INPUT', `region '${r.name}' is listed twice`);
    if (!(r.capacityBytes >= 0)) throw inputError('BAD_PLAN_INPUT', `region '${r.name}' has a bad capacity`);
    regionNames.add(r.name);
  }
  // aggregate: local demand per region/item, global demand per item, traffic share per region
  const items = new Map<string, { model: string; version: string; size: number; global: number; regions: number }>();
  const local = new Map<string, Map<string, number>>();
  const regionTotal = new Map<string, number>();
  let total = 0;
  for (const d of demand) {
    if (!(d.requests >= 0) || !(d.size >= 0)) throw inputError('BAD_PLAN_INPUT', `demand for ${d.model}@${d.version} in ${d.region} has a bad size or request count`);
    if (!regionNames.has(d.region)) continue; // a region without capacity cannot pin anything
    const key = `${d.model}@${d.version}`;
    const it = items.get(key) ?? { model: d.model, version: d.version, size: d.size, global: 0, regions: 0 };
    it.global += d.requests;
    it.size = Math.max(it.size, d.size);
    items.set(key, it);
    const m = local.get(d.region) ?? new Map<string, number>();
    if (!m.has(key) && d.requests > 0) it.regions++;
    m.set(key, (m.get(key) ?? 0) + d.requests);
    local.set(d.region, m);
    regionTotal.set(d.region, (regionTotal.get(d.region) ?? 0) + d.requests);
    total += d.requests;
  }
  const globalRank = new Map([...items.entries()].sort((a, b) => b[1].global - a[1].global || a[0].localeCompare(b[0])).map(([k], i) => [k, i + 1]));
  const nRegions = regions.length;
  const placements: Placement[] = [];
  const lazy: LazyDecision[] = [];
  const perRegion: Plan['regions'] = [];
  const spread: Record<string, number> = {};
  for (const r of [...regions].sort((a, b) => a.name.localeCompare(b.name))) {
    const share = total > 0 ? (regionTotal.get(r.name) ?? 0) / total : 1 / Math.max(1, nRegions);
    const mine = local.get(r.name) ?? new Map<string, number>();
    const cands: { key: string; e: number; loc: number; prior: number }[] = [];
    for (const [key, it] of items) {
      const loc = mine.get(key) ?? 0;
      const prior = it.global * share;
      const e = (1 - alpha) * loc + alpha * prior;
      if (e <= 0) continue;
      cands.push({ key, e, loc, prior });
    }
    cands.sort((a, b) => b.e - a.e || a.key.localeCompare(b.key));
    let used = 0;
    let saved = 0;
    let pins = 0;
    let rank = 0;
    for (const c of cands) {
      const it = items.get(c.key)!;
      rank++;
      if (c.e < minReq) {
        if (c.loc > 0) lazy.push({ region: r.name, model: it.model, version: it.version, expectedRequests: c.e, reason: `long tail: ${fmtReq(c.e)} expected requests < ${minReq} — lazy load on first request` });
        continue;
      }
      if (used + it.size > r.capacityBytes) {
        if (c.loc > 0) lazy.push({ region: r.name, model: it.model, version: it.version, expectedRequests: c.e, reason: `pin capacity full (${fmtBytes(used)} of ${fmtBytes(r.capacityBytes)} used, needs ${fmtBytes(it.size)}) — lazy load` });
        continue;
      }
      used += it.size;
      pins++;
      const savedBytes = c.e * it.size;
      saved += savedBytes;
      spread[c.key] = (spread[c.key] ?? 0) + 1;
      const globalPart = alpha * c.prior;
      const why =
        globalPart > (1 - alpha) * c.loc
          ? `globally popular (rank ${globalRank.get(c.key)} of ${items.size}, requested in ${it.regions}/${nRegions} regions): spread here, ${fmtReq(c.loc)} local + prior → ${fmtReq(c.e)} expected requests`
          : `local demand: ${fmtReq(c.loc)} requests (rank ${rank} in ${r.name})`;
      placements.push({
        region: r.name,
        model: it.model,
        version: it.version,
        size: it.size,
        expectedRequests: c.e,
        savedBytes,
        reason: `${why} × ${fmtBytes(it.size)} = ${fmtBytes(savedBytes)} origin bytes saved`,
      });
    }
    perRegion.push({ name: r.name, capacityBytes: r.capacityBytes, usedBytes: used, pins, savedBytes: saved });
  }
  return { placements, lazy, regions: perRegion, spread, totalSavedBytes: perRegion.reduce((a, r) => a + r.savedBytes, 0) };
}
