/**
 * The client's HTTP layer (node:http/https with keep-alive): small JSON/metadata GETs with retries
 * and exponential backoff, and ranged blob GETs with stall detection (no body bytes for `stallMs`
 * aborts the request). Knows the read API's paths but nothing about manifests or files.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import { McdnError } from '../../errors.ts';
import type { PausableBody } from '../http/body.ts';

export const DEFAULT_STALL_MS = 15_000;
export const DEFAULT_RETRIES = 10;
export const BACKOFF_BASE_MS = 200;
export const BACKOFF_MAX_MS = 5_000;
/** Largest metadata body read into memory. */
export const MAX_META_BYTES = 32 << 20;
/** Read buffer of the raw blob fetcher: each socket read lands in a fresh buffer of this size. */
export const RAW_READ_BYTES = 256 << 10;
/** Read buffers kept for reuse (64 MiB at most). */
export const READ_POOL_MAX = 256;
/** Longest response head the raw fetcher accepts. */
export const MAX_RESPONSE_HEAD_BYTES = 64 << 10;

/** What downloads need from a response: status, headers and a pausable stream of body chunks. */
export interface BodyStream extends PausableBody {
  statusCode?: number | undefined;
  headers: Record<string, string | string[] | undefined>;
  /**
   * Where the next socket read should land (the raw fetcher asks before every read once the head is
   * parsed; undefined: a pooled read buffer). Lets a consumer receive straight into its own memory,
   * e.g. aligned blocks for direct I/O. Responses from node:http ignore it.
   */
  readInto?: (() => Uint8Array | undefined) | undefined;
}

const readPool: ArrayBuffer[] = [];
/** Read buffers handed out by the raw fetcher and not yet released (a release of anything else is ignored). */
const lent = new WeakSet<ArrayBuffer>();

function takeReadBuffer(): Buffer {
  const ab = readPool.pop() ?? new ArrayBuffer(RAW_READ_BYTES);
  lent.add(ab);
  return Buffer.from(ab);
}

/**
 * Hand the memory of a body chunk from `blobGet` back for reuse, once no view of it is used any
 * more (the download has written and hashed it). Without this every socket read allocates a fresh
 * 256 KiB buffer, and freeing 4,000 of them per GB costs V8 dozens of full GCs. Chunks that did not
 * come from the raw fetcher, and second releases, are ignored.
 */
export function releaseReadBuffer(chunk: Uint8Array): void {
  const hook = releaseHooks.get(chunk);
  if (hook) {
    releaseHooks.delete(chunk);
    return hook();
  }
  if (claimReadBuffer(chunk)) returnReadMemory(chunk.buffer as ArrayBuffer);
}

const releaseHooks = new WeakMap<Uint8Array, () => void>();

/** Lend `view` (e.g. a ring block) to a consumer that calls `releaseReadBuffer(view)` when done with it. */
export function lendView(view: Uint8Array, release: () => void): void {
  releaseHooks.set(view, release);
}

/**
 * Take over a body chunk's memory for a zero-copy hand-off (e.g. to the hash worker): true if
 * `chunk` came from the raw fetcher and was not released or claimed yet. Give the memory back with
 * `returnReadMemory` once done.
 */
export function claimReadBuffer(chunk: Uint8Array): boolean {
  return lent.delete(chunk.buffer as ArrayBuffer);
}

/** Memory of a claimed chunk, back for the next socket read. */
export function returnReadMemory(memory: ArrayBuffer): void {
  if (memory.byteLength === RAW_READ_BYTES && readPool.length < READ_POOL_MAX) readPool.push(memory);
}

/**
 * One blob GET over a plain TCP socket (http:// only, `Connection: close`): socket reads land
 * straight in 256 KiB buffers (reused once the caller releases them: releaseReadBuffer) that are
 * handed on without a copy (Node's `onread` with a buffer factory), and there is no HTTP stream machinery per 64 KiB chunk — measured here at about a fifth
 * of node:http's CPU per byte. Bodies must have a Content-Length (our servers always send one for
 * blobs); anything else is an error and the caller falls back to node:http.
 */
class RawBlobResponse extends EventEmitter implements BodyStream {
  statusCode: number | undefined;
  headers: Record<string, string> = {};
  private socket: net.Socket;
  private head: Buffer[] = [];
  private headBytes = 0;
  private remaining = -1;
  private paused = false;
  private finished = false;
  readInto: (() => Uint8Array | undefined) | undefined;

