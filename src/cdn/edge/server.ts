/**
 * The edge HTTP server (node:http): the origin's read API served from the blob cache and the
 * metadata cache — /healthz, /v1/models…, manifests, channels, the public key, /v1/blobs/:hash (GET
 * and HEAD with ETag, conditionals and single Range) and raw files resolved through the version's
 * manifest (Accept-Encoding picks a precompressed variant's blob). Misses stream to the client while
 * the cache fills. Every request path is validated (no traversal in any encoding) before use. Also
 * runs the demand reporter. Composition only: caching logic lives in blob-cache.ts / meta-cache.ts.
 */
import { open } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McdnError } from '../../errors.ts';
import {
  CACHE_IMMUTABLE,
  errorResponse,
  httpError,
  negotiateEncoding,
  parseRange,
  planResponse,
  splitUrlPath,
  strongEtag,
  validateChannel,
  validateFilePath,
  validateHash,
  validateModelName,
  validateVersion,
  type ContentCoding,
} from '../http/index.ts';
import { parseManifest, type Manifest } from '../manifest/index.ts';
import { EdgeBlobCache, type FillIo, type VerifyMode } from './blob-cache.ts';
import { DemandRecorder, DemandReporter } from './demand.ts';
import { EdgeIndexDb } from './index-db.ts';
import { MetaCache } from './meta-cache.ts';
import { pumpBody, serveBuffer, serveFile, serveFileVerified, serveFromFill } from './serve.ts';
import { Upstream } from './upstream.ts';
import { Prefetcher, type PrefetcherOptions } from '../prefetch/edge.ts';
import { join } from 'node:path';
import { createEdgeStatus } from '../dashboard/edge-status.ts';
import { createMetrics, routeIdOf, type Metrics } from '../metrics/index.ts';
import { assignRequestId, createLogger, logRequest, type Logger } from '../logging/logger.ts';

export interface EdgeOptions {
  origin: string;
  parent?: string | undefined;
  region: string;
  cacheDir: string;
  cacheSizeBytes: number;
  port?: number;
  host?: string;
  policy?: string;
  verify?: VerifyMode;
  /** demand report interval; 0 disables the timer (reports can still be flushed) */
  demandIntervalMs?: number;
  metaTtlS?: number;
  /** fill write path (tests inject ENOSPC) */
  io?: FillIo;
  diskFullBackoffMs?: number;
  upstreamIdleTimeoutMs?: number;
  /** RAM tier for hot blobs in bytes (0 disables; default 512 MiB) */
  memoryBytes?: number;
  /** re-hash every cached blob this often (catches silent corruption); 0 = never */
  scrubIntervalMs?: number;
  log?: (msg: string) => void;
  /** Prometheus metrics served at /metrics (default: a registry of this server's own) */
  metrics?: Metrics;
  /** JSON request logs (default: pino to stderr; level MODELCDN_LOG_LEVEL, else info; only errors under node --test) */
  logger?: Logger;
  /** run the prefetcher (push channel from the origin, off-peak staged/planned prefetch; src/cdn/prefetch) */
  prefetch?: Omit<PrefetcherOptions, 'cache' | 'upstream' | 'meta' | 'region' | 'log'>;
}

export interface EdgeServer {
  url: string;
  port: number;
  cache: EdgeBlobCache;
  upstream: Upstream;
  demand: DemandRecorder;
  reporter: DemandReporter;
  prefetcher: Prefetcher | undefined;
  server: http.Server;
  close(): Promise<void>;
}

const OCTET = 'application/octet-stream';

/** bytes a Range header asks for (for hotness accounting); undefined = the whole blob */
function rangeLength(header: string | undefined, size: number | undefined): number | undefined {
  if (!header || size === undefined) return undefined;
  const d = parseRange(header, size);
  return d.kind === 'partial' ? d.range.end - d.range.start : undefined;
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length), ...headers });
  res.end(body);
}

