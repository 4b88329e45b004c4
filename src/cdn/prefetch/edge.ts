/**
 * The edge's prefetcher: subscribes to the origin's push channel (`GET /v1/prefetch/events`, SSE with
 * reconnect and backoff) and receives this edge's prefetch set — staged versions, predicted
 * versions and placement-plan pins, each a list of blobs — plus channel moves. It pins what is
 * already cached at once, downloads the rest one blob at a time only inside the off-peak window
 * (configured, learned from the region's demand history by the origin, or always), under the
 * token-bucket rate cap, resumably (part files under `<cache>/prefetch/`, continued with Range after
 * a window close, a drop or a restart), hands finished files to the blob cache (which verifies the
 * hash) pinned, and unpins them when they leave the set (deployed, unstaged, no longer planned).
 * It keeps the staged versions' manifests warm in the metadata cache, drops cached channels when a
 * deploy is pushed, and reports readiness (bytes total/done per item) to the origin. It does not
 * serve clients; fetching goes through the edge's Upstream (a parent edge before the origin).
 */
import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { McdnError } from '../../errors.ts';
import { formatWindow, inWindow, parseWindow, TokenBucket, type OffPeakWindow } from '../placement/index.ts';
import type { EdgeBlobCache } from '../edge/blob-cache.ts';
import { Upstream } from '../edge/upstream.ts';
import { fetchBlobResumable, partPath, partSize } from './fetcher.ts';
import type { EdgeSetMessage, WindowInfo } from './origin.ts';
import type { PrefetchSetItem } from './sets.ts';
import { subscribeSse, type SseSubscription } from './sse-client.ts';

/** Pin reasons the prefetcher owns start with this (other pins are left alone). */
export const PIN_PREFIX = 'prefetch:';
/** How often the window is re-checked while idle, and during a download. */
export const WINDOW_CHECK_MS = 30_000;
export const DOWNLOAD_WINDOW_CHECK_MS = 1000;
/** Shortest gap between two readiness reports. */
export const REPORT_MIN_INTERVAL_MS = 1000;
/** Re-read staged manifests this often (the cache keeps them 300 s) so they are fresh at deploy time. */
export const MANIFEST_WARM_MS = 120_000;
/** Back-off after a failed blob (doubles per failure, capped). */
export const FAIL_BACKOFF_MS = 5_000;
export const MAX_FAIL_BACKOFF_MS = 10 * 60_000;
/** Used when no window is configured and the origin has learned none. */
export const DEFAULT_OFFPEAK = '01:00-06:00';

/** The slice of the metadata cache the prefetcher uses. */
export interface MetaCacheLike {
  get(key: string): Promise<{ status: number }>;
  invalidate(key: string): void;
}

/** `always`, `learn` (the origin's learned window, else DEFAULT_OFFPEAK local time) or a window. */
export type WindowSetting = { kind: 'always' } | { kind: 'learn' } | { kind: 'fixed'; window: OffPeakWindow };

/** Parse `--offpeak` / `--tz` (one clear error for a bad window or zone). */
export function parseWindowSetting(offpeak: string | undefined, tz: string | undefined): WindowSetting {
  if (offpeak === undefined || offpeak === 'learn') {
    if (tz !== undefined) parseWindow(DEFAULT_OFFPEAK, tz); // validates the zone
    return { kind: 'learn' };
  }
  if (offpeak === 'always') return { kind: 'always' };
  return { kind: 'fixed', window: parseWindow(offpeak, tz ?? localTimeZone()) };
}

