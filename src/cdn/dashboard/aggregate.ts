/**
 * Read-only aggregation for the dashboard over the origin's registry: per-version sizes at every
 * delivery stage (original → INT8 → packed → patch from the previous version) and the bytes saved;
 * per-edge demand (requests, hits, bytes) in time buckets for the hit-ratio chart; the regions ×
 * models demand matrix behind the placement heatmap. Demand is grouped in SQL (the demand table
 * grows with every report); everything else goes through Registry methods. Never writes to the
 * registry and does no HTTP.
 */
import type { Registry, VersionRow } from '../registry/registry.ts';
import type { CostView, EdgeCacheReport, EdgeSummary, ModelSummary, ModelsView, PatchStage, PlacementView, VersionSummary } from './api.ts';
import { cost, type PriceTable } from '../../sim/prices.ts';

/** Most time buckets in a chart series. */
export const MAX_BUCKETS = 120;
/** Smallest bucket of the hit-ratio series. */
export const MIN_BUCKET_SECONDS = 5;
/** Default look-back of the edge and placement views. */
export const DEFAULT_WINDOW_SECONDS = 24 * 3600;

const iso = (ms: number | null): string | null => (ms == null ? null : new Date(ms).toISOString());

/** Bucket width for a span: at most MAX_BUCKETS buckets, at least MIN_BUCKET_SECONDS, rounded to a readable step. */
export function bucketSecondsFor(spanSeconds: number): number {
  const raw = Math.max(MIN_BUCKET_SECONDS, Math.ceil(spanSeconds / MAX_BUCKETS));
  const steps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  return steps.find((s) => s >= raw) ?? Math.ceil(raw / 86400) * 86400;
}

export function modelsView(registry: Registry): ModelsView {
  const names = (registry.db.prepare(`SELECT name FROM models ORDER BY name`).all() as { name: string }[]).map((r) => r.name);
  const models: ModelSummary[] = [];
  let versions = 0;
  let originalBytes = 0;
  let savedBytes = 0;
  for (const name of names) {
    const rows = registry.listVersions(name, { all: true });
    if (rows.length === 0) continue;
    const channels = registry.channels(name);
    const byVersion = new Map<string, string[]>();
    for (const [ch, v] of Object.entries(channels)) byVersion.set(v, [...(byVersion.get(v) ?? []), ch]);
    let prevReady: VersionRow | undefined;
    const out: VersionSummary[] = [];
    for (const v of rows) {
      const s = versionSummary(registry, v, v.status === 'ready' ? prevReady : lastReadyBefore(rows, v), byVersion.get(v.version) ?? []);
      out.push(s);
      if (v.status === 'ready') {
        prevReady = v;
        versions++;
        originalBytes += s.sizes.original;
        savedBytes += s.savedBytes;
      }
    }
    models.push({ name, latest: channels['latest'] ?? null, versions: out });
  }
  return { models, totals: { models: models.length, versions, originalBytes, savedBytes } };
}

function lastReadyBefore(rows: VersionRow[], v: VersionRow): VersionRow | undefined {
  let last: VersionRow | undefined;
  for (const r of rows) {
    if (r === v) break;
    if (r.status === 'ready') last = r;
  }
  return last;
}

function versionSummary(registry: Registry, v: VersionRow, prev: VersionRow | undefined, channels: string[]): VersionSummary {
  const files = registry.files(v.id);
  // `publish --optimize int8` uploads the INT8 files and records the originals they replaced
  const replaced = new Map<string, number>();
  const orig = v.options['original'];
  if (v.options['optimize'] === 'int8' && Array.isArray(orig)) {
    for (const o of orig as { path?: unknown; size?: unknown }[]) if (typeof o?.path === 'string' && typeof o.size === 'number') replaced.set(o.path, o.size);
  }
  let published = 0;
  let original = 0;
  let packed = 0;
  let packedKnown = files.length > 0;
  let int8 = 0;
  let int8Seen = false;
  const deliveredFull = new Map<string, number>();
  for (const f of files) {
    published += f.size;
    original += replaced.get(f.path) ?? f.size;
    const arts = registry.artifacts(f.sha256);
    const p = arts.find((a) => a.kind === 'packed');
    // the client takes the raw file when packing does not shrink it
    const full = p ? Math.min(p.size, f.size) : f.size;
    if (!p && v.status !== 'ready') packedKnown = false;
    packed += full;
    deliveredFull.set(f.path, full);
    const q = arts.find((a) => (a.kind as string) === 'int8');
    if (q) {
      int8Seen = true;
      int8 += q.size;
    }
  }
  if (replaced.size > 0) {
    int8Seen = true;
    int8 = published;
  }
  let patch: PatchStage | null = null;
  if (prev) {
    const before = new Map(registry.files(prev.id).map((f) => [f.path, f]));
    patch = { fromVersion: prev.version, bytes: 0, patchedFiles: 0, unchangedFiles: 0, fullFiles: 0 };
    for (const f of files) {
      const old = before.get(f.path);
      if (old && old.sha256 === f.sha256) {
        patch.unchangedFiles++;
        continue;
      }
      const full = deliveredFull.get(f.path)!;
      const pr = old ? registry.getPatch(old.sha256, f.sha256) : undefined;
      if (pr && pr.beneficial && pr.size != null && pr.size < full) {
        patch.patchedFiles++;
        patch.bytes += pr.size;
      } else {
        patch.fullFiles++;
        patch.bytes += full;
      }
    }
  }
  const packedOut = packedKnown ? packed : null;
  const cheapest = Math.min(original, published, packedOut ?? original, patch ? patch.bytes : original);
  const savedBytes = v.status === 'ready' ? Math.max(0, original - cheapest) : 0;
  return {
    version: v.version,
    status: v.status,
    createdAt: iso(v.createdAt)!,
    readyAt: iso(v.readyAt),
    channels,
    files: files.length,
    sizes: { original, int8: int8Seen ? int8 : null, packed: packedOut, patch },
    savedBytes,
    savedRatio: original > 0 ? savedBytes / original : 0,
  };
}

