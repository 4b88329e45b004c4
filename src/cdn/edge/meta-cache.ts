/**
 * Short-TTL cache of the origin's small metadata responses (model listings, channels, manifests,
 * the public key) with stale-if-error (RFC 5861 §4): while fresh a response is served from memory;
 * once stale it is refetched (concurrent requests share one fetch); when the refetch fails or
 * upstream answers 5xx, the stale copy is served. Entries persist in the index DB so they survive an
 * edge restart during an origin outage. Only 200 responses are cached. No blob bytes here.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { EdgeIndexDb, MetaRow } from './index-db.ts';
import type { Upstream } from './upstream.ts';

/** TTL when upstream sends no max-age. */
export const DEFAULT_META_TTL_S = 5;
/** Longest TTL honoured from upstream (metadata of a moving registry). */
export const MAX_META_TTL_S = 300;
/** How long a stale copy may stand in for an unreachable origin. */
export const MAX_STALE_S = 7 * 24 * 3600;

export interface MetaResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** HIT (fresh), MISS (fetched now), STALE (upstream failed, stale copy served) */
  cache: 'HIT' | 'MISS' | 'STALE';
  ageS: number;
}

const KEPT_HEADERS = ['content-type', 'cache-control', 'etag', 'last-modified'];

/** max-age from a Cache-Control header; undefined when absent; 0 for no-store/no-cache/private. */
export function maxAgeOf(cacheControl: string | undefined): number | undefined {
  if (!cacheControl) return undefined;
  const cc = cacheControl.toLowerCase();
  if (/(^|,)\s*(no-store|no-cache|private)\s*(,|$)/.test(cc)) return 0;
  const m = /(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*"?([0-9]+)"?/.exec(cc);
  return m ? Number(m[1]) : undefined;
}

function keep(h: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of KEPT_HEADERS) {
    const v = h[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

export class MetaCache {
  private readonly mem = new Map<string, MetaRow>();
  private readonly inflight = new Map<string, Promise<MetaResponse>>();
  /** called with each fresh 200 body fetched from upstream (demand mapping reads manifests) */
  onFetched: ((key: string, body: Buffer) => void) | undefined;

  constructor(
    private readonly upstream: Upstream,
    private readonly db: EdgeIndexDb | undefined,
    private readonly defaultTtlS = DEFAULT_META_TTL_S,
  ) {}

  private lookup(key: string): MetaRow | undefined {
    let r = this.mem.get(key);
    if (!r && this.db) {
      r = this.db.getMeta(key);
      if (r) this.mem.set(key, r);
    }
    return r;
  }

  /**
   * Mark a cached response stale now (a push said it changed, e.g. a deploy moved a channel): the
   * next get refetches it; the stale copy still stands in if upstream fails.
   */
  invalidate(key: string): void {
    const r = this.lookup(key);
    if (!r || r.maxAgeS === 0) return;
    const s: MetaRow = { ...r, maxAgeS: 0 };
    this.mem.set(key, s);
    this.db?.putMeta(s);
  }

  async get(key: string): Promise<MetaResponse> {
    const now = Date.now();
    const cur = this.lookup(key);
    if (cur && now - cur.fetchedMs < cur.maxAgeS * 1000) {
      return { status: cur.status, headers: cur.headers, body: cur.body, cache: 'HIT', ageS: Math.floor((now - cur.fetchedMs) / 1000) };
    }
    let p = this.inflight.get(key);
    if (!p) {
      p = this.refresh(key, cur).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async refresh(key: string, stale: MetaRow | undefined): Promise<MetaResponse> {
    const serveStale = (): MetaResponse | undefined => {
      if (!stale) return undefined;
      const ageS = Math.floor((Date.now() - stale.fetchedMs) / 1000);
      if (ageS > MAX_STALE_S) return undefined;
      return { status: stale.status, headers: { ...stale.headers, warning: '110 - "Response is Stale"' }, body: stale.body, cache: 'STALE', ageS };
    };
    let r: Awaited<ReturnType<Upstream['getBuffer']>>;
    try {
      r = await this.upstream.getBuffer(key);
    } catch (e) {
      const s = serveStale();
      if (s) return s;
      throw e;
    }
    if (r.status >= 500) {
      const s = serveStale();
      if (s) return s;
    }
    const headers = keep(r.headers);
    if (r.status === 200) {
      const ttl = Math.min(MAX_META_TTL_S, maxAgeOf(headers['cache-control']) ?? this.defaultTtlS);
      const row: MetaRow = { key, status: 200, headers, body: r.body, fetchedMs: Date.now(), maxAgeS: ttl };
      this.mem.set(key, row);
      this.db?.putMeta(row);
      this.onFetched?.(key, r.body);
    }
    return { status: r.status, headers, body: r.body, cache: 'MISS', ageS: 0 };
  }
}