export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export interface PrefetcherOptions {
  cache: EdgeBlobCache;
  upstream: Upstream;
  meta?: MetaCacheLike;
  region: string;
  /** identity in readiness reports (default: the region) */
  edgeId?: string;
  /** where part files live (default <cache dir>/prefetch) */
  dir?: string;
  window?: WindowSetting;
  /** bytes per second (undefined: uncapped) */
  rateBytesPerSec?: number;
  /** bytes of the cache the placement plan may pin (told to the origin) */
  pinCapacityBytes?: number;
  /** clock for the window check (tests) */
  now?: () => number;
  /** replaces the window check entirely (tests) */
  isOffPeak?: (nowMs: number) => boolean;
  /** don't subscribe (tests drive `applySet` directly) */
  subscribe?: boolean;
  sseBackoffMs?: { min: number; max: number };
  /** the URL sibling edges can reach this edge at (default: the listen URL unless it is a wildcard address) */
  publicUrl?: string;
  /** how often staged manifests are renewed (default MANIFEST_WARM_MS) */
  manifestWarmMs?: number;
  log?: (msg: string) => void;
}

export interface ItemProgress {
  id: string;
  name: string;
  version: string;
  kind: string;
  totalBytes: number;
  doneBytes: number;
  ready: boolean;
  error: string | null;
}

export interface PrefetcherStatus {
  edge: string;
  region: string;
  connected: boolean;
  offPeak: boolean;
  window: string;
  rateBytesPerSec: number | null;
  downloading: string | null;
  fetchedBytes: number;
  items: ItemProgress[];
}

export class Prefetcher {
  readonly edgeId: string;
  readonly dir: string;
  private readonly opts: PrefetcherOptions;
  private readonly now: () => number;
  private readonly bucket: TokenBucket | undefined;
  private items: PrefetchSetItem[] = [];
  private learned: WindowInfo | null = null;
  private haveSet = false;
  private sub: SseSubscription | undefined;
  private closed = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private current: { hash: string; abort: AbortController; done: number } | undefined;
  private readonly parts = new Map<string, number>();
  private readonly failures = new Map<string, { count: number; until: number; error: string }>();
  private lastReport = '';
  private reportTimer: NodeJS.Timeout | undefined;
  private reporting: Promise<void> | undefined;
  private lastReportAt = 0;
  private manifestTimer: NodeJS.Timeout | undefined;
  /** bytes downloaded by the prefetcher since start */
  fetchedBytes = 0;
  /** of which from sibling edges */
  fetchedFromPeers = 0;
  private peers: string[] = [];
  private readonly peerUpstreams = new Map<string, Upstream>();
  private url: string | undefined;
  /** channel moves received (tests) */
  channelEvents = 0;
  /** state messages received (tests) */
  setsReceived = 0;

  constructor(opts: PrefetcherOptions) {
    this.opts = opts;
    this.edgeId = opts.edgeId ?? opts.region;
    this.dir = opts.dir ?? join(opts.cache.dir, 'prefetch');
    this.now = opts.now ?? Date.now;
    this.bucket = opts.rateBytesPerSec ? new TokenBucket(opts.rateBytesPerSec) : undefined;
  }

  private log(m: string): void {
    this.opts.log?.(`prefetch: ${m}`);
  }

  /** `listenUrl`: where this edge listens (advertised to siblings unless a wildcard address) */
  async start(listenUrl?: string): Promise<void> {
    this.url = this.opts.publicUrl ?? (listenUrl && !/\/\/(0\.0\.0\.0|\[::\])(:|\/|$)/.test(listenUrl) ? listenUrl : undefined);
    await mkdir(this.dir, { recursive: true });
    for (const n of await readdir(this.dir)) {
      const m = /^([0-9a-f]{64})\.part$/.exec(n);
      if (m) this.parts.set(m[1]!, await partSize(this.dir, m[1]!));
      else if (n.endsWith('.part')) await unlink(join(this.dir, n)).catch(() => {});
    }
    if (this.opts.subscribe !== false) {
      const u = new URL(this.opts.upstream.origin + '/v1/prefetch/events');
      u.searchParams.set('edge', this.edgeId);
      u.searchParams.set('region', this.opts.region);
      if (this.url) u.searchParams.set('url', this.url);
      this.sub = subscribeSse({
        url: u.toString(),
        ...(this.opts.sseBackoffMs ? { minBackoffMs: this.opts.sseBackoffMs.min, maxBackoffMs: this.opts.sseBackoffMs.max } : {}),
        onEvent: (e) => this.onEvent(e.event, e.data),
        onStatus: (s) => {
          if (!s.connected && s.attempt <= 1) this.log(`push channel to ${this.opts.upstream.origin} dropped (${s.error ?? 'closed'}); reconnecting`);
        },
      });
    }
    this.manifestTimer = setInterval(() => void this.warmManifests(true), this.opts.manifestWarmMs ?? MANIFEST_WARM_MS);
    this.manifestTimer.unref();
    this.loop = this.run();
  }

