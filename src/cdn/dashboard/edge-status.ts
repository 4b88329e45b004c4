/**
 * The edge's own status page: `GET /v1/edge/status` (EdgeStatus in api.ts — region, cache use
 * against budget, hit/miss counters, demand report delivery, a short history of samples for the
 * hit-ratio chart) and the prebuilt page `web/dist/edge.html` at `/`. Reads the cache's counters; a
 * timer samples them every few seconds into a bounded ring (stopped by close()). Changes nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EDGE_ROUTES, type EdgeStatus, type EdgeStatusSample } from './api.ts';
import { staticHandler } from './static.ts';

export const EDGE_SAMPLE_MS = 5000;
/** Most samples kept (an hour at the default interval). */
export const MAX_EDGE_SAMPLES = 720;

export interface EdgeStatusSource {
  region: string;
  upstream: string[];
  startedAt: number;
  stats(): { entries: number; usedBytes: number; capacityBytes: number; pinnedBytes: number; filling: number; hits: number; misses: number; coalesced: number; bypasses: number; upstreamFetches: number };
  pins(): number;
  reports(): { sent: number; failures: number };
}

export interface EdgeStatusPage {
  /** serve the status JSON, the page and its assets; false for any other request */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  status(): EdgeStatus;
  sample(): void;
  close(): void;
}

export function createEdgeStatus(src: EdgeStatusSource, opts: { sampleMs?: number; webRoot?: string } = {}): EdgeStatusPage {
  const samples: EdgeStatusSample[] = [];
  const serveStatic = staticHandler({ index: 'edge.html', ...(opts.webRoot ? { root: opts.webRoot } : {}) });
  const sample = () => {
    const s = src.stats();
    samples.push({ t: Math.floor(Date.now() / 1000), hits: s.hits, misses: s.misses, usedBytes: s.usedBytes });
    if (samples.length > MAX_EDGE_SAMPLES) samples.shift();
  };
  sample();
  const timer = setInterval(sample, opts.sampleMs ?? EDGE_SAMPLE_MS).unref();
  const status = (): EdgeStatus => {
    const s = src.stats();
    const lookups = s.hits + s.misses;
    return {
      role: 'edge',
      region: src.region,
      upstream: src.upstream,
      uptimeSeconds: Math.round((Date.now() - src.startedAt) / 1000),
      cache: {
        entries: s.entries,
        usedBytes: s.usedBytes,
        capacityBytes: s.capacityBytes,
        pinnedBytes: s.pinnedBytes,
        filling: s.filling,
        hits: s.hits,
        misses: s.misses,
        coalesced: s.coalesced,
        bypasses: s.bypasses,
        upstreamFetches: s.upstreamFetches,
        hitRatio: lookups > 0 ? s.hits / lookups : null,
      },
      demandReports: src.reports(),
      pins: src.pins(),
      // the newest point is always "now" so the chart ends at the present
      samples: [...samples, { t: Math.floor(Date.now() / 1000), hits: s.hits, misses: s.misses, usedBytes: s.usedBytes }],
    };
  };
  return {
    status,
    sample,
    async handle(req, res) {
      const method = req.method ?? 'GET';
      const path = (req.url ?? '/').split('?')[0];
      if (path === EDGE_ROUTES.status && (method === 'GET' || method === 'HEAD')) {
        const buf = Buffer.from(JSON.stringify(status()));
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(buf.length), 'cache-control': 'no-store' });
        res.end(method === 'HEAD' ? undefined : buf);
        return true;
      }
      return serveStatic(req, res);
    },
    close() {
      clearInterval(timer);
    },
  };
}
