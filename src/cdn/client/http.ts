/**
 * The client's HTTP layer (node:http/https with keep-alive): small JSON/metadata GETs with retries
 * and exponential backoff, and ranged blob GETs with stall detection (no body bytes for `stallMs`
 * aborts the request). Blob GETs to http:// servers go through the raw fetcher (../http/raw-fetch.ts).
 * Knows the read API's paths but nothing about manifests or files.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { McdnError } from '../../errors.ts';
import { RawBlobResponse, type BodyStream } from '../http/raw-fetch.ts';

export const DEFAULT_STALL_MS = 15_000;
export const DEFAULT_RETRIES = 10;
export const BACKOFF_BASE_MS = 200;
export const BACKOFF_MAX_MS = 5_000;
/** Largest metadata body read into memory. */
export const MAX_META_BYTES = 32 << 20;

export function backoffMs(attempt: number, baseMs = BACKOFF_BASE_MS): number {
  const exp = Math.min(BACKOFF_MAX_MS, baseMs * 2 ** attempt);
  return exp / 2 + Math.random() * (exp / 2);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function cancelled(): McdnError {
  return new McdnError('CANCELLED', 'cancelled', 'cancelled');
}

/** Errors worth retrying: network failures, stalls, 5xx, 429. */
export function isRetryable(e: unknown): boolean {
  if (!(e instanceof McdnError)) return true;
  if (e.category === 'network') return true;
  return false;
}

export function normalizeServer(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    throw new McdnError('BAD_SERVER_URL', 'config', `not a URL: '${u}'`, { remedy: 'pass --server http://HOST:PORT or set MODELCDN_SERVER' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new McdnError('BAD_SERVER_URL', 'config', `unsupported URL scheme in '${u}'`);
  return url.origin + url.pathname.replace(/\/+$/, '');
}

export class ClientHttp {
  readonly base: string;
  private readonly agent: http.Agent;
  readonly stallMs: number;
  readonly retries: number;
  constructor(server: string, opts: { stallMs?: number; retries?: number; maxSockets?: number; raw?: boolean } = {}) {
    this.base = normalizeServer(server);
    const isHttps = this.base.startsWith('https:');
    this.agent = isHttps ? new https.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 32 }) : new http.Agent({ keepAlive: true, maxSockets: opts.maxSockets ?? 32 });
    this.stallMs = opts.stallMs ?? DEFAULT_STALL_MS;
    this.retries = opts.retries ?? DEFAULT_RETRIES;
    this.rawOk = !isHttps && opts.raw !== false;
  }

  /** One GET; resolves with the response (headers arrived), body unread. Stalls abort the request. */
  request(path: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<IncomingMessage> {
    const url = new URL(this.base + path);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(cancelled());
      const req = mod.request(url, { method: 'GET', headers: { 'user-agent': 'modelcdn-client', ...headers }, agent: this.agent }, (res) => resolve(res));
      // socket idle (no bytes either way) for stallMs: a stall, before or after the headers
      req.setTimeout(this.stallMs, () => req.destroy(new McdnError('DOWNLOAD_STALLED', 'network', `${url.origin}${path}: no data for ${this.stallMs} ms`)));
      const onAbort = () => req.destroy(cancelled());
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => signal?.removeEventListener('abort', onAbort));
      req.on('error', (e) => {
        reject(e instanceof McdnError ? e : new McdnError('SERVER_UNREACHABLE', 'network', `${url.origin}${path}: ${e.message}`, { cause: e }));
      });
      req.end();
    });
  }

  /** false after the raw fetcher met a response it cannot handle (then node:http is used) */
  rawOk: boolean;

  /**
   * GET a blob (range) for a download: over a raw socket for http:// servers, node:http otherwise.
   * Resolves once the response head arrived.
   */
  blobGet(path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<BodyStream> {
    if (!this.rawOk) return this.request(path, headers, signal);
    const url = new URL(this.base + path);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(cancelled());
      const r: RawBlobResponse = new RawBlobResponse(url, url.pathname + url.search, headers, this.stallMs, (e) => {
        if (!e) return resolve(r);
        if ((e as McdnError).code === 'RAW_UNSUPPORTED') {
          this.rawOk = false;
          this.request(path, headers, signal).then(resolve, reject);
        } else reject(e);
      });
      const onAbort = () => r.destroy(cancelled());
      signal?.addEventListener('abort', onAbort, { once: true });
      r.on('close', () => signal?.removeEventListener('abort', onAbort));
    });
  }

  /** GET a small body with retries (network errors and 5xx are retried; 4xx returned). */
  async getBuffer(path: string, signal?: AbortSignal, retries = Math.min(this.retries, 4)): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.request(path, {}, signal);
        const parts: Buffer[] = [];
        let n = 0;
        for await (const c of res as AsyncIterable<Buffer>) {
          n += c.length;
          if (n > MAX_META_BYTES) {
            res.destroy();
            throw new McdnError('RESPONSE_TOO_LARGE', 'integrity', `${path}: response larger than ${MAX_META_BYTES} bytes`);
          }
          parts.push(c);
        }
        const status = res.statusCode ?? 0;
        if (status >= 500 || status === 429) throw new McdnError('SERVER_STATUS', 'network', `${this.base}${path}: HTTP ${status}`);
        return { status, body: Buffer.concat(parts), headers: res.headers };
      } catch (e) {
        if (!isRetryable(e) || attempt >= retries || signal?.aborted) throw signal?.aborted ? cancelled() : e;
        await sleep(backoffMs(attempt), signal);
      }
    }
  }

  /** GET JSON; 404 → undefined; other non-2xx → McdnError with the server's message. */
  async getJson<T>(path: string, signal?: AbortSignal): Promise<T | undefined> {
    const r = await this.getBuffer(path, signal);
    if (r.status === 404) return undefined;
    if (r.status < 200 || r.status >= 300) {
      let msg = `HTTP ${r.status}`;
      try {
        const j = JSON.parse(r.body.toString('utf8')) as { error?: { message?: string } };
        if (j.error?.message) msg = j.error.message;
      } catch {
        // not JSON
      }
      throw new McdnError('SERVER_ERROR', r.status === 401 || r.status === 403 ? 'auth' : 'network', `${this.base}${path}: ${msg}`);
    }
    try {
      return JSON.parse(r.body.toString('utf8')) as T;
    } catch {
      throw new McdnError('SERVER_BAD_JSON', 'network', `${this.base}${path}: response is not JSON`);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
