/**
 * What one edge should prefetch, computed at the origin (which knows the manifests, the patches and
 * every region's demand): staged versions (the packed artifact of every file, or the raw file where
 * packing does not pay, plus the patches from the versions that region's clients use now), the
 * placement plan's pins for the edge's region, and predictive items (a version already pulled in
 * other regions that this region's clients have not reached yet, with the patch they will need).
 * The blob choice mirrors the client's (src/cdn/client/pull.ts): packed when smaller than the file,
 * else raw. Reads the registry; writes nothing; no HTTP.
 */
import { parseManifest, type Manifest } from '../manifest/index.ts';
import type { Registry } from '../registry/registry.ts';
import { DemandAggregator, predictPrefetch, planPlacement, HOUR_MS, type Deployment, type Plan } from '../placement/index.ts';

export type BlobRole = 'packed' | 'raw' | 'patch';

export interface PrefetchBlob {
  hash: string;
  size: number;
  role: BlobRole;
  /** file path inside the version */
  path: string;
  /** for patches: the version the patch starts from */
  fromVersion?: string;
}

export type ItemKind = 'stage' | 'plan' | 'predict';

export interface PrefetchSetItem {
  /** `${kind}:${name}@${version}` — readiness is reported per id */
  id: string;
  kind: ItemKind;
  name: string;
  version: string;
  reason: string;
  blobs: PrefetchBlob[];
  totalBytes: number;
}

/** How far back a region's demand counts as "the versions its clients use now". */
export const IN_USE_WINDOW_MS = 7 * 24 * HOUR_MS;

export function itemId(kind: ItemKind, name: string, version: string): string {
  return `${kind}:${name}@${version}`;
}

/** The signed manifest of a ready version, parsed (undefined when it is not ready). */
export function readyManifest(registry: Registry, name: string, version: string): Manifest | undefined {
  const v = registry.getVersion(name, version);
  if (!v || v.status !== 'ready') return undefined;
  const s = registry.getSignedManifest(v.id);
  return s ? parseManifest(s.payload) : undefined;
}

/** The blobs a client with one of `fromVersions` (or none) fetches for this version, deduplicated. */
export function versionBlobs(m: Manifest, fromVersions: Iterable<string> = []): PrefetchBlob[] {
  const from = new Set(fromVersions);
  from.delete(m.version);
  const out = new Map<string, PrefetchBlob>();
  for (const f of m.files) {
    const full: PrefetchBlob = f.packed && f.packed.size < f.size ? { hash: f.packed.blob, size: f.packed.size, role: 'packed', path: f.path } : { hash: f.sha256, size: f.size, role: 'raw', path: f.path };
    if (!out.has(full.hash)) out.set(full.hash, full);
    for (const p of f.patches) {
      if (!from.has(p.fromVersion) || out.has(p.blob)) continue;
      out.set(p.blob, { hash: p.blob, size: p.size, role: 'patch', path: f.path, fromVersion: p.fromVersion });
    }
  }
  return [...out.values()];
}

/** Versions of `name` requested in `region` since `sinceMs` (by requests, most first). */
export function inUseVersions(registry: Registry, region: string, name: string, sinceMs: number): string[] {
  const rows = registry.db
    .prepare(`SELECT version, SUM(requests) AS n FROM demand WHERE region = ? AND model = ? AND version IS NOT NULL AND version != '' AND period_to >= ? GROUP BY version ORDER BY n DESC`)
    .all(region, name, sinceMs) as { version: string; n: number }[];
  return rows.map((r) => r.version);
}

function item(kind: ItemKind, m: Manifest, reason: string, blobs: PrefetchBlob[]): PrefetchSetItem {
  return { id: itemId(kind, m.name, m.version), kind, name: m.name, version: m.version, reason, blobs, totalBytes: blobs.reduce((a, b) => a + b.size, 0) };
}

/** A staged version for an edge in `region`: its full blobs plus patches from the versions in use there (or on a channel). */
export function stageItem(registry: Registry, region: string, name: string, version: string, nowMs: number): PrefetchSetItem | undefined {
  const m = readyManifest(registry, name, version);
  if (!m) return undefined;
  const inUse = inUseVersions(registry, region, name, nowMs - IN_USE_WINDOW_MS);
  const from = new Set([...inUse, ...Object.values(registry.channels(name))]);
  from.delete(version);
  const blobs = versionBlobs(m, from);
  const patches = blobs.filter((b) => b.role === 'patch').map((b) => b.fromVersion!);
  const reason = `staged for deploy${patches.length ? `; patches from ${[...new Set(patches)].join(', ')} (in use in ${region})` : ''}`;
  return item('stage', m, reason, blobs);
}

/** Bytes an edge pins for a version (its full blobs, no patches). */
export function versionSize(m: Manifest): number {
  return versionBlobs(m).reduce((a, b) => a + b.size, 0);
}

export interface PlanInput {
  /** regions with their pin capacity in bytes */
  regions: { name: string; capacityBytes: number }[];
  spread?: number;
  minExpectedRequests?: number;
  halfLifeMs?: number;
}

/**
 * The placement plan over the registry's demand rows at `nowMs`: demand aggregated with sliding
 * windows and decay, sizes taken from the manifests (what an edge pins), regions and capacities as
 * given (regions that only appear in demand get `defaultCapacityBytes`).
 */
