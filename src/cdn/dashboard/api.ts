/**
 * The dashboard's HTTP API as types and paths, shared by the server (src/cdn/dashboard/routes.ts,
 * edge-status.ts) and the browser code (web/src/*): a renamed route or a changed field breaks
 * `tsc`, not the UI. Also a tiny typed client over `fetch`. Pure: no node imports, no DOM
 * beyond `fetch`/`EventSource` handed in by the caller; it must stay importable from the browser.
 */

/** Routes served by the origin for the dashboard (all GET, JSON unless noted). */
export const DASHBOARD_ROUTES = {
  snapshot: '/v1/dashboard',
  models: '/v1/dashboard/models',
  edges: '/v1/dashboard/edges',
  staging: '/v1/dashboard/staging',
  placement: '/v1/dashboard/placement',
  cost: '/v1/dashboard/cost',
  /** text/event-stream; events named in DASHBOARD_EVENTS */
  events: '/v1/events',
} as const;

/** Routes served by every edge for its status page. */
export const EDGE_ROUTES = {
  status: '/v1/edge/status',
} as const;

export const DASHBOARD_EVENTS = {
  /** data: DashboardSnapshot (sent on connect and whenever something changed) */
  snapshot: 'snapshot',
} as const;

// ---- models ----

export interface PatchStage {
  fromVersion: string;
  /** bytes an edge or client fetches to go from fromVersion to this one (patches; packed/raw files where no patch helps; 0 for unchanged files) */
  bytes: number;
  /** files delivered as a patch */
  patchedFiles: number;
  /** files identical to fromVersion (nothing to transfer) */
  unchangedFiles: number;
  /** files with no beneficial patch (delivered packed or raw) */
  fullFiles: number;
}

export interface VersionStages {
  /** sum of the version's files before any optimization (for `--optimize int8`: the recorded originals) */
  original: number;
  /** sum of the files after INT8 quantization (`publish --optimize int8`), else null */
  int8: number | null;
  /** sum over files of the packed artifact (or the raw file where packing does not shrink it); null while pending */
  packed: number | null;
  /** update from the previous ready version; null for a model's first version */
  patch: PatchStage | null;
}

export interface VersionSummary {
  version: string;
  status: 'pending' | 'ready' | 'failed';
  createdAt: string;
  readyAt: string | null;
  channels: string[];
  files: number;
  sizes: VersionStages;
  /** original − the cheapest delivery (patch if any, else packed); 0 when nothing is saved */
  savedBytes: number;
  /** savedBytes / original (0..1) */
  savedRatio: number;
}

export interface ModelSummary {
  name: string;
  latest: string | null;
  versions: VersionSummary[];
}

export interface ModelsView {
  models: ModelSummary[];
  totals: { models: number; versions: number; originalBytes: number; savedBytes: number };
}

// ---- edges ----

/** What the edge last reported about its cache (optional `cache` field of its demand report). */
export interface EdgeCacheReport {
  usedBytes: number;
  capacityBytes: number;
  entries: number;
  pinnedBytes: number;
  reportedAt: string;
}

/** Parallel arrays, uPlot-ready: t in Unix seconds (bucket start). */
export interface HitRatioSeries {
  t: number[];
  /** hits / requests in the bucket, null when the bucket had no requests */
  hitRatio: (number | null)[];
  requests: number[];
  bytes: number[];
}

export interface EdgeSummary {
  region: string;
  lastReportAt: string;
  reports: number;
  requests: number;
  hits: number;
  bytes: number;
  /** hits / requests over the window, null without requests */
  hitRatio: number | null;
  /** null until the edge sends a report with its cache figures */
  cache: EdgeCacheReport | null;
  series: HitRatioSeries;
}

export interface EgressSeries {
  /** bucket start, Unix seconds */
  t: number[];
  /** bytes of blob and file bodies the origin sent in the bucket */
  bytes: number[];
  bucketSeconds: number;
  /** bytes sent since the origin started */
  totalBytes: number;
}

export interface EdgesView {
  windowSeconds: number;
  bucketSeconds: number;
  edges: EdgeSummary[];
  /** origin egress measured at the origin (in memory since the origin started) */
  originEgress: EgressSeries;
}

// ---- staging (issue 7; empty until staging exists) ----

export interface StagedEdgeReadiness {
  /** the edge's id (its region unless configured) */
  edge: string;
  region: string;
  readyBytes: number;
  totalBytes: number;
  ready: boolean;
  /** subscribed to the origin's push channel now */
  connected: boolean;
}

