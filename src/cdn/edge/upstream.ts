/**
 * The edge's view of the servers above it: an optional parent edge and the origin, tried in that
 * order (a parent that fails or answers 5xx falls through to the origin). Thin node:http adapter —
 * no caching, no policy: the blob cache and the metadata cache decide what to ask for. Blob GETs for
 * cache fills (`blob: true`) to http:// upstreams go through the raw fetcher: its pooled read buffers
 * come back with releaseReadBuffer, so a 1 GB fill leaves no 64 KiB buffers for V8 to collect.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { McdnError } from '../../errors.ts';
import type { PausableBody } from '../http/body.ts';
import { RawBlobResponse } from '../http/raw-fetch.ts';

/** A response body: node:http's IncomingMessage, or the raw fetcher's (../http/raw-fetch.ts). */
export type UpstreamBody = PausableBody & AsyncIterable<Buffer>;

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: UpstreamBody;
  /** base URL that answered */
  source: string;
}

export interface UpstreamOptions {
  origin: string;
  parent?: string | undefined;
  /** time allowed until response headers arrive */
  headersTimeoutMs?: number;
  /** time allowed between two body chunks before the response is considered stalled */
  idleTimeoutMs?: number;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 15_000;
/** Largest metadata body (JSON) read into memory from upstream. */
export const MAX_META_BODY_BYTES = 16 << 20;

function normalizeBase(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new McdnError('BAD_UPSTREAM_URL', 'config', `not a URL: '${u}'`, { remedy: 'pass e.g. --origin http://127.0.0.1:8080' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new McdnError('BAD_UPSTREAM_URL', 'config', `unsupported URL scheme in '${u}'`, { remedy: 'use http:// or https://' });
  }
  return url.origin + url.pathname.replace(/\/+$/, '');
}

export class Upstream {
  readonly bases: string[];
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly headersTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** number of requests sent per base URL (tests and the benchmark read it) */
  readonly requestCount = new Map<string, number>();

  constructor(opts: UpstreamOptions) {
    this.bases = [...(opts.parent ? [normalizeBase(opts.parent)] : []), normalizeBase(opts.origin)];
    this.headersTimeoutMs = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  }

  get origin(): string {
    return this.bases[this.bases.length - 1]!;
  }

  /**
   * GET (or HEAD) `path` from the first base that answers with a non-5xx status. The body stream is
   * returned unread; the caller must consume or destroy it.
   */
  async request(path: string, opts: { method?: 'GET' | 'HEAD'; headers?: Record<string, string>; signal?: AbortSignal; blob?: boolean } = {}): Promise<UpstreamResponse> {
    let lastErr: unknown;
    for (const base of this.bases) {
      try {
        const r = await this.requestOne(base, path, opts);
        if (r.status >= 500 && base !== this.origin) {
          r.body.resume();
          lastErr = new McdnError('UPSTREAM_STATUS', 'network', `${base}${path}: HTTP ${r.status}`);
          continue;
        }
        return r;
      } catch (e) {
        lastErr = e;
        if (opts.signal?.aborted) break;
      }
    }
    throw lastErr instanceof McdnError
      ? lastErr
      : new McdnError('UPSTREAM_UNREACHABLE', 'network', `upstream unreachable for ${path}: ${(lastErr as Error)?.message ?? lastErr}`, { cause: lastErr });
  }

  /** false after an upstream sent a blob body the raw fetcher cannot read (then node:http is used) */
  private rawOk = true;

  private rawOne(base: string, path: string, headers: Record<string, string>): Promise<UpstreamResponse> {
    const url = new URL(base + path);
    this.requestCount.set(base, (this.requestCount.get(base) ?? 0) + 1);
    return new Promise<UpstreamResponse>((resolve, reject) => {
      const r: RawBlobResponse = new RawBlobResponse(
        url,
        url.pathname + url.search,
        headers,
        this.idleTimeoutMs,
        (e) => {
          clearTimeout(timer);
          if (e) reject(e);
          else resolve({ status: r.statusCode ?? 502, headers: r.headers as IncomingHttpHeaders, body: r, source: base });
        },
        { userAgent: 'modelcdn-edge', stallCode: 'UPSTREAM_STALLED', unreachableCode: 'UPSTREAM_UNREACHABLE' },
      );
      const timer = setTimeout(() => r.destroy(new McdnError('UPSTREAM_TIMEOUT', 'network', `${base}${path}: no response within ${this.headersTimeoutMs} ms`)), this.headersTimeoutMs);
    });
  }

  /** One request to one base: a blob GET over the raw fetcher where it can read the answer, else node:http. */
  private async requestOne(base: string, path: string, opts: { method?: 'GET' | 'HEAD'; headers?: Record<string, string>; signal?: AbortSignal; blob?: boolean }): Promise<UpstreamResponse> {
    if (opts.blob && !opts.signal && (opts.method ?? 'GET') === 'GET' && base.startsWith('http:') && this.rawOk) {
      try {
        return await this.rawOne(base, path, opts.headers ?? {});
      } catch (e) {
        if ((e as McdnError).code !== 'RAW_UNSUPPORTED') throw e;
        this.rawOk = false; // an upstream that chunks its blob bodies: node:http from now on
      }
    }
    return this.httpOne(base, path, opts);
  }

  private httpOne(base: string, path: string, opts: { method?: 'GET' | 'HEAD'; headers?: Record<string, string>; signal?: AbortSignal }): Promise<UpstreamResponse> {
    const url = new URL(base + path);
    const mod = url.protocol === 'https:' ? https : http;
    this.requestCount.set(base, (this.requestCount.get(base) ?? 0) + 1);
    return new Promise<UpstreamResponse>((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method: opts.method ?? 'GET',
          headers: { 'user-agent': 'modelcdn-edge', ...(opts.headers ?? {}) },
          agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
          ...(opts.signal ? { signal: opts.signal } : {}),
        },
        (res) => {
          clearTimeout(timer);
          res.setTimeout(this.idleTimeoutMs, () => res.destroy(new McdnError('UPSTREAM_STALLED', 'network', `${base}${path}: no data for ${this.idleTimeoutMs} ms`)));
          resolve({ status: res.statusCode ?? 502, headers: res.headers, body: res, source: base });
        },
      );
      const timer = setTimeout(() => {
        req.destroy(new McdnError('UPSTREAM_TIMEOUT', 'network', `${base}${path}: no response within ${this.headersTimeoutMs} ms`));
      }, this.headersTimeoutMs);
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e instanceof McdnError ? e : new McdnError('UPSTREAM_UNREACHABLE', 'network', `${base}${path}: ${e.message}`, { cause: e }));
      });
      req.end();
    });
  }

  /** GET a small body into memory (metadata: JSON listings, manifests, keys). */
  async getBuffer(path: string, signal?: AbortSignal): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
    const r = await this.request(path, signal ? { signal } : {});
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of r.body as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > MAX_META_BODY_BYTES) {
        r.body.destroy();
        throw new McdnError('UPSTREAM_BODY_TOO_LARGE', 'network', `${r.source}${path}: body larger than ${MAX_META_BODY_BYTES} bytes`);
      }
      parts.push(c);
    }
    return { status: r.status, headers: r.headers, body: Buffer.concat(parts) };
  }

  /** POST JSON to the origin only (demand reports). */
  async postJson(path: string, value: unknown, headers: Record<string, string> = {}): Promise<number> {
    const url = new URL(this.origin + path);
    const mod = url.protocol === 'https:' ? https : http;
    const body = Buffer.from(JSON.stringify(value));
    return new Promise<number>((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...headers },
          agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
          timeout: this.headersTimeoutMs,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => reject(new McdnError('UPSTREAM_UNREACHABLE', 'network', `${url.origin}${path}: ${e.message}`, { cause: e })));
      req.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