interface DemandBucketRow {
  region: string;
  b: number;
  requests: number;
  hits: number;
  bytes: number;
}

/**
 * Per-edge demand in the window ending at `nowMs`, bucketed for charts. `caches` holds what each
 * edge last said about its cache (kept in memory by the routes module).
 */
export function edgeSummaries(registry: Registry, nowMs: number, windowSeconds: number, caches: ReadonlyMap<string, EdgeCacheReport>): { bucketSeconds: number; edges: EdgeSummary[] } {
  const since = nowMs - windowSeconds * 1000;
  const first = registry.db.prepare(`SELECT MIN(period_to) AS t FROM demand WHERE period_to >= ?`).get(since) as { t: number | null };
  const span = first.t == null ? 60 : Math.max(60, (nowMs - first.t) / 1000);
  const bucketSeconds = bucketSecondsFor(span);
  const bucketMs = bucketSeconds * 1000;
  const totals = registry.db
    .prepare(
      `SELECT region, COUNT(DISTINCT received_at || ':' || period_from || ':' || period_to) AS reports, MAX(received_at) AS last, SUM(requests) AS requests, SUM(hits) AS hits, SUM(bytes) AS bytes
       FROM demand WHERE period_to >= ? GROUP BY region ORDER BY region`,
    )
    .all(since) as { region: string; reports: number; last: number; requests: number; hits: number; bytes: number }[];
  const buckets = registry.db
    .prepare(
      `SELECT region, (period_to / ?) AS b, SUM(requests) AS requests, SUM(hits) AS hits, SUM(bytes) AS bytes
       FROM demand WHERE period_to >= ? GROUP BY region, b ORDER BY region, b`,
    )
    .all(bucketMs, since) as DemandBucketRow[];
  const byRegion = new Map<string, DemandBucketRow[]>();
  for (const r of buckets) byRegion.set(r.region, [...(byRegion.get(r.region) ?? []), r]);
  const regions = new Set([...totals.map((t) => t.region), ...caches.keys()]);
  const edges: EdgeSummary[] = [];
  for (const region of [...regions].sort()) {
    const t = totals.find((x) => x.region === region);
    const rows = byRegion.get(region) ?? [];
    const cache = caches.get(region) ?? null;
    edges.push({
      region,
      lastReportAt: new Date(Math.max(t?.last ?? 0, cache ? Date.parse(cache.reportedAt) : 0)).toISOString(),
      reports: t?.reports ?? 0,
      requests: t?.requests ?? 0,
      hits: t?.hits ?? 0,
      bytes: t?.bytes ?? 0,
      hitRatio: t && t.requests > 0 ? t.hits / t.requests : null,
      cache,
      series: {
        t: rows.map((r) => Math.floor(r.b) * bucketSeconds),
        hitRatio: rows.map((r) => (r.requests > 0 ? r.hits / r.requests : null)),
        requests: rows.map((r) => r.requests),
        bytes: rows.map((r) => r.bytes),
      },
    });
  }
  return { bucketSeconds, edges };
}

/** Pinned bytes per (region, model) from a placement plan, when one exists. */
export type PlacementPins = ReadonlyArray<{ region: string; model: string; pinnedBytes: number }>;

