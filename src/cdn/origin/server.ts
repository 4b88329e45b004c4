/**
 * The origin HTTP server (node:http; see docs/api.md and docs/openapi.json): public reads of models,
 * channels, signed manifests, blobs by hash and raw files with Accept-Encoding negotiation; token-
 * protected resumable publishing; background publish jobs; edge demand reports. Composes the
 * registry, a BlobStore (filesystem by default; any BlobStore plugs in), the pure HTTP pieces in
 * ../http and the publish job runner. Listens where it is told (tests: 127.0.0.1, port 0).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { McdnError, inputError } from '../../errors.ts';
import { FsBlobStore, type BlobStore } from '../../store/index.ts';
import { CACHE_IMMUTABLE, CACHE_SHORT, httpError, notFound } from '../http/errors.ts';
import { CONTENT_CODINGS, negotiateEncoding, type ContentCoding } from '../http/encoding.ts';
import { noneMatchHits, strongEtag } from '../http/etag.ts';
import { readJsonBody, sendError, sendFile, sendJson, sendRepresentation } from '../http/send.ts';
import { splitUrlPath, validateChannel, validateFilePath, validateHash, validateModelName, validateVersion } from '../http/validate.ts';
import { publicKeyDocument, type KeyPair } from '../manifest/sign.ts';
import { MAX_MANIFEST_FILES } from '../manifest/manifest.ts';
import { Registry, type DemandItem, type FileRow, type VersionRow } from '../registry/registry.ts';
import { sha256Hex } from '../../util/hash.ts';
import { ensureDataDir, loadOrCreateKeys } from './data-dir.ts';
import { startProcessorWorker, type Processors } from './processors.ts';
import { JobQueue } from './publish-job.ts';
import { matchRoute, route, type Params, type Route } from './router.ts';
import { Uploads } from './uploads.ts';
import { createPrefetchOrigin, type PrefetchOrigin } from '../prefetch/origin.ts';
import { createDashboard } from '../dashboard/routes.ts';
import { createMetrics, type Metrics } from '../metrics/metrics.ts';
import { createLogger, logRequest, type Logger } from '../logging/logger.ts';

export const DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 ** 3;
export const MAX_JSON_BODY_BYTES = 16 * 1024 * 1024;
export const MAX_DEMAND_ITEMS = 10_000;
export const DEFAULT_PATCH_HISTORY = 3;
/** Lifetime of presigned blob URLs handed out with --redirect-blobs. */
export const PRESIGN_SECONDS = 300;
/** Upload sessions not touched for this long are dropped at start. */
export const STALE_UPLOAD_MS = 7 * 24 * 3600_000;
/** Cache-Control of a ready version's manifest: immutable content, but edges should recheck now and then (key rotation). */
export const CACHE_MANIFEST = 'public, max-age=300';

export interface OriginOptions {
  dataDir: string;
  host?: string;
  port?: number;
  /** default: FsBlobStore under <dataDir>/blobs */
  store?: BlobStore;
  /** earlier ready versions that get a patch to each new version (default 3) */
  patchHistory?: number;
  maxUploadBytes?: number;
  /** precompressed variants to produce at publish (default zstd, br, gzip) */
  encodings?: ContentCoding[];
  /** override the codec/delta/formats hooks (default: whatever those modules export) */
  processors?: Processors;
  /**
   * answer blob GETs (not HEAD, not raw files) with a 302 to a presigned URL when the store offers
   * `presignedUrl` (S3): clients then fetch the bytes from the bucket directly
   */
  redirectBlobs?: boolean;
  /** require a token for reads too (default: reads are public); health, public key and openapi stay open */
  privateReads?: boolean;
  /** observe every finished request (metrics later) */
  onRequest?: (info: { method: string; route: string; status: number; ms: number }) => void;
  /** Prometheus metrics served at /metrics (default: a registry of this server's own) */
  metrics?: Metrics;
  /** JSON request logs (default: pino to stderr; level MODELCDN_LOG_LEVEL, else info; only errors under node --test) */
  logger?: Logger;
}

