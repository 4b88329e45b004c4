/**
 * Prometheus metrics for one server (origin or edge) on its own prom-client Registry — two servers
 * in one process never share counters. Request counters, body bytes and latency per route;
 * cache hits/misses/fills/evictions/coalesced waits read from the edge cache's own counters at
 * scrape time (no hot-path cost); prefetch bytes read from the prefetcher; deploy latency from the
 * origin's deploy route;
 * and the `/metrics` handler. Servers call `begin(res)` when a request arrives and
 * `observeRequest(...)` when it ends. Does not route, log or touch the registry database.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type ServerRole = 'origin' | 'edge';

export interface RequestObservation {
  method: string;
  /** the route's operation id ('unmatched' for 404s) — never the raw path (unbounded label values) */
  route: string;
  status: number;
  ms: number;
  /** response body bytes written */
  bytes: number;
}

/** The edge cache counters the metrics read at scrape time (EdgeBlobCache.getStats() has these). */
export interface CacheCounters {
  hits: number;
  misses: number;
  coalesced: number;
  bypasses: number;
  upstreamFetches: number;
  usedBytes: number;
  capacityBytes: number;
  pinnedBytes: number;
  entries: number;
  fillFailures?: number;
  corruptDetected?: number;
  /** present once the cache counts evictions */
  evictions?: number;
}

export interface Metrics {
  readonly role: ServerRole;
  readonly registry: Registry;
  /** start counting the body bytes `res` writes; read them with the returned function */
  begin(res: ServerResponse): () => number;
  observeRequest(o: RequestObservation): void;
  /** listeners see every observation (the dashboard's egress series uses this) */
  onRequest(fn: (o: RequestObservation) => void): void;
  /** read cache counters from here at every scrape */
  attachCache(read: () => CacheCounters): void;
  addEvictions(n: number): void;
  addPrefetchBytes(n: number): void;
  /** read the prefetcher's cumulative byte count at every scrape */
  attachPrefetch(read: () => number): void;
  observeDeploy(seconds: number): void;
  demandReport(items: number): void;
  /** the Prometheus text exposition */
  render(): Promise<{ contentType: string; body: string }>;
  /** a node:http handler for GET/HEAD /metrics */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** The origin's deploy route id: its successful requests feed the deploy latency histogram. */
export const DEPLOY_ROUTE = 'deployVersion';
export const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
export const DEPLOY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300];

/** Status label: the class (2xx…) keeps label cardinality small. */
export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'other';
}