  constructor(url: URL, path: string, headers: Record<string, string>, stallMs: number, onHead: (e?: Error) => void) {
    super();
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close', 'User-Agent: modelcdn-client', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    let headDone = false;
    this.socket = net.connect({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 80),
      onread: {
        buffer: () => (headDone && this.readInto?.()) || takeReadBuffer(),
        callback: (n: number, buf: Uint8Array) => {
          const b = Buffer.from(buf.buffer, buf.byteOffset, n);
          if (!headDone) {
            this.head.push(b);
            this.headBytes += n;
            const all = this.head.length === 1 ? b : Buffer.concat(this.head);
            const end = all.indexOf('\r\n\r\n');
            if (end < 0) {
              if (this.headBytes > MAX_RESPONSE_HEAD_BYTES) this.socket.destroy(new McdnError('RESPONSE_HEAD_TOO_LARGE', 'network', `${url.origin}${path}: response head over ${MAX_RESPONSE_HEAD_BYTES} bytes`));
              return true;
            }
            headDone = true;
            const err = this.parseHead(all.subarray(0, end).toString('latin1'), `${url.origin}${path}`);
            onHead(err);
            if (err) {
              this.socket.destroy();
              return false;
            }
            // the consumer attaches its listeners once the head promise resolved: hand it the first
            // body bytes on the next turn, holding the socket until then
            const rest = all.subarray(end + 4);
            setImmediate(() => {
              if (rest.length > 0) this.deliver(rest);
              else if (this.remaining === 0) this.finish();
              if (!this.paused && !this.finished) this.socket.resume();
            });
            return false;
          }
          this.deliver(b);
          return !this.paused;
        },
      },
    });
    this.socket.on('connect', () => this.socket.write(lines.join('\r\n') + '\r\n\r\n'));
    this.socket.setTimeout(stallMs, () => this.socket.destroy(new McdnError('DOWNLOAD_STALLED', 'network', `${url.origin}${path}: no data for ${stallMs} ms`)));
    this.socket.on('error', (e) => {
      if (!headDone) {
        headDone = true;
        onHead(e instanceof McdnError ? e : new McdnError('SERVER_UNREACHABLE', 'network', `${url.origin}${path}: ${e.message}`, { cause: e }));
      } else if (!this.finished) this.emit('error', e);
    });
    this.socket.on('close', () => {
      if (!headDone) {
        headDone = true;
        onHead(new McdnError('SERVER_CLOSED', 'network', `${url.origin}${path}: connection closed before a response`));
      }
      if (!this.finished && this.remaining < 0) {
        // no Content-Length: the body ended with the connection
        this.finished = true;
        this.emit('end');
      }
      this.emit('close');
    });
  }

  private parseHead(text: string, where: string): Error | undefined {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.[01] ([0-9]{3})/.exec(lines[0] ?? '');
    if (!m) return new McdnError('BAD_RESPONSE', 'network', `${where}: not an HTTP/1.x response`);
    this.statusCode = Number(m[1]);
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) this.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const te = this.headers['transfer-encoding'];
    if (te && te.toLowerCase() !== 'identity') return new McdnError('RAW_UNSUPPORTED', 'network', `${where}: transfer-encoding ${te}`);
    const cl = this.headers['content-length'];
    if (cl !== undefined) {
      const n = Number(cl);
      if (!Number.isSafeInteger(n) || n < 0) return new McdnError('BAD_RESPONSE', 'network', `${where}: bad content-length '${cl}'`);
      this.remaining = n;
    }
    return undefined;
  }

  private deliver(b: Buffer): void {
    if (this.finished) return;
    let chunk = b;
    if (this.remaining >= 0) {
      if (chunk.length > this.remaining) chunk = chunk.subarray(0, this.remaining);
      this.remaining -= chunk.length;
    }
    if (chunk.length > 0) this.emit('data', chunk);
    if (this.remaining === 0) this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.emit('end');
    this.socket.destroy();
  }

  pause(): this {
    this.paused = true;
    this.socket.pause();
    return this;
  }

  resume(): this {
    this.paused = false;
    this.socket.resume();
    return this;
  }

  isPaused(): boolean {
    return this.paused;
  }

  destroy(e?: Error): this {
    this.finished = true;
    this.socket.destroy(e);
    return this;
  }
}

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