export interface OriginServer {
  url: string;
  server: Server;
  registry: Registry;
  store: BlobStore;
  keys: KeyPair;
  jobs: JobQueue;
  /**
   * 'version-ready' (VersionRow) when a publish job made a version visible, 'channel' ({name,
   * channel, version}) when a channel moved — the hook for push channels to edges (SSE, issue 7)
   */
  events: EventEmitter;
  /** the route table (methods, path pattern, operation id) — checked against docs/openapi.json by a test */
  routes: { methods: string[]; path: string; id: string }[];
  /** staging, deploy, readiness, placement plan and the edges' push channel (src/cdn/prefetch) */
  prefetch: PrefetchOrigin;
  close(): Promise<void>;
}

/** Reads may be used from any web page (public, immutable content); publishing is not exposed to browsers. */
const CORS_READ_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'Content-Length, Content-Range, Content-Encoding, Accept-Ranges, ETag, X-Request-Id',
};
const CORS_PREFLIGHT_HEADERS = {
  'access-control-allow-methods': 'GET, HEAD',
  'access-control-allow-headers': 'Range, If-None-Match, If-Match, If-Range, Authorization, X-Request-Id',
  'access-control-max-age': '86400',
};

/** Routes that stay open when reads are private. */
const PUBLIC_ROUTES = new Set(['health', 'openapi', 'publicKey']);

const OPENAPI_PATH = new URL('../../../docs/openapi.json', import.meta.url);

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers['authorization'];
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonNegInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw inputError('BAD_FIELD', `${what} must be a non-negative integer`);
  return v;
}

function timeMs(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.floor(v);
  if (typeof v === 'string' && !Number.isNaN(Date.parse(v))) return Date.parse(v);
  throw inputError('BAD_FIELD', `${what} must be epoch milliseconds or an ISO date`);
}