/** Regions × models demand in the window, with the plan's pins laid over it when a planner runs. */
export function placementView(registry: Registry, nowMs: number, windowSeconds: number, pins: PlacementPins | undefined, extraRegions: Iterable<string> = []): PlacementView {
  const since = nowMs - windowSeconds * 1000;
  const rows = registry.db
    .prepare(
      `SELECT region, model, SUM(requests) AS requests, SUM(bytes) AS bytes FROM demand
       WHERE period_to >= ? AND model IS NOT NULL AND model != '' GROUP BY region, model`,
    )
    .all(since) as { region: string; model: string; requests: number; bytes: number }[];
  const cells = new Map<string, { region: string; model: string; requests: number; bytes: number; pinnedBytes: number }>();
  const key = (r: string, m: string) => `${r}\0${m}`;
  for (const r of rows) cells.set(key(r.region, r.model), { ...r, pinnedBytes: 0 });
  for (const p of pins ?? []) {
    const k = key(p.region, p.model);
    const c = cells.get(k) ?? { region: p.region, model: p.model, requests: 0, bytes: 0, pinnedBytes: 0 };
    c.pinnedBytes += p.pinnedBytes;
    cells.set(k, c);
  }
  const regions = new Set<string>(extraRegions);
  const models = new Set<string>();
  for (const c of cells.values()) {
    regions.add(c.region);
    models.add(c.model);
  }
  return {
    planned: pins !== undefined,
    windowSeconds,
    regions: [...regions].sort(),
    models: [...models].sort(),
    cells: [...cells.values()].sort((a, b) => a.region.localeCompare(b.region) || a.model.localeCompare(b.model)),
  };
}

/**
 * Bytes into money for the window's traffic (issue 7 §5): what the origin would have sent for the same
 * deliveries as raw files with no CDN, as modelcdn's compressed/patched forms with no edge cache, and
 * what it measurably sent (edges, lazy fill, prefetch and placement as deployed). A delivery of a packed
 * artifact or patch counts as its share of the original file (bytes × original size / blob size), so
 * ranged and partial requests weigh what they carried.
 */
export function costView(
  registry: Registry,
  nowMs: number,
  windowSeconds: number,
  measuredOriginEgressBytes: number,
  caches: ReadonlyMap<string, EdgeCacheReport>,
  prices: PriceTable,
): CostView {
  const since = nowMs - windowSeconds * 1000;
  const rows = registry.db
    .prepare(
      `SELECT d.blob AS blob, SUM(d.bytes) AS bytes,
         COALESCE(
           (SELECT f.size || ':' || f.size FROM files f WHERE f.sha256 = d.blob LIMIT 1),
           (SELECT f.size || ':' || a.size FROM artifacts a JOIN files f ON f.sha256 = a.source_sha256 WHERE a.blob = d.blob LIMIT 1),
           (SELECT f.size || ':' || p.size FROM patches p JOIN files f ON f.sha256 = p.to_sha256 WHERE p.blob = d.blob LIMIT 1)
         ) AS sizes
       FROM demand d WHERE d.period_to >= ? AND d.blob IS NOT NULL GROUP BY d.blob`,
    )
    .all(since) as { blob: string; bytes: number; sizes: string | null }[];
  let servedBytes = 0;
  let originalBytes = 0;
  for (const r of rows) {
    servedBytes += r.bytes;
    const [orig, blobSize] = (r.sizes ?? '').split(':').map(Number);
    // blobs that stand for no file (chunk manifests, containers) count as themselves
    originalBytes += orig && blobSize ? Math.round((r.bytes * orig) / blobSize) : r.bytes;
  }
  const usd = (bytes: number) => cost(prices, { originBytes: bytes }).total;
  const edgeStorageBytes = [...caches.values()].reduce((s, c) => s + c.usedBytes, 0);
  return {
    windowSeconds,
    prices: { originEgressPerGB: prices.originEgressPerGB, interRegionPerGB: prices.interRegionPerGB, edgeStoragePerGBMonth: prices.edgeStoragePerGBMonth },
    servedBytes,
    originalBytes,
    scenarios: [
      { id: 'raw-origin', label: 'raw files from the origin, no CDN', originEgressBytes: originalBytes, usd: usd(originalBytes) },
      { id: 'optimized-origin', label: 'packed files and patches from the origin, no edge cache', originEgressBytes: servedBytes, usd: usd(servedBytes) },
      { id: 'modelcdn', label: 'modelcdn: edges with lazy fill, prefetch and placement (measured)', originEgressBytes: measuredOriginEgressBytes, usd: usd(measuredOriginEgressBytes) },
    ],
    edgeStorageBytes,
    edgeStorageUsdPerMonth: cost(prices, { originBytes: 0, storageBytes: edgeStorageBytes, months: 1 }).total,
  };
}