function sendError(res: ServerResponse, e: unknown, log: (m: string) => void): void {
  const { status, body } = errorResponse(e);
  if (status >= 500) log(`edge: ${status} ${(e as Error)?.stack ?? e}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, body);
}

export async function startEdge(opts: EdgeOptions): Promise<EdgeServer> {
  const log = opts.log ?? (() => {});
  const upstream = new Upstream({ origin: opts.origin, parent: opts.parent, ...(opts.upstreamIdleTimeoutMs ? { idleTimeoutMs: opts.upstreamIdleTimeoutMs } : {}) });
  const cache = new EdgeBlobCache({
    dir: opts.cacheDir,
    capacityBytes: opts.cacheSizeBytes,
    upstream,
    ...(opts.policy ? { policy: opts.policy } : {}),
    ...(opts.verify ? { verify: opts.verify } : {}),
    ...(opts.io ? { io: opts.io } : {}),
    ...(opts.diskFullBackoffMs !== undefined ? { diskFullBackoffMs: opts.diskFullBackoffMs } : {}),
    ...(opts.memoryBytes !== undefined ? { memoryBytes: opts.memoryBytes } : {}),
    log,
  });
  await cache.open();
  const metaDb = new EdgeIndexDb(join(opts.cacheDir, 'meta.sqlite'));
  const meta = new MetaCache(upstream, metaDb, opts.metaTtlS);
  const demand = new DemandRecorder();
  const reporter = new DemandReporter(demand, upstream, opts.region, opts.demandIntervalMs ?? 30_000, log);
  meta.onFetched = (key, body) => {
    if (!key.endsWith('/manifest')) return;
    const m = manifestOf(body);
    if (m) demand.noteManifest(m);
  };
  const started = Date.now();
  // status page (`/`, /v1/edge/status), /metrics and request logs: src/cdn/dashboard, metrics, logging
  const metrics = opts.metrics ?? createMetrics('edge');
  metrics.attachCache(() => cache.getStats());
  metrics.attachPrefetch(() => prefetcher?.fetchedBytes ?? 0);
  const logger = opts.logger ?? createLogger({ role: 'edge', base: { region: opts.region } });
  const statusPage = createEdgeStatus({ region: opts.region, upstream: upstream.bases, startedAt: started, stats: () => cache.getStats(), pins: () => cache.pins().size, reports: () => ({ sent: reporter.sent, failures: reporter.failures }) });
  reporter.extra = () => {
    const s = cache.getStats();
    return { cache: { usedBytes: s.usedBytes, capacityBytes: s.capacityBytes, entries: s.entries, pinnedBytes: s.pinnedBytes } };
  };
  const prefetcher = opts.prefetch ? new Prefetcher({ ...opts.prefetch, cache, upstream, meta, region: opts.region, log }) : undefined;

  function manifestOf(body: Buffer): Manifest | undefined {
    // the edge does not verify signatures (clients do); it only reads the payload to route requests
    try {
      const env = JSON.parse(body.toString('utf8')) as { payload?: unknown };
      if (typeof env.payload !== 'string') return undefined;
      return parseManifest(new Uint8Array(Buffer.from(env.payload, 'base64')));
    } catch {
      return undefined;
    }
  }

  async function serveMeta(req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
    const r = await meta.get(key);
    const headers: Record<string, string> = { ...r.headers, 'x-cache': r.cache, age: String(r.ageS), 'content-length': String(r.body.length) };
    res.writeHead(r.status, headers);
    res.end(req.method === 'HEAD' ? undefined : r.body);
  }

  /** Serve a blob by hash: hit, fill (started or joined) or bypass. */
  async function serveBlob(
    req: IncomingMessage,
    res: ServerResponse,
    hash: string,
    extra: Record<string, string>,
    owner?: { model: string; version: string },
  ): Promise<void> {
    const head = req.method === 'HEAD';
    const etag = strongEtag(hash);
    for (let attempt = 0; attempt < 2; attempt++) {
      const entry = cache.peek(hash);
      if (entry || !head) {
        const a = await cache.acquire(hash, rangeLength(req.headers.range as string | undefined, entry?.size));
        if (a.kind === 'hit' && a.mem) {
          // hot blob: its verified RAM copy
          const plan = planResponse(req.headers, etag, a.entry.size);
          res.writeHead(plan.status, { 'content-type': OCTET, 'cache-control': CACHE_IMMUTABLE, 'x-cache': 'HIT-MEM', ...extra, ...plan.headers });
          const sent = head || !plan.range ? (res.end(), 0) : await serveBuffer(res, a.mem, plan.range);
          demand.record(hash, sent, true, owner);
          return;
        }
        if (a.kind === 'hit') {
          const fh = await open(a.entry.path, 'r').catch(() => undefined);
          if (!fh) continue; // evicted between lookup and open
          const st = await fh.stat();
          if (!(await cache.checkBeforeServe(a.entry, st))) {
            await fh.close();
            continue; // corrupt: dropped; the next round refetches
          }
          const plan = planResponse(req.headers, etag, a.entry.size);
          res.writeHead(plan.status, { 'content-type': OCTET, 'cache-control': CACHE_IMMUTABLE, 'x-cache': 'HIT', ...extra, ...plan.headers });
          if (head || !plan.range) {
            await fh.close();
            res.end();
            demand.record(hash, 0, true, owner);
            return;
          }
          const sent =
            cache.verify === 'always'
              ? await serveFileVerified(res, fh, a.entry, plan.range, () => cache.reportCorrupt(hash))
              : await serveFile(res, fh, plan.range);
          demand.record(hash, sent, true, owner);
          return;
        }
        if (a.kind === 'fill') {
          const plan = planResponse(req.headers, etag, a.fill.size);
          res.writeHead(plan.status, { 'content-type': OCTET, 'cache-control': CACHE_IMMUTABLE, 'x-cache': a.started ? 'MISS' : 'MISS-COALESCED', ...extra, ...plan.headers });
          if (head || !plan.range) {
            res.end();
            return;
          }
          const sent = await serveFromFill(res, a.fill, plan.range, upstream);
          demand.record(hash, sent, false, owner);
          return;
        }
        // bypass: stream straight from upstream (or from the response the miss already fetched)
        const r = a.response;
        if (r) {
          const size = Number(r.headers['content-length']);
          const plan = planResponse(req.headers, etag, Number.isSafeInteger(size) ? size : 0);
          if (!Number.isSafeInteger(size) || plan.status !== 200 && plan.status !== 206) {
            r.body.destroy();
          } else {
            res.writeHead(plan.status, { 'content-type': OCTET, 'cache-control': CACHE_IMMUTABLE, 'x-cache': 'BYPASS', ...extra, ...plan.headers });
            const sent = await pumpBody(res, r.body, plan.range!.start, plan.range!.end - plan.range!.start);
            demand.record(hash, sent, false, owner);
            return;
          }
        }
      }
      // HEAD of an uncached blob, or a bypass without a usable response: proxy the request as is
      const fwd: Record<string, string> = {};
      for (const k of ['range', 'if-range', 'if-none-match', 'if-match']) {
        const v = req.headers[k];
        if (typeof v === 'string') fwd[k] = v;
      }
      const r = await upstream.request(`/v1/blobs/${hash}`, { method: head ? 'HEAD' : 'GET', headers: fwd });
      const out: Record<string, string> = { 'x-cache': 'BYPASS', ...extra };
      for (const k of ['content-type', 'content-length', 'content-range', 'etag', 'accept-ranges', 'cache-control']) {
        const v = r.headers[k];
        if (typeof v === 'string') out[k] = v;
      }
      res.writeHead(r.status, out);
      if (head) {
        r.body.resume();
        res.end();
        return;
      }
      const len = Number(r.headers['content-length']);
      const sent = await pumpBody(res, r.body, 0, Number.isSafeInteger(len) ? len : Number.MAX_SAFE_INTEGER);
      if (r.status < 300) demand.record(hash, sent, false, owner);
      return;
    }
    throw new McdnError('EDGE_BLOB_UNSTABLE', 'internal', `blob ${hash} kept changing while being served`);
  }

  async function serveFile_(req: IncomingMessage, res: ServerResponse, name: string, version: string, path: string): Promise<void> {
    const mr = await meta.get(`/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}/manifest`);
    if (mr.status !== 200) {
      res.writeHead(mr.status, { 'content-type': mr.headers['content-type'] ?? 'application/json', 'content-length': String(mr.body.length) });
      res.end(mr.body);
      return;
    }
    const m = manifestOf(mr.body);
    if (!m) throw new McdnError('EDGE_BAD_MANIFEST', 'network', `upstream manifest of ${name}@${version} is unreadable`);
    demand.noteManifest(m);
    const f = m.files.find((x) => x.path === path);
    if (!f) throw new McdnError('FILE_NOT_FOUND', 'not_found', `${name}@${version} has no file '${path}'`);
    const available = (['zstd', 'br', 'gzip'] as ContentCoding[]).filter((c) => f.encodings?.[c]);
    const coding = negotiateEncoding(req.headers['accept-encoding'] as string | undefined, available);
    const blob = coding === 'identity' ? f.sha256 : f.encodings![coding]!.blob;
    const extra: Record<string, string> = { vary: 'Accept-Encoding' };
    if (coding !== 'identity') extra['content-encoding'] = coding;
    await serveBlob(req, res, blob, extra, { model: m.name, version: m.version });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const segs = splitUrlPath(q >= 0 ? rawUrl.slice(0, q) : rawUrl);
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    const s0 = segs[0];
    if (s0 === 'healthz' && segs.length === 1 && read) {
      sendJson(res, 200, { ok: true, role: 'edge', region: opts.region, upstream: upstream.bases, uptimeS: Math.round((Date.now() - started) / 1000), cache: cache.getStats() });
      return;
    }
    if (s0 === '.well-known' && segs[1] === 'modelcdn' && segs[2] === 'public-key' && segs.length === 3 && read) {
      return serveMeta(req, res, '/.well-known/modelcdn/public-key');
    }
    if (s0 === 'metrics' && segs.length === 1 && read) return metrics.handle(req, res);
    if (read && (s0 === '' || s0 === 'index.html' || s0 === 'assets') && (await statusPage.handle(req, res))) return;
    if (s0 !== 'v1') throw httpError(404, 'NOT_FOUND', 'not_found', `no route for ${method} ${rawUrl.slice(0, 200)}`);
    if (!read) throw httpError(405, 'METHOD_NOT_ALLOWED', 'input', `${method} is not served by an edge (it is read-only)`, 'send writes to the origin');
    const s1 = segs[1];
    if (s1 === 'blobs' && segs.length === 3) {
      const hash = validateHash(segs[2]!);
      // RFC 9111 §5.2.1.7: a sibling edge asks only for what is here (no fill from upstream)
      if (/(^|,)\s*only-if-cached\s*(,|$)/i.test(String(req.headers['cache-control'] ?? '')) && !cache.peek(hash)) {
        sendJson(res, 504, { error: { code: 'NOT_CACHED', category: 'not_found', message: `blob ${hash} is not cached at this edge` } }, { 'cache-control': 'no-store' });
        return;
      }
      return serveBlob(req, res, hash, {});
    }
    if (s1 === 'models') {
      if (segs.length === 2) return serveMeta(req, res, '/v1/models');
      const name = validateModelName(segs[2]!);
      const en = encodeURIComponent(name);
      if (segs.length === 3) return serveMeta(req, res, `/v1/models/${en}`);
      if (segs[3] === 'channels' && segs.length === 5) return serveMeta(req, res, `/v1/models/${en}/channels/${encodeURIComponent(validateChannel(segs[4]!))}`);
      if (segs[3] === 'versions' && segs.length >= 6) {
        const version = validateVersion(segs[4]!);
        if (segs[5] === 'manifest' && segs.length === 6) return serveMeta(req, res, `/v1/models/${en}/versions/${encodeURIComponent(version)}/manifest`);
        if (segs[5] === 'files' && segs.length >= 7) return serveFile_(req, res, name, version, validateFilePath(segs.slice(6).join('/')));
      }
    }
    if (s1 === 'edge' && segs[2] === 'prefetch' && segs.length === 3 && prefetcher) {
      sendJson(res, 200, prefetcher.status(), { 'cache-control': 'no-store' });
      return;
    }
    if (s1 === 'edge' && segs[2] === 'status' && segs.length === 3 && (await statusPage.handle(req, res))) return;
    if (s1 === 'edge' && segs[2] === 'stats' && segs.length === 3) {
      sendJson(res, 200, { region: opts.region, cache: cache.getStats(), pins: Object.fromEntries(cache.pins()), demandReports: { sent: reporter.sent, failures: reporter.failures } });
      return;
    }
    throw httpError(404, 'NOT_FOUND', 'not_found', `no route for ${method} ${rawUrl.slice(0, 200)}`);
  }

  const server = http.createServer((req, res) => {
    const t0 = performance.now();
    const reqId = assignRequestId(req, res);
    const sentBytes = metrics.begin(res);
    let failure: unknown;
    res.once('close', () => {
      const o = { method: req.method ?? 'GET', route: routeIdOf(req.url), status: res.statusCode, ms: performance.now() - t0, bytes: sentBytes() };
      metrics.observeRequest(o);
      logRequest(logger, { reqId, ...o }, failure);
    });
    route(req, res).catch((e) => {
      failure = e;
      sendError(res, e, log);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8081, opts.host ?? '127.0.0.1', () => resolve());
  });
  reporter.start();
  const listenHost = opts.host ?? '127.0.0.1';
  await prefetcher?.start(`http://${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${(server.address() as AddressInfo).port}`);
  let scrubbing: Promise<unknown> | undefined;
  const scrubTimer =
    opts.scrubIntervalMs && opts.scrubIntervalMs > 0
      ? setInterval(() => {
          scrubbing ??= cache
            .scrub()
            .then((bad) => bad > 0 && log(`edge: scrub dropped ${bad} corrupt blob(s)`))
            .catch((e: unknown) => log(`edge: scrub failed: ${(e as Error).message}`))
            .finally(() => (scrubbing = undefined));
        }, opts.scrubIntervalMs)
      : undefined;
  scrubTimer?.unref();
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    cache,
    upstream,
    demand,
    reporter,
    prefetcher,
    server,
    async close() {
      await prefetcher?.close();
      statusPage.close();
      if (scrubTimer) clearInterval(scrubTimer);
      cache.stopScrub();
      await scrubbing;
      await reporter.stop().catch(() => {});
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await cache.close();
      upstream.close();
      metaDb.close();
    },
  };
}