  private onEvent(event: string, data: string): void {
    let v: unknown;
    try {
      v = JSON.parse(data);
    } catch {
      this.log(`ignored an unreadable '${event}' event`);
      return;
    }
    if (event === 'state') this.applySet(v as EdgeSetMessage);
    else if (event === 'channel') this.onChannel(v as { name: string; channel: string; version: string });
  }

  /** A deploy moved a channel: cached channel and listings are stale now. */
  onChannel(c: { name: string; channel: string; version: string }): void {
    if (typeof c?.name !== 'string' || typeof c.channel !== 'string') return;
    this.channelEvents++;
    const en = encodeURIComponent(c.name);
    this.opts.meta?.invalidate(`/v1/models/${en}/channels/${encodeURIComponent(c.channel)}`);
    this.opts.meta?.invalidate(`/v1/models/${en}`);
    this.opts.meta?.invalidate('/v1/models');
  }

  /** Take a new prefetch set: pin what is cached, unpin what left, wake the downloader. */
  applySet(msg: EdgeSetMessage): void {
    if (!msg || !Array.isArray(msg.items)) return;
    this.setsReceived++;
    this.items = msg.items.filter((it) => it && typeof it.id === 'string' && Array.isArray(it.blobs));
    this.learned = msg.learnedWindow ?? null;
    this.peers = (Array.isArray(msg.peers) ? msg.peers : []).filter((p) => typeof p === 'string' && /^https?:\/\//.test(p) && p !== this.url).slice(0, 8);
    this.haveSet = true;
    const wanted = this.wantedBlobs();
    const pins = this.opts.cache.pins();
    for (const [hash, reason] of pins) {
      if (reason.startsWith(PIN_PREFIX) && !wanted.has(hash)) this.opts.cache.unpin(hash);
    }
    for (const [hash, id] of wanted) {
      if (this.opts.cache.peek(hash) && !pins.has(hash)) this.opts.cache.pin(hash, PIN_PREFIX + id);
    }
    if (this.current && !wanted.has(this.current.hash)) this.current.abort.abort();
    for (const hash of [...this.parts.keys()]) {
      if (!wanted.has(hash) && this.current?.hash !== hash) {
        this.parts.delete(hash);
        void unlink(partPath(this.dir, hash)).catch(() => {});
      }
    }
    for (const h of [...this.failures.keys()]) if (!wanted.has(h)) this.failures.delete(h);
    void this.warmManifests();
    this.scheduleReport();
    this.wake();
  }

  private wantedBlobs(): Map<string, string> {
    const m = new Map<string, string>();
    for (const it of this.items) for (const b of it.blobs) if (!m.has(b.hash)) m.set(b.hash, it.id);
    return m;
  }

  /** the window in force: configured, else learned by the origin, else DEFAULT_OFFPEAK local time */
  windowText(): string {
    const w = this.opts.window ?? { kind: 'learn' };
    if (this.opts.isOffPeak) return 'injected';
    if (w.kind === 'always') return 'always';
    if (w.kind === 'fixed') return formatWindow(w.window);
    return this.learned ? `${this.learned.text} (learned)` : `${formatWindow(parseWindow(DEFAULT_OFFPEAK, localTimeZone()))} (default)`;
  }

  offPeak(t = this.now()): boolean {
    if (this.opts.isOffPeak) return this.opts.isOffPeak(t);
    const w = this.opts.window ?? { kind: 'learn' };
    if (w.kind === 'always') return true;
    if (w.kind === 'fixed') return inWindow(t, w.window);
    if (this.learned) return inWindow(t, this.learned);
    return inWindow(t, parseWindow(DEFAULT_OFFPEAK, localTimeZone()));
  }

  /** wake the downloader (a new set, a window change the caller knows about) */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      t.unref();
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** next blob to download: in set order, not cached, not backing off */
  private nextBlob(): { hash: string; size: number; id: string } | undefined {
    const t = Date.now();
    const seen = new Set<string>();
    for (const it of this.items) {
      for (const b of it.blobs) {
        if (seen.has(b.hash)) continue;
        seen.add(b.hash);
        if (this.opts.cache.peek(b.hash)) continue;
        const f = this.failures.get(b.hash);
        if (f && f.until > t) continue;
        return { hash: b.hash, size: b.size, id: it.id };
      }
    }
    return undefined;
  }

  private nextRetryIn(): number {
    let soonest = WINDOW_CHECK_MS;
    const t = Date.now();
    for (const f of this.failures.values()) soonest = Math.min(soonest, Math.max(10, f.until - t));
    return soonest;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      const next = this.haveSet && this.offPeak() ? this.nextBlob() : undefined;
      if (!next) {
        await this.idle(this.haveSet && this.offPeak() ? this.nextRetryIn() : WINDOW_CHECK_MS);
        continue;
      }
      await this.download(next);
    }
  }

