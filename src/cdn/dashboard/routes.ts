/**
 * The origin's dashboard: JSON routes (types in api.ts), the live event stream (SSE: a snapshot on
 * connect and whenever the registry, the demand reports or the origin's egress changed — checked
 * once a second, only while someone is watching), the static front-end at `/`, and the edges'
 * latest cache figures (from the optional `cache` field of their demand reports, kept in memory).
 * Staging and placement come from providers the prefetch work plugs in; without them the views say
 * so (empty staging list, demand-only heatmap). Composes; aggregation lives in aggregate.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { inputError } from '../../errors.ts';
import type { Registry } from '../registry/registry.ts';
import { route, type Route } from '../origin/router.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { DASHBOARD_EVENTS, DASHBOARD_ROUTES, type DashboardSnapshot, type EdgeCacheReport, type EdgesView, type ModelsView, type StagedVersion, type StagingView } from './api.ts';
import { DEFAULT_WINDOW_SECONDS, costView, edgeSummaries, modelsView, placementView, type PlacementPins } from './aggregate.ts';
import { resolvePrices, type PriceTable } from '../../sim/prices.ts';
import { ByteSeries } from './egress.ts';
import { SseHub } from './sse.ts';
import { staticHandler } from './static.ts';

/** Routes whose bodies count as origin egress (model bytes leaving the origin). */
export const EGRESS_ROUTES = new Set(['getBlob', 'getFile']);
export const MIN_WINDOW_SECONDS = 60;
export const MAX_WINDOW_SECONDS = 30 * 24 * 3600;
export const DEFAULT_POLL_MS = 1000;
/** Most edges whose cache figures are remembered. */
export const MAX_EDGE_CACHE_REPORTS = 10_000;

export interface DashboardOptions {
  registry: Registry;
  /** origin metrics: their request observations feed the egress series */
  metrics?: Metrics;
  /** staged versions with per-edge readiness (src/cdn/prefetch `stages()`); undefined = staging not available */
  staging?: () => StagedVersion[];
  /** the placement plan's pins (src/cdn/prefetch `placementPins()`); undefined = no planner */
  placementPins?: () => PlacementPins;
  windowSeconds?: number;
  /** how often open event streams check for changes */
  pollMs?: number;
  now?: () => number;
  /** prices for the cost view (default: src/sim/prices.ts defaults, overridden by MODELCDN_PRICES='k=v,…' or JSON) */
  prices?: PriceTable;
  /** folder with the built front-end (default web/dist) */
  webRoot?: string;
}

export interface Dashboard {
  routes: Route[];
  /** serve `/` and `/assets/*`; false when the request is not for the front-end */
  serveStatic(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** take the optional `cache` figures out of an edge's demand report body */
  noteDemandReport(body: unknown): void;
  snapshot(windowSeconds?: number): DashboardSnapshot;
  /** push a fresh snapshot to open event streams now */
  changed(): void;
  readonly egress: ByteSeries;
  close(): void;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

function windowOf(url: URL, dflt: number): number {
  const w = url.searchParams.get('window');
  if (w === null) return dflt;
  const n = Number(w);
  if (!Number.isInteger(n) || n < MIN_WINDOW_SECONDS || n > MAX_WINDOW_SECONDS) {
    throw inputError('BAD_WINDOW', `window must be whole seconds from ${MIN_WINDOW_SECONDS} to ${MAX_WINDOW_SECONDS}`);
  }
  return n;
}

function sendJson(req: IncomingMessage, res: ServerResponse, body: unknown): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(buf.length), 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : buf);
}

/** copy only the documented fields (providers may carry more) */
function stagedVersion(s: StagedVersion): StagedVersion {
  return {
    name: s.name,
    version: s.version,
    status: s.status,
    stagedAt: s.stagedAt,
    deployedAt: s.deployedAt,
    totalBytes: s.totalBytes,
    readyEdges: s.readyEdges,
    knownEdges: s.knownEdges,
    edges: s.edges.map((e) => ({ edge: e.edge, region: e.region, readyBytes: e.readyBytes, totalBytes: e.totalBytes, ready: e.ready, connected: e.connected })),
  };
}