export function createMetrics(role: ServerRole, opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const reg = [registry];
  const requests = new Counter({ name: 'modelcdn_http_requests_total', help: 'HTTP requests by route, method and status class', labelNames: ['route', 'method', 'status'], registers: reg });
  const bytes = new Counter({ name: 'modelcdn_http_response_bytes_total', help: 'response body bytes sent, by route', labelNames: ['route'], registers: reg });
  const latency = new Histogram({ name: 'modelcdn_http_request_duration_seconds', help: 'time from request to the end of the response, by route', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers: reg });
  let evictionsAdded = 0;
  let prefetchAdded = 0;
  let readCache: (() => CacheCounters) | undefined;
  let readPrefetch: (() => number) | undefined;
  new Counter({
    name: 'modelcdn_prefetch_bytes_total',
    help: 'bytes fetched ahead of demand (staging, placement, prediction)',
    registers: reg,
    collect(this: Counter) {
      this.reset();
      this.inc(prefetchAdded + (readPrefetch?.() ?? 0));
    },
  });
  const deploy = new Histogram({
    name: 'modelcdn_deploy_latency_seconds',
    help: 'deploy commands at the origin: from request to the channel flipped and every connected edge notified',
    buckets: DEPLOY_BUCKETS,
    registers: reg,
  });
  const listeners: ((o: RequestObservation) => void)[] = [];

  const fromCache = (name: string, help: string, pick: (c: CacheCounters) => number | undefined, kind: 'counter' | 'gauge') => {
    const collect = function (this: Counter | Gauge) {
      const c = readCache?.();
      this.reset();
      const v = c ? pick(c) : undefined;
      if (v !== undefined) (this as Counter).inc(v);
    };
    if (kind === 'counter') new Counter({ name, help, registers: reg, collect });
    else new Gauge({ name, help, registers: reg, collect: function (this: Gauge) { const c = readCache?.(); this.set(c ? (pick(c) ?? 0) : 0); } });
  };
  if (role === 'edge') {
    fromCache('modelcdn_cache_hits_total', 'blob requests served from the edge cache', (c) => c.hits, 'counter');
    fromCache('modelcdn_cache_misses_total', 'blob requests that started an upstream fetch or bypass', (c) => c.misses, 'counter');
    fromCache('modelcdn_cache_fills_total', 'upstream fetches started to fill the cache', (c) => c.upstreamFetches, 'counter');
    fromCache('modelcdn_cache_coalesced_waits_total', 'requests that joined a fill already in flight instead of fetching again', (c) => c.coalesced, 'counter');
    fromCache('modelcdn_cache_bypasses_total', 'misses streamed without caching (too large, disk full, not admitted)', (c) => c.bypasses, 'counter');
    fromCache('modelcdn_cache_fill_failures_total', 'fills that failed (upstream error, verification mismatch)', (c) => c.fillFailures, 'counter');
    fromCache('modelcdn_cache_corrupt_detected_total', 'cached blobs found corrupt and dropped', (c) => c.corruptDetected, 'counter');
    fromCache('modelcdn_cache_evictions_total', 'blobs evicted to hold the byte budget', (c) => (c.evictions ?? 0) + evictionsAdded, 'counter');
    fromCache('modelcdn_cache_used_bytes', 'bytes held by the cache (complete entries plus reservations of fills)', (c) => c.usedBytes, 'gauge');
    fromCache('modelcdn_cache_capacity_bytes', 'the cache byte budget', (c) => c.capacityBytes, 'gauge');
    fromCache('modelcdn_cache_pinned_bytes', 'bytes pinned for prefetch and placement', (c) => c.pinnedBytes, 'gauge');
    fromCache('modelcdn_cache_entries', 'blobs in the cache', (c) => c.entries, 'gauge');
  }
  const demandReports = role === 'origin' ? new Counter({ name: 'modelcdn_demand_reports_total', help: 'edge demand reports received', registers: reg }) : undefined;
  const demandItems = role === 'origin' ? new Counter({ name: 'modelcdn_demand_items_total', help: 'demand items received from edges', registers: reg }) : undefined;

  const metrics: Metrics = {
    role,
    registry,
    begin(res) {
      let n = 0;
      const write = res.write;
      const end = res.end;
      const count = (chunk: unknown, enc: unknown) => {
        if (chunk == null || typeof chunk === 'function') return;
        if (typeof chunk === 'string') n += Buffer.byteLength(chunk, typeof enc === 'string' ? (enc as BufferEncoding) : 'utf8');
        else if (chunk instanceof Uint8Array) n += chunk.byteLength;
      };
      res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
        count(chunk, rest[0]);
        return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
      } as ServerResponse['write'];
      res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
        count(chunk, rest[0]);
        return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
      } as ServerResponse['end'];
      return () => n;
    },
    observeRequest(o) {
      requests.inc({ route: o.route, method: o.method, status: statusClass(o.status) });
      if (o.route === DEPLOY_ROUTE && o.status < 300) deploy.observe(o.ms / 1000);
      if (o.bytes > 0) bytes.inc({ route: o.route }, o.bytes);
      latency.observe({ route: o.route }, o.ms / 1000);
      for (const l of listeners) l(o);
    },
    onRequest(fn) {
      listeners.push(fn);
    },
    attachCache(read) {
      readCache = read;
    },
    addEvictions(n) {
      evictionsAdded += n;
    },
    addPrefetchBytes(n) {
      if (n > 0) prefetchAdded += n;
    },
    attachPrefetch(read) {
      readPrefetch = read;
    },
    observeDeploy(seconds) {
      deploy.observe(seconds);
    },
    demandReport(items) {
      demandReports?.inc();
      demandItems?.inc(items);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    async handle(req, res) {
      const { contentType, body } = await metrics.render();
      const buf = Buffer.from(body);
      res.writeHead(200, { 'content-type': contentType, 'content-length': String(buf.length), 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : buf);
    },
  };
  return metrics;
}