function contentTypeFor(f: FileRow): string {
  if (f.path.endsWith('.json')) return 'application/json';
  if (f.format === 'text' || f.path.endsWith('.txt')) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

export async function startOrigin(opts: OriginOptions): Promise<OriginServer> {
  const paths = ensureDataDir(opts.dataDir);
  const registry = new Registry(paths.db);
  const keys = loadOrCreateKeys(paths.keys);
  const store = opts.store ?? new FsBlobStore(paths.blobs);
  const worker = opts.processors ? undefined : await startProcessorWorker();
  const processors = opts.processors ?? worker!;
  const events = new EventEmitter();
  const { ChunkStore } = await import('../../store/chunks/chunk-store.ts');
  const chunkStore = new ChunkStore(store, `${paths.root}/chunks.db`);
  const jobs = new JobQueue({
    chunks: chunkStore,
    registry,
    store,
    keys,
    processors,
    workDir: paths.work,
    patchHistory: opts.patchHistory ?? DEFAULT_PATCH_HISTORY,
    encodings: opts.encodings ?? [...CONTENT_CODINGS],
    onReady: (v) => {
      events.emit('version-ready', v);
      if (v.channel) events.emit('channel', { name: v.name, channel: v.channel, version: v.version });
    },
  });
  const uploads = new Uploads(registry, store, paths.uploads, opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES);
  const publicKey = publicKeyDocument(keys.publicKey);
  const startedAt = Date.now();

  const requireToken = (req: IncomingMessage): string => {
    const t = bearer(req);
    if (!t) throw new McdnError('AUTH_REQUIRED', 'auth', 'publishing needs a bearer token', { remedy: 'pass --token (create one with `modelcdn token create`)' });
    const id = registry.verifyToken(t);
    if (!id) throw new McdnError('AUTH_INVALID', 'auth', 'the bearer token is not valid or was revoked', { remedy: 'create a new token with `modelcdn token create`' });
    return id;
  };

  const prefetch = createPrefetchOrigin({ registry, events, requireToken });
  // dashboard (`/`, /v1/dashboard*, /v1/events), /metrics and request logs: src/cdn/dashboard, metrics, logging
  const metrics = opts.metrics ?? createMetrics('origin');
  const logger = opts.logger ?? createLogger({ role: 'origin' });
  const dashboard = createDashboard({ registry, metrics, staging: () => prefetch.stages(), placementPins: () => prefetch.placementPins() });

  const readyVersion = (p: Params): VersionRow => {
    const name = validateModelName(p['name']!);
    const version = validateVersion(p['version']!);
    const v = registry.getVersion(name, version);
    if (!v || v.status !== 'ready') throw notFound('VERSION_NOT_FOUND', `${name}@${version} is not published`);
    return v;
  };

  const serveBlob = async (req: IncomingMessage, res: ServerResponse, hash: string, extra: { contentType?: string; contentEncoding?: string; vary?: string } = {}) => {
    const st = await store.stat(hash);
    if (!st) throw notFound('BLOB_NOT_FOUND', `blob ${hash} is not on this origin`);
    const info = {
      etag: strongEtag(hash),
      size: st.size,
      contentType: extra.contentType ?? 'application/octet-stream',
      cacheControl: CACHE_IMMUTABLE,
      ...(extra.contentEncoding ? { contentEncoding: extra.contentEncoding } : {}),
      ...(extra.vary ? { vary: extra.vary } : {}),
    };
    if (store instanceof FsBlobStore) await sendFile(req, res, info, store.pathOf(hash));
    else await sendRepresentation(req, res, info, async (start, end) => store.stream(hash, { start, end }));
  };

  const routes: Route[] = [
    route(['GET', 'HEAD'], '/healthz', 'health', (req, res) => {
      sendJson(res, 200, { ok: true, role: 'origin', keyId: keys.keyId, uptimeMs: Date.now() - startedAt, schemaVersion: registry.schemaVersion() }, { 'cache-control': 'no-store' }, req.method === 'HEAD');
    }),
    route(['GET', 'HEAD'], '/openapi.json', 'openapi', (req, res) => {
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(OPENAPI_PATH, 'utf8'));
      } catch {
        throw notFound('OPENAPI_MISSING', 'docs/openapi.json is not installed with this origin');
      }
      sendJson(res, 200, doc, { 'cache-control': 'public, max-age=60' }, req.method === 'HEAD');
    }),
    route(['GET', 'HEAD'], '/.well-known/modelcdn/public-key', 'publicKey', (req, res) => {
      sendJson(res, 200, publicKey, { 'cache-control': 'public, max-age=300' }, req.method === 'HEAD');
    }),
    route(['GET', 'HEAD'], '/v1/models', 'listModels', (req, res) => {
      sendJson(res, 200, { models: registry.listModels() }, { 'cache-control': CACHE_SHORT }, req.method === 'HEAD');
    }),
    route(['GET', 'HEAD'], '/v1/models/:name', 'getModel', (req, res, p) => {
      const name = validateModelName(p['name']!);
      const versions = registry.listVersions(name);
      if (versions.length === 0) throw notFound('MODEL_NOT_FOUND', `model '${name}' is not published`);
      sendJson(
        res,
        200,
        { name, versions: versions.map((v) => ({ version: v.version, createdAt: new Date(v.createdAt).toISOString(), status: v.status })), channels: registry.channels(name) },
        { 'cache-control': CACHE_SHORT },
        req.method === 'HEAD',
      );
    }),
    route(['GET', 'HEAD'], '/v1/models/:name/channels/:channel', 'getChannel', (req, res, p) => {
      const name = validateModelName(p['name']!);
      const channel = validateChannel(p['channel']!);
      const version = registry.channels(name)[channel];
      if (!version) throw notFound('CHANNEL_NOT_FOUND', `model '${name}' has no channel '${channel}'`);
      sendJson(res, 200, { name, channel, version }, { 'cache-control': CACHE_SHORT }, req.method === 'HEAD');
    }),
    route(['GET', 'HEAD'], '/v1/models/:name/versions/:version/manifest', 'getManifest', (req, res, p) => {
      const v = readyVersion(p);
      const signed = registry.getSignedManifest(v.id);
      if (!signed) throw new McdnError('MANIFEST_MISSING', 'internal', `${v.name}@${v.version} has no signed manifest`);
      const body = { payload: Buffer.from(signed.payload).toString('base64'), signature: signed.signature, keyId: signed.keyId };
      const etag = strongEtag(sha256Hex(JSON.stringify(body)));
      if (noneMatchHits(req.headers['if-none-match'], etag)) {
        res.writeHead(304, { etag, 'cache-control': CACHE_MANIFEST });
        res.end();
        return;
      }
      sendJson(res, 200, body, { etag, 'cache-control': CACHE_MANIFEST }, req.method === 'HEAD');
    }),
    route(['GET', 'HEAD'], '/v1/models/:name/versions/:version/files/*path', 'getFile', async (req, res, p) => {
      const v = readyVersion(p);
      const path = validateFilePath(p['path']!);
      const f = registry.file(v.id, path);
      if (!f) throw notFound('FILE_NOT_FOUND', `${v.name}@${v.version} has no file '${path}'`);
      const variants = new Map(registry.artifacts(f.sha256).filter((a) => (CONTENT_CODINGS as readonly string[]).includes(a.kind)).map((a) => [a.kind as ContentCoding, a]));
      // offer the smallest variant first (the server's preference on ties)
      const offered = [...variants.values()].sort((a, b) => a.size - b.size).map((a) => a.kind as ContentCoding);
      const coding = negotiateEncoding(req.headers['accept-encoding'] as string | undefined, offered);
      const blob = coding === 'identity' ? f.sha256 : variants.get(coding)!.blob;
      await serveBlob(req, res, blob, { contentType: contentTypeFor(f), vary: 'Accept-Encoding', ...(coding === 'identity' ? {} : { contentEncoding: coding }) });
    }),
    route(['GET', 'HEAD'], '/v1/blobs/:hash', 'getBlob', async (req, res, p) => {
      const hash = validateHash(p['hash']!);
      const presign = (store as BlobStore & { presignedUrl?: (h: string, s?: number) => Promise<string> }).presignedUrl;
      if (opts.redirectBlobs && presign && req.method === 'GET' && !req.headers['if-none-match']) {
        if (!(await store.stat(hash))) throw notFound('BLOB_NOT_FOUND', `blob ${hash} is not on this origin`);
        // the presigned query string is a credential: never cached by shared caches, never logged
        res.writeHead(302, { location: await presign.call(store, hash, PRESIGN_SECONDS), 'cache-control': 'private, max-age=60', 'content-length': '0' });
        res.end();
        return;
      }
      await serveBlob(req, res, hash);
    }),
    route('POST', '/v1/publish/uploads', 'createUpload', async (req, res) => {
      const tokenId = requireToken(req);
      const body = await readJsonBody(req, MAX_JSON_BODY_BYTES);
      if (!isObj(body)) throw inputError('BAD_BODY', 'expected {sha256, size}');
      const sha = validateHash(body['sha256'] as string);
      const size = nonNegInt(body['size'], 'size');
      const r = await uploads.create(sha, size, tokenId);
      sendJson(res, r.created ? 201 : 200, r.status, { 'cache-control': 'no-store' });
    }),
    route(['GET', 'HEAD'], '/v1/publish/uploads/:id', 'getUpload', (req, res, p) => {
      requireToken(req);
      const s = uploads.get(p['id']!);
      sendJson(res, 200, s, { 'cache-control': 'no-store', 'upload-offset': String(s.offset) }, req.method === 'HEAD');
    }),
    route('PUT', '/v1/publish/uploads/:id', 'putUpload', async (req, res, p) => {
      try {
        requireToken(req);
      } catch (e) {
        req.resume();
        throw e;
      }
      const raw = req.headers['upload-offset'];
      const offset = typeof raw === 'string' && /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(offset)) {
        req.resume();
        throw inputError('BAD_UPLOAD_OFFSET', 'PUT needs an Upload-Offset header with the byte offset of the body');
      }
      try {
        const s = await uploads.append(p['id']!, offset, req);
        sendJson(res, 200, s, { 'cache-control': 'no-store', 'upload-offset': String(s.offset) });
      } catch (e) {
        if (e instanceof McdnError && typeof e.details['offset'] === 'number') res.setHeader('upload-offset', String(e.details['offset']));
        throw e;
      }
    }),
    route('DELETE', '/v1/publish/uploads/:id', 'deleteUpload', async (req, res, p) => {
      requireToken(req);
      uploads.get(p['id']!);
      await uploads.abort(p['id']!);
      res.writeHead(204);
      res.end();
    }),
    route('POST', '/v1/publish/versions', 'publishVersion', async (req, res) => {
      requireToken(req);
      const body = await readJsonBody(req, MAX_JSON_BODY_BYTES);
      if (!isObj(body)) throw inputError('BAD_BODY', 'expected {name, version, channel?, files}');
      const name = validateModelName(body['name'] as string);
      const version = validateVersion(body['version'] as string);
      const channel = body['channel'] === null ? null : validateChannel((body['channel'] as string | undefined) ?? 'latest');
      // `optimize: 'int8'`: the client quantized these files before upload (src/optimize); the
      // originals' sizes and hashes are recorded with the version (for the size-per-stage view)
      const optimize = body['optimize'];
      let original: { path: string; size: number; sha256: string }[] = [];
      if (optimize !== undefined && optimize !== null) {
        if (optimize !== 'int8') throw inputError('BAD_OPTIMIZE', `unknown optimization '${String(optimize).slice(0, 20)}' (supported: int8)`);
        const o = body['original'] ?? [];
        if (!Array.isArray(o) || o.length > MAX_MANIFEST_FILES) throw inputError('BAD_ORIGINAL', 'original must be an array of {path, size, sha256}');
        original = o.map((x: unknown, i: number) => {
          if (!isObj(x)) throw inputError('BAD_ORIGINAL', `original[${i}] is not an object`);
          return { path: validateFilePath(x['path'] as string), size: nonNegInt(x['size'], `original[${i}].size`), sha256: validateHash(x['sha256'] as string) };
        });
      }
      const files = body['files'];
      if (!Array.isArray(files) || files.length === 0) throw inputError('BAD_FILES', 'files must be a non-empty array of {path, size, sha256}');
      if (files.length > MAX_MANIFEST_FILES) throw inputError('TOO_MANY_FILES', `a version may hold at most ${MAX_MANIFEST_FILES} files`);
      const seen = new Set<string>();
      const rows: FileRow[] = [];
      for (const [i, f] of files.entries()) {
        if (!isObj(f)) throw inputError('BAD_FILES', `files[${i}] is not an object`);
        const path = validateFilePath(f['path'] as string);
        if (seen.has(path)) throw inputError('DUPLICATE_FILE_PATH', `files[${i}]: path '${path}' appears twice`);
        seen.add(path);
        const sha256 = validateHash(f['sha256'] as string);
        const size = nonNegInt(f['size'], `files[${i}].size`);
        const st = await store.stat(sha256);
        if (!st) throw inputError('BLOB_NOT_UPLOADED', `files[${i}] '${path}': blob ${sha256} has not been uploaded`, undefined, 'upload every file before committing the version');
        if (st.size !== size) throw inputError('FILE_SIZE_MISMATCH', `files[${i}] '${path}': declared ${size} bytes, the uploaded blob has ${st.size}`);
        rows.push({ path, size, sha256, format: 'unknown' });
      }
      const job = registry.createJob('publish', name, version);
      let v: VersionRow;
      try {
        v = registry.createPendingVersion({ name, version, channel, files: rows, options: optimize ? { optimize, original } : {}, jobId: job.id });
      } catch (e) {
        registry.updateJob(job.id, { status: 'failed', error: (e as Error).message, errorCode: (e as McdnError).code ?? 'INTERNAL' });
        throw e;
      }
      jobs.enqueue(v.id);
      sendJson(res, 202, { name, version, status: 'pending', jobId: job.id, job: `/v1/jobs/${job.id}` }, { location: `/v1/jobs/${job.id}`, 'cache-control': 'no-store' });
    }),
    route(['GET', 'HEAD'], '/v1/jobs/:id', 'getJob', (req, res, p) => {
      const j = registry.getJob(p['id']!);
      if (!j) throw notFound('JOB_NOT_FOUND', `job ${p['id']!.slice(0, 40)} does not exist`);
      sendJson(
        res,
        200,
        {
          id: j.id,
          kind: j.kind,
          name: j.model,
          version: j.version,
          status: j.status,
          step: j.step,
          done: j.done,
          total: j.total,
          progress: j.total > 0 ? j.done / j.total : 0,
          error: j.error ? { code: j.errorCode, message: j.error } : null,
          ...(j.model && j.version && chunkStore.rootStats(`${j.model}@${j.version}`) ? { dedup: chunkStore.rootStats(`${j.model}@${j.version}`) } : {}),
          createdAt: new Date(j.createdAt).toISOString(),
          updatedAt: new Date(j.updatedAt).toISOString(),
        },
        { 'cache-control': 'no-store' },
        req.method === 'HEAD',
      );
    }),
    route('POST', '/v1/demand', 'postDemand', async (req, res) => {
      const body = await readJsonBody(req, MAX_JSON_BODY_BYTES);
      if (!isObj(body)) throw inputError('BAD_BODY', 'expected {region, from, to, items}');
      const region = body['region'];
      if (typeof region !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(region)) throw inputError('BAD_REGION', 'region must be 1-64 characters from A-Z a-z 0-9 . _ -');
      const from = timeMs(body['from'], 'from');
      const to = timeMs(body['to'], 'to');
      if (to < from) throw inputError('BAD_PERIOD', '`to` is before `from`');
      const items = body['items'];
      if (!Array.isArray(items)) throw inputError('BAD_ITEMS', 'items must be an array');
      if (items.length > MAX_DEMAND_ITEMS) throw httpError(413, 'TOO_MANY_ITEMS', 'input', `a report may hold at most ${MAX_DEMAND_ITEMS} items`);
      const rows: DemandItem[] = items.map((it: unknown, i: number) => {
        if (!isObj(it)) throw inputError('BAD_ITEMS', `items[${i}] is not an object`);
        return {
          // blobs an edge cannot attribute to a version (chunk manifests, xorbs) come with null names
          model: it['model'] == null ? null : validateModelName(it['model'] as string),
          version: it['version'] == null ? null : validateVersion(it['version'] as string),
          blob: it['blob'] == null ? null : validateHash(it['blob'] as string),
          requests: nonNegInt(it['requests'], `items[${i}].requests`),
          bytes: nonNegInt(it['bytes'], `items[${i}].bytes`),
          hits: nonNegInt(it['hits'] ?? 0, `items[${i}].hits`),
        };
      });
      const stored = registry.insertDemand({ region, from, to, items: rows });
      metrics.demandReport(rows.length);
      dashboard.noteDemandReport(body);
      sendJson(res, 202, { stored }, { 'cache-control': 'no-store' });
    }),
  ];
  routes.push(...prefetch.routes);
  routes.push(...dashboard.routes, route(['GET', 'HEAD'], '/metrics', 'metrics', (req, res) => metrics.handle(req, res)));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    const reqId = (typeof req.headers['x-request-id'] === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(req.headers['x-request-id']) ? req.headers['x-request-id'] : randomBytes(8).toString('hex'));
    res.setHeader('x-request-id', reqId);
    res.setHeader('x-content-type-options', 'nosniff');
    let routeId = 'unmatched';
    const method = req.method ?? 'GET';
    const sentBytes = metrics.begin(res);
    let failure: unknown;
    res.once('close', () => {
      const o = { method, route: routeId, status: res.statusCode, ms: performance.now() - t0, bytes: sentBytes() };
      metrics.observeRequest(o);
      logRequest(logger, { reqId, ...o }, failure);
    });
    try {
      const rawPath = (req.url ?? '/').split('?')[0]!;
      const segs = splitUrlPath(rawPath);
      if (method === 'OPTIONS') {
        // CORS preflight for the read API (browsers loading models straight from the CDN)
        if (matchRoute(routes, 'GET', segs).kind !== 'match') throw notFound('ROUTE_NOT_FOUND', `no such endpoint: ${rawPath.slice(0, 200)}`);
        routeId = 'preflight';
        res.writeHead(204, { ...CORS_READ_HEADERS, ...CORS_PREFLIGHT_HEADERS });
        res.end();
        return;
      }
      const m = matchRoute(routes, method, segs);
      if (m.kind === 'none' && (await dashboard.serveStatic(req, res))) {
        routeId = 'web';
        return;
      }
      if (m.kind === 'none') throw notFound('ROUTE_NOT_FOUND', `no such endpoint: ${method} ${rawPath.slice(0, 200)}`);
      if (m.kind === 'method') {
        res.setHeader('allow', m.allow.join(', '));
        throw httpError(405, 'METHOD_NOT_ALLOWED', 'input', `${method} is not allowed here (allowed: ${m.allow.join(', ')})`);
      }
      routeId = m.route.id;
      if (method === 'GET' || method === 'HEAD') for (const [k, v] of Object.entries(CORS_READ_HEADERS)) res.setHeader(k, v);
      if (opts.privateReads && !PUBLIC_ROUTES.has(routeId) && !m.route.id.match(/Upload|publish/)) requireToken(req);
      await m.route.handler(req, res, m.params, new URL(req.url ?? '/', 'http://origin'));
    } catch (e) {
      failure = e;
      if (!req.complete && method !== 'GET' && method !== 'HEAD') req.resume();
      sendError(res, e, method === 'HEAD');
    } finally {
      opts.onRequest?.({ method, route: routeId, status: res.statusCode, ms: performance.now() - t0 });
    }
  };

  const server = createServer({ keepAliveTimeout: 5000, requestTimeout: 0 }, (req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new McdnError('LISTEN_FAILED', 'config', `cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 8080}: ${(e as Error).message}`, { cause: e })));
    server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;

  // housekeeping: upload sessions untouched for a week and temp files of crashed writers go
  for (const u of registry.staleUploads(STALE_UPLOAD_MS)) await uploads.abort(u.id);
  if (store instanceof FsBlobStore) await store.cleanTemp();

  // versions left pending by a crash or shutdown resume now
  for (const v of registry.pendingVersions()) jobs.enqueue(v.id);

  let closed = false;
  return {
    url,
    server,
    registry,
    store,
    keys,
    jobs,
    events,
    routes: routes.map((r) => ({ methods: r.methods, path: '/' + r.pattern.join('/'), id: r.id })),
    prefetch,
    async close() {
      if (closed) return;
      closed = true;
      prefetch.close();
      dashboard.close();
      jobs.abort();
      await worker?.close(); // in-flight processor calls reject; the job re-queues at next start
      await jobs.idle();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      registry.close();
      chunkStore.close();
    },
  };
}