export function createDashboard(opts: DashboardOptions): Dashboard {
  const { registry } = opts;
  const now = opts.now ?? Date.now;
  const defaultWindow = opts.windowSeconds ?? DEFAULT_WINDOW_SECONDS;
  const egress = new ByteSeries();
  const caches = new Map<string, EdgeCacheReport>();
  let cacheReports = 0;
  const hub = new SseHub();
  const serveStatic = staticHandler({ index: 'index.html', ...(opts.webRoot ? { root: opts.webRoot } : {}) });
  opts.metrics?.onRequest((o) => {
    if (EGRESS_ROUTES.has(o.route)) egress.add(o.bytes, now());
  });

  // the models view changes only with versions, channels, artifacts and patches: recompute then
  const modelsStampStmt = registry.db.prepare(
    `SELECT (SELECT COUNT(*) FROM versions) || ':' || (SELECT COUNT(*) FROM versions WHERE status = 'ready') || ':' ||
            (SELECT COALESCE(MAX(updated_at), 0) FROM channels) || ':' || (SELECT COUNT(*) FROM artifacts) || ':' || (SELECT COUNT(*) FROM patches) AS k`,
  );
  let modelsMemo: { key: string; view: ModelsView } | undefined;
  const models = (): ModelsView => {
    const key = (modelsStampStmt.get() as { k: string }).k;
    if (modelsMemo?.key !== key) modelsMemo = { key, view: modelsView(registry) };
    return modelsMemo.view;
  };
  const staging = (): StagingView => (opts.staging ? { available: true, staged: opts.staging().map(stagedVersion) } : { available: false, staged: [] });
  const edges = (w: number): EdgesView => {
    const t = now();
    const e = edgeSummaries(registry, t, w, caches);
    return { windowSeconds: w, bucketSeconds: e.bucketSeconds, edges: e.edges, originEgress: egress.series(t) };
  };
  const placement = (w: number) => placementView(registry, now(), w, opts.placementPins?.(), caches.keys());
  const prices = opts.prices ?? resolvePrices(process.env['MODELCDN_PRICES']);
  const costOf = (w: number) => {
    const t = now();
    const s = egress.series(t);
    // measured origin egress inside the window (the series keeps recent buckets; older traffic is outside any window it covers)
    const since = t / 1000 - w;
    const inWindow = s.t.reduce((sum, bt, i) => (bt + s.bucketSeconds > since ? sum + s.bytes[i]! : sum), 0);
    return costView(registry, t, w, inWindow, caches, prices);
  };
  const snapshot = (w = defaultWindow): DashboardSnapshot => ({
    generatedAt: new Date(now()).toISOString(),
    role: 'origin',
    models: models(),
    edges: edges(w),
    staging: staging(),
    placement: placement(w),
    cost: costOf(w),
  });

  // change detection for the event streams: cheap counters, compared once per poll
  const stampStmt = registry.db.prepare(
    `SELECT (SELECT COALESCE(MAX(id), 0) FROM demand) AS d, (SELECT COUNT(*) FROM versions) AS v,
            (SELECT COUNT(*) FROM versions WHERE status = 'ready') AS r, (SELECT COALESCE(MAX(updated_at), 0) FROM channels) AS c`,
  );
  const stamp = (): string => {
    const s = stampStmt.get() as { d: number; v: number; r: number; c: number };
    const st = opts.staging ? JSON.stringify(opts.staging()) : '';
    return `${s.d}:${s.v}:${s.r}:${s.c}:${egress.total}:${cacheReports}:${st.length}:${st}`;
  };
  let last = '';
  let timer: NodeJS.Timeout | undefined;
  const push = () => {
    last = stamp();
    hub.send(DASHBOARD_EVENTS.snapshot, snapshot());
  };
  const poll = () => {
    try {
      if (stamp() !== last) push();
    } catch {
      // the registry closed under us (shutdown): the next close() stops the timer
    }
  };
  hub.onCountChange = (n) => {
    if (n > 0 && !timer) timer = setInterval(poll, opts.pollMs ?? DEFAULT_POLL_MS).unref();
    if (n === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  const routes: Route[] = [
    route(['GET', 'HEAD'], DASHBOARD_ROUTES.snapshot, 'dashboardSnapshot', (req, res, _p, url) => sendJson(req, res, snapshot(windowOf(url, defaultWindow)))),
    route(['GET', 'HEAD'], DASHBOARD_ROUTES.models, 'dashboardModels', (req, res) => sendJson(req, res, models())),
    route(['GET', 'HEAD'], DASHBOARD_ROUTES.edges, 'dashboardEdges', (req, res, _p, url) => sendJson(req, res, edges(windowOf(url, defaultWindow)))),
    route(['GET', 'HEAD'], DASHBOARD_ROUTES.staging, 'dashboardStaging', (req, res) => sendJson(req, res, staging())),
    route(['GET', 'HEAD'], DASHBOARD_ROUTES.placement, 'dashboardPlacement', (req, res, _p, url) => sendJson(req, res, placement(windowOf(url, defaultWindow)))),
    route(['GET', 'HEAD'], DASHBOARD_ROUTES.cost, 'dashboardCost', (req, res, _p, url) => sendJson(req, res, costOf(windowOf(url, defaultWindow)))),
    route('GET', DASHBOARD_ROUTES.events, 'events', (req, res) => {
      if (!hub.open(req, res)) return;
      last = stamp();
      hub.sendTo(res, DASHBOARD_EVENTS.snapshot, snapshot());
    }),
  ];

  return {
    routes,
    serveStatic,
    egress,
    snapshot,
    changed: push,
    noteDemandReport(body) {
      if (typeof body !== 'object' || body === null) return;
      const b = body as Record<string, unknown>;
      const c = b['cache'];
      if (typeof b['region'] !== 'string' || typeof c !== 'object' || c === null) return;
      const cc = c as Record<string, unknown>;
      const usedBytes = num(cc['usedBytes']);
      const capacityBytes = num(cc['capacityBytes']);
      if (usedBytes === undefined || capacityBytes === undefined) return;
      if (caches.size >= MAX_EDGE_CACHE_REPORTS && !caches.has(b['region'])) return;
      caches.set(b['region'], {
        usedBytes,
        capacityBytes,
        entries: num(cc['entries']) ?? 0,
        pinnedBytes: num(cc['pinnedBytes']) ?? 0,
        reportedAt: new Date(now()).toISOString(),
      });
      cacheReports++;
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      hub.onCountChange = undefined;
      hub.close();
    },
  };
}