export function computePlan(registry: Registry, input: PlanInput & { defaultCapacityBytes: number }, nowMs: number): { plan: Plan & { now: string }; agg: DemandAggregator } {
  const agg = new DemandAggregator(input.halfLifeMs ? { halfLifeMs: input.halfLifeMs } : {});
  // one report per stored (region, period) keeps the hour-of-day profile right
  const groups = new Map<string, { region: string; from: number; to: number; items: { model: string; version: string; requests: number; bytes: number; hits: number }[] }>();
  for (const r of registry.demandRows()) {
    if (!r.model || !r.version) continue;
    const k = `${r.region}\0${r.from}\0${r.to}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { region: r.region, from: r.from, to: r.to, items: [] }));
    g.items.push({ model: r.model, version: r.version, requests: r.requests, bytes: r.bytes, hits: Math.min(r.hits, r.requests) });
  }
  for (const g of [...groups.values()].sort((a, b) => a.to - b.to)) {
    try {
      agg.record(g);
    } catch {
      // a report the aggregator refuses (names it cannot take) does not stop the plan
    }
  }
  const sizes = new Map<string, number>();
  const sizeOf = (model: string, version: string, fallback: number) => {
    const k = `${model}@${version}`;
    if (!sizes.has(k)) {
      const m = readyManifest(registry, model, version);
      sizes.set(k, m ? versionSize(m) : fallback);
    }
    return sizes.get(k)!;
  };
  const snap = agg.snapshot(nowMs).filter((e) => registry.getVersion(e.model, e.version)?.status === 'ready');
  const regions = new Map(input.regions.map((r) => [r.name, r.capacityBytes]));
  for (const e of snap) if (!regions.has(e.region)) regions.set(e.region, input.defaultCapacityBytes);
  const plan = planPlacement(
    [...regions].map(([name, capacityBytes]) => ({ name, capacityBytes })),
    snap.map((e) => ({ region: e.region, model: e.model, version: e.version, size: sizeOf(e.model, e.version, e.size), requests: e.decayedRequests })),
    { ...(input.spread !== undefined ? { spread: input.spread } : {}), ...(input.minExpectedRequests !== undefined ? { minExpectedRequests: input.minExpectedRequests } : {}) },
  );
  return { plan: { now: new Date(nowMs).toISOString(), ...plan }, agg };
}

/** The plan's pins for one region as prefetch items. */
export function planItems(registry: Registry, plan: Plan, region: string): PrefetchSetItem[] {
  const out: PrefetchSetItem[] = [];
  for (const p of plan.placements) {
    if (p.region !== region) continue;
    const m = readyManifest(registry, p.model, p.version);
    if (m) out.push(item('plan', m, `placement: ${p.reason}`, versionBlobs(m)));
  }
  return out;
}

/**
 * Predictive items for `region`: for each model's channel version V that clients in other regions
 * already pull while clients here still run older versions, V's full blobs plus the patch from the
 * version most clients here run (src/cdn/placement/predict.ts decides; this maps it to blobs).
 */
export function predictItems(registry: Registry, region: string, allRegions: string[], nowMs: number): PrefetchSetItem[] {
  const since = nowMs - IN_USE_WINDOW_MS;
  const rows = registry.db
    .prepare(`SELECT region, model, version, SUM(requests) AS n FROM demand WHERE model IS NOT NULL AND model != '' AND version IS NOT NULL AND version != '' AND period_to >= ? GROUP BY region, model, version`)
    .all(since) as { region: string; model: string; version: string; n: number }[];
  const mine = rows.filter((r) => r.region === region).map((r) => ({ model: r.model, version: r.version, requests: r.n }));
  if (mine.length === 0) return [];
  const deployments: Deployment[] = [];
  const manifests = new Map<string, Manifest>();
  for (const model of new Set(mine.map((d) => d.model))) {
    for (const version of new Set(Object.values(registry.channels(model)))) {
      const m = readyManifest(registry, model, version);
      if (!m) continue;
      manifests.set(`${model}@${version}`, m);
      const live = [...new Set(rows.filter((r) => r.model === model && r.version === version && r.n > 0).map((r) => r.region))];
      const patches: Record<string, number> = {};
      for (const f of m.files) for (const p of f.patches) patches[p.fromVersion] = (patches[p.fromVersion] ?? 0) + p.size;
      deployments.push({ model, version, regions: live, totalRegions: Math.max(allRegions.length, live.length + 1), size: versionSize(m), patches });
    }
  }
  const predicted = predictPrefetch(region, mine, deployments);
  const byVersion = new Map<string, { m: Manifest; from: Set<string>; reasons: string[] }>();
  for (const p of predicted) {
    const k = `${p.model}@${p.version}`;
    const m = manifests.get(k)!;
    const e = byVersion.get(k) ?? { m, from: new Set<string>(), reasons: [] };
    if (p.kind === 'patch' && p.fromVersion) e.from.add(p.fromVersion);
    e.reasons.push(p.reason);
    byVersion.set(k, e);
  }
  return [...byVersion.values()].map((e) => item('predict', e.m, `predicted: ${e.reasons.join('; ')}`, versionBlobs(e.m, e.from)));
}