export interface StagedVersion {
  name: string;
  version: string;
  /** staged versions are being prefetched; deployed/unstaged ones stay listed for a while */
  status: 'staged' | 'deployed' | 'unstaged';
  stagedAt: string;
  deployedAt: string | null;
  totalBytes: number;
  readyEdges: number;
  knownEdges: number;
  edges: StagedEdgeReadiness[];
}

export interface StagingView {
  /** false while this origin has no staging support; the list is then empty */
  available: boolean;
  staged: StagedVersion[];
}

// ---- placement (issue 7) ----

export interface PlacementCell {
  region: string;
  model: string;
  /** requests for the model reported by the region's edge in the window */
  requests: number;
  bytes: number;
  /** bytes the placement plan pins for this model in this region (0 when nothing is pinned) */
  pinnedBytes: number;
}

export interface PlacementView {
  /** false while no placement planner runs; cells then carry demand only */
  planned: boolean;
  windowSeconds: number;
  regions: string[];
  models: string[];
  cells: PlacementCell[];
}

// ---- cost ----

/** Origin egress of the window's traffic under one delivery strategy, priced. */
export interface CostScenario {
  id: 'raw-origin' | 'optimized-origin' | 'modelcdn';
  label: string;
  originEgressBytes: number;
  /** originEgressBytes × the origin egress price */
  usd: number;
}

export interface CostView {
  windowSeconds: number;
  /** $/GB origin egress, $/GB inter-region, $/GB-month edge storage (docs: src/sim/prices.ts, MODELCDN_PRICES) */
  prices: { originEgressPerGB: number; interRegionPerGB: number; edgeStoragePerGBMonth: number };
  /** bytes the edges sent to clients in the window (compressed / patched as delivered) */
  servedBytes: number;
  /** the same deliveries counted as the original files they stand for */
  originalBytes: number;
  scenarios: CostScenario[];
  /** bytes the edges hold now, and what holding them costs per month */
  edgeStorageBytes: number;
  edgeStorageUsdPerMonth: number;
}

export interface DashboardSnapshot {
  generatedAt: string;
  role: 'origin';
  models: ModelsView;
  edges: EdgesView;
  staging: StagingView;
  placement: PlacementView;
  cost: CostView;
}

// ---- the edge status page ----

export interface EdgeStatusSample {
  /** Unix seconds */
  t: number;
  hits: number;
  misses: number;
  usedBytes: number;
}

export interface EdgeStatus {
  role: 'edge';
  region: string;
  upstream: string[];
  uptimeSeconds: number;
  cache: {
    entries: number;
    usedBytes: number;
    capacityBytes: number;
    pinnedBytes: number;
    filling: number;
    hits: number;
    misses: number;
    coalesced: number;
    bypasses: number;
    upstreamFetches: number;
    hitRatio: number | null;
  };
  demandReports: { sent: number; failures: number };
  pins: number;
  /** cumulative counters sampled every few seconds (newest last) */
  samples: EdgeStatusSample[];
}

// ---- typed client ----

export interface DashboardApi {
  snapshot(): Promise<DashboardSnapshot>;
  models(): Promise<ModelsView>;
  edges(): Promise<EdgesView>;
  staging(): Promise<StagingView>;
  placement(): Promise<PlacementView>;
  cost(): Promise<CostView>;
  edgeStatus(): Promise<EdgeStatus>;
}

type FetchLike = (url: string, init?: { headers?: Record<string, string> }) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

export function dashboardClient(base: string, fetchFn: FetchLike): DashboardApi {
  const get = async <T>(path: string): Promise<T> => {
    const r = await fetchFn(base + path, { headers: { accept: 'application/json' } });
    if (!r.ok) throw new Error(`GET ${path}: HTTP ${r.status}`);
    return (await r.json()) as T;
  };
  return {
    snapshot: () => get<DashboardSnapshot>(DASHBOARD_ROUTES.snapshot),
    models: () => get<ModelsView>(DASHBOARD_ROUTES.models),
    edges: () => get<EdgesView>(DASHBOARD_ROUTES.edges),
    staging: () => get<StagingView>(DASHBOARD_ROUTES.staging),
    placement: () => get<PlacementView>(DASHBOARD_ROUTES.placement),
    cost: () => get<CostView>(DASHBOARD_ROUTES.cost),
    edgeStatus: () => get<EdgeStatus>(EDGE_ROUTES.status),
  };
}
