/**
 * `modelcdn edge`: run an edge cache in front of an origin (or a parent edge). Thin CLI layer over
 * src/cdn/edge/server.ts: parses sizes and options, starts the server, prints its URL, and keeps
 * serving until SIGINT/SIGTERM, then shuts down cleanly (the index is flushed and marked clean).
 */
import { defineCommand, flagBool, flagString, flagNumber } from '../command.ts';
import { formatBytes, parseBytes } from '../output.ts';
import { McdnError, inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'run an edge cache that serves the origin read API and fills lazily on first request',
  description:
    'Serves /v1/blobs, manifests, channels, model listings and raw files like the origin. A miss fetches from the ' +
    'parent (if any) or the origin and streams to the client while it fills the cache; concurrent requests for one ' +
    'blob share one upstream fetch. Filled blobs are verified by sha256 before they count as cached; a cached file ' +
    'that changed on disk is re-verified before it is served (--verify always re-hashes every block served). ' +
    'Metadata is cached for a few seconds and served stale while the origin is down. Demand (requests, bytes, hits ' +
    'per model/version/blob) is reported to the origin every --demand-interval seconds. The edge also subscribes to ' +
    "the origin's push channel: staged versions, predicted versions and its region's placement plan are prefetched " +
    'inside the off-peak window under --prefetch-rate and pinned; deploys drop cached channels at once. See ' +
    'docs/edge.md and docs/prefetch.md.',
  flags: {
    origin: { type: 'string', description: 'origin base URL (default: $MODELCDN_ORIGIN)', placeholder: 'URL' },
    parent: { type: 'string', description: 'parent edge tried before the origin', placeholder: 'URL' },
    region: { type: 'string', description: 'region name used in demand reports', default: 'local' },
    'cache-dir': { type: 'string', description: 'directory for cached blobs and the index', placeholder: 'DIR' },
    'cache-size': { type: 'string', description: 'byte budget of the cache, e.g. 20GB, 512MiB', default: '20GB' },
    'memory-cache': { type: 'string', description: 'RAM tier for hot blobs, e.g. 512MB (0: off)', default: '512MiB' },
    port: { type: 'number', description: 'TCP port (0 picks a free one)', default: 8081 },
    host: { type: 'string', description: 'address to listen on', default: '127.0.0.1' },
    policy: { type: 'string', description: 'eviction policy: gdsf, lfuda, lru (default: the GDSF-class default)', placeholder: 'NAME' },
    verify: { type: 'string', description: 'serve-time verification: changed (re-hash a file whose fingerprint changed) or always', default: 'changed' },
    'scrub-hours': { type: 'number', description: 're-hash every cached blob this often, in hours (0: never)', default: 24 },
    'demand-interval': { type: 'number', description: 'seconds between demand reports to the origin (0: off)', default: 30 },
    offpeak: { type: 'string', description: "prefetch window HH:MM-HH:MM (in --tz), 'learn' (from this region's demand history at the origin) or 'always'", default: 'learn', placeholder: 'WINDOW' },
    tz: { type: 'string', description: 'IANA time zone of --offpeak (default: the system zone)', placeholder: 'ZONE' },
    'prefetch-rate': { type: 'string', description: 'bandwidth cap of off-peak prefetching, e.g. 50MB/s (default: uncapped)', placeholder: 'RATE' },
    'pin-share': { type: 'number', description: 'share of the cache the placement plan may pin (0..1)', default: 0.5 },
    'edge-id': { type: 'string', description: 'name of this edge in readiness reports (default: the region)', placeholder: 'ID' },
    'public-url': { type: 'string', description: 'URL sibling edges of the region reach this edge at, to prefetch from it (default: the listen address unless 0.0.0.0/::)', placeholder: 'URL' },
    'no-prefetch': { type: 'boolean', description: 'do not subscribe to the origin for staged/planned prefetch' },
  },
  json: true,
  examples: [
    'modelcdn edge --origin http://127.0.0.1:8080 --region eu-west --cache-dir ./edge-cache --cache-size 20GB',
    'modelcdn edge --origin http://origin:8080 --parent http://edge-eu:8081 --region eu-paris --cache-dir /var/cache/modelcdn --port 8082',
    'modelcdn edge --origin http://origin:8080 --region eu-paris --cache-dir /var/cache/modelcdn --offpeak 01:00-06:00 --tz Europe/Paris --prefetch-rate 50MB/s',
  ],
  async run(ctx) {
    const origin = flagString(ctx.flags, 'origin') ?? ctx.env['MODELCDN_ORIGIN'];
    if (!origin) throw inputError('EDGE_NO_ORIGIN', 'edge: --origin URL is required', {}, 'pass --origin http://HOST:PORT or set MODELCDN_ORIGIN');
    const cacheDir = flagString(ctx.flags, 'cache-dir');
    if (!cacheDir) throw inputError('EDGE_NO_CACHE_DIR', 'edge: --cache-dir DIR is required');
    const sizeText = flagString(ctx.flags, 'cache-size') ?? '20GB';
    const cacheSizeBytes = parseBytes(sizeText);
    if (!(cacheSizeBytes > 0)) throw inputError('BAD_CACHE_SIZE', `edge: --cache-size '${sizeText}' is not a size`, {}, 'use e.g. 20GB, 512MiB or a byte count');
    const memText = flagString(ctx.flags, 'memory-cache') ?? '512MiB';
    const memoryBytes = parseBytes(memText);
    if (!(memoryBytes >= 0)) throw inputError('BAD_MEMORY_CACHE_SIZE', `edge: --memory-cache '${memText}' is not a size`, {}, 'use e.g. 512MB, or 0 to turn it off');
    const verify = flagString(ctx.flags, 'verify') ?? 'changed';
    if (verify !== 'changed' && verify !== 'always') throw inputError('BAD_VERIFY_MODE', `edge: --verify must be 'changed' or 'always', got '${verify}'`);
    const port = flagNumber(ctx.flags, 'port') ?? 8081;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw inputError('BAD_PORT', `edge: --port ${port} is not a TCP port`);
    const interval = flagNumber(ctx.flags, 'demand-interval') ?? 30;
    const region = flagString(ctx.flags, 'region') ?? 'local';
    const { parseWindowSetting } = await import('../../cdn/prefetch/edge.ts');
    const { parseRate } = await import('../../cdn/placement/index.ts');
    const window = parseWindowSetting(flagString(ctx.flags, 'offpeak'), flagString(ctx.flags, 'tz'));
    const rateText = flagString(ctx.flags, 'prefetch-rate');
    const rateBytesPerSec = rateText === undefined ? undefined : parseRate(rateText);
    const pinShare = flagNumber(ctx.flags, 'pin-share') ?? 0.5;
    if (!(pinShare >= 0 && pinShare <= 1)) throw inputError('BAD_PIN_SHARE', `edge: --pin-share must be within 0..1, got ${pinShare}`);
    const edgeId = flagString(ctx.flags, 'edge-id');
    const publicUrl = flagString(ctx.flags, 'public-url');
    if (publicUrl !== undefined && !/^https?:\/\/[^/\s]+/.test(publicUrl)) throw inputError('BAD_PUBLIC_URL', `edge: --public-url '${publicUrl}' is not an http(s) URL`);
    const { startEdge } = await import('../../cdn/edge/server.ts');
    const policy = flagString(ctx.flags, 'policy');
    const edge = await startEdge({
      origin,
      parent: flagString(ctx.flags, 'parent'),
      region,
      cacheDir,
      cacheSizeBytes,
      port,
      host: flagString(ctx.flags, 'host') ?? '127.0.0.1',
      ...(policy ? { policy } : {}),
      verify,
      memoryBytes,
      demandIntervalMs: Math.max(0, interval * 1000),
      scrubIntervalMs: Math.max(0, (flagNumber(ctx.flags, 'scrub-hours') ?? 24) * 3600_000),
      log: (m) => ctx.out.warn(m),
      ...(flagBool(ctx.flags, 'no-prefetch') ? {} : { prefetch: { window, ...(rateBytesPerSec ? { rateBytesPerSec } : {}), pinCapacityBytes: Math.floor(cacheSizeBytes * pinShare), ...(edgeId ? { edgeId } : {}), ...(publicUrl ? { publicUrl } : {}) } }),
    }).catch((e: unknown) => {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new McdnError('PORT_IN_USE', 'config', `edge: port ${port} is already in use`, { remedy: 'pick another --port' });
      throw e;
    });
    const st = edge.cache.getStats();
    ctx.out.result(
      { url: edge.url, region, origin, cacheDir, cacheSizeBytes, policy: edge.cache.policyName, cachedBlobs: st.entries, cachedBytes: st.usedBytes },
      (v) => `edge ${v.region} listening on ${v.url} (origin ${v.origin}; cache ${v.cacheDir}: ${v.cachedBlobs} blobs, ${formatBytes(v.cachedBytes)} of ${formatBytes(v.cacheSizeBytes)}, policy ${v.policy})`,
    );
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await edge.close();
    ctx.out.warn('edge stopped');
  },
});