  private async download(b: { hash: string; size: number; id: string }): Promise<void> {
    const abort = new AbortController();
    this.current = { hash: b.hash, abort, done: this.parts.get(b.hash) ?? 0 };
    const watch = setInterval(() => {
      if (!this.offPeak() || this.closed) abort.abort();
    }, DOWNLOAD_WINDOW_CHECK_MS);
    watch.unref();
    let lastCheck = Date.now();
    try {
      const fetchFrom = (upstream: Upstream, peer: boolean) =>
        fetchBlobResumable({
          upstream,
          dir: this.dir,
          hash: b.hash,
          size: b.size,
          ...(this.bucket ? { bucket: this.bucket } : {}),
          ...(peer ? { headers: { 'cache-control': 'only-if-cached' } } : {}),
          signal: abort.signal,
          onBytes: (n) => {
            this.fetchedBytes += n;
            if (peer) this.fetchedFromPeers += n;
            this.current!.done += n;
            const t = Date.now();
            if (t - lastCheck >= 50) {
              lastCheck = t;
              if (!this.offPeak()) abort.abort();
            }
            this.scheduleReport();
          },
        });
      // sibling edges that have the blob first (tiered fetch), then the parent/origin
      let r: Awaited<ReturnType<typeof fetchBlobResumable>> | undefined;
      for (const peer of this.peers) {
        let up = this.peerUpstreams.get(peer);
        if (!up) this.peerUpstreams.set(peer, (up = new Upstream({ origin: peer, headersTimeoutMs: 3000 })));
        try {
          r = await fetchFrom(up, true);
          break;
        } catch {
          if (abort.signal.aborted) break;
          // not there, or unreachable: the next source
        }
      }
      r ??= await fetchFrom(this.opts.upstream, false);
      this.parts.set(b.hash, r.have);
      if (r.path && !this.closed) {
        const wanted = this.wantedBlobs();
        const id = wanted.get(b.hash);
        if (id === undefined) {
          await unlink(r.path).catch(() => {});
        } else {
          await this.opts.cache.adoptFile(b.hash, r.path, { pin: PIN_PREFIX + id });
          this.log(`${b.hash.slice(0, 12)} (${b.size} bytes) cached and pinned for ${id}`);
        }
        this.parts.delete(b.hash);
        this.failures.delete(b.hash);
      }
    } catch (e) {
      if (this.closed) return;
      const prev = this.failures.get(b.hash);
      const count = (prev?.count ?? 0) + 1;
      const msg = e instanceof McdnError ? e.message : String((e as Error)?.message ?? e);
      this.failures.set(b.hash, { count, until: Date.now() + Math.min(MAX_FAIL_BACKOFF_MS, FAIL_BACKOFF_MS * 2 ** (count - 1)), error: msg });
      this.parts.set(b.hash, await partSize(this.dir, b.hash));
      this.log(`blob ${b.hash.slice(0, 12)} for ${b.id}: ${msg}; retry later`);
    } finally {
      clearInterval(watch);
      this.current = undefined;
      this.scheduleReport();
    }
  }

  /** fetch staged versions' manifests into the metadata cache; `renew`: refetch even if fresh (keeps them fresh for a deploy at any moment) */
  private async warmManifests(renew = false): Promise<void> {
    const meta = this.opts.meta;
    if (!meta || this.closed) return;
    for (const it of this.items) {
      if (it.kind !== 'stage') continue;
      const key = `/v1/models/${encodeURIComponent(it.name)}/versions/${encodeURIComponent(it.version)}/manifest`;
      try {
        if (renew) meta.invalidate(key);
        await meta.get(key);
      } catch {
        // the origin is away: the blob downloads report the problem
      }
    }
  }

  /** per-item readiness as the origin sees it */
  progress(): ItemProgress[] {
    return this.items.map((it) => {
      let done = 0;
      let ready = true;
      const errors: string[] = [];
      for (const b of it.blobs) {
        if (this.opts.cache.peek(b.hash)) {
          done += b.size;
          continue;
        }
        ready = false;
        done += Math.min(b.size, this.current?.hash === b.hash ? this.current.done : (this.parts.get(b.hash) ?? 0));
        const f = this.failures.get(b.hash);
        if (f) errors.push(f.error);
      }
      return { id: it.id, name: it.name, version: it.version, kind: it.kind, totalBytes: it.totalBytes, doneBytes: Math.min(done, it.totalBytes), ready, error: errors[0] ?? null };
    });
  }

  status(): PrefetcherStatus {
    return {
      edge: this.edgeId,
      region: this.opts.region,
      connected: this.sub?.connected ?? false,
      offPeak: this.offPeak(),
      window: this.windowText(),
      rateBytesPerSec: this.opts.rateBytesPerSec ?? null,
      downloading: this.current?.hash ?? null,
      fetchedBytes: this.fetchedBytes,
      items: this.progress(),
    };
  }

  private scheduleReport(): void {
    if (this.reportTimer || this.closed || !this.haveSet) return;
    const wait = Math.max(0, this.lastReportAt + REPORT_MIN_INTERVAL_MS - Date.now());
    this.reportTimer = setTimeout(() => {
      this.reportTimer = undefined;
      this.reporting = this.report().finally(() => (this.reporting = undefined));
    }, wait);
    this.reportTimer.unref();
  }

  /** send readiness now if it changed since the last report */
  async report(): Promise<void> {
    if (this.closed && this.lastReport !== '') return;
    const items = this.progress().map(({ kind: _k, ...p }) => p);
    const body = {
      edge: this.edgeId,
      region: this.opts.region,
      window: this.windowText(),
      rateBytesPerSec: this.opts.rateBytesPerSec ? Math.round(this.opts.rateBytesPerSec) : null,
      pinCapacityBytes: this.opts.pinCapacityBytes ?? null,
      items,
    };
    const json = JSON.stringify(body);
    if (json === this.lastReport) return;
    this.lastReportAt = Date.now();
    try {
      const status = await this.opts.upstream.postJson('/v1/prefetch/readiness', body);
      if (status >= 200 && status < 300) this.lastReport = json;
      else this.log(`readiness report answered HTTP ${status}`);
    } catch (e) {
      this.log(`readiness report failed: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sub?.close();
    for (const u of this.peerUpstreams.values()) u.close();
    if (this.reportTimer) clearTimeout(this.reportTimer);
    if (this.manifestTimer) clearInterval(this.manifestTimer);
    this.current?.abort.abort();
    this.wake();
    await this.loop;
    await this.reporting;
  }
}
