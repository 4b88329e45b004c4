/**
 * A minimal HTTP/1.1 blob GET over a plain TCP socket, shared by the client's downloads and the
 * edge's cache fills: socket reads land in pooled 256 KiB buffers (or in memory the consumer offers,
 * `readInto`) that are handed on without a copy and reused once released, with none of node:http's
 * stream machinery per 64 KiB chunk — about a fifth of node:http's CPU per byte here, and no garbage
 * per chunk for V8 to collect. http:// only, `Connection: close`, bodies with a Content-Length;
 * anything else fails the head with RAW_UNSUPPORTED and callers use node:http.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { McdnError } from '../../errors.ts';
import type { PausableBody } from './body.ts';

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
export interface RawFetchOptions {
  userAgent?: string;
  /** error code when no byte arrives for stallMs (default DOWNLOAD_STALLED) */
  stallCode?: string;
  /** error code when the connection fails before a response (default SERVER_UNREACHABLE) */
  unreachableCode?: string;
}

export class RawBlobResponse extends EventEmitter implements BodyStream {
  statusCode: number | undefined;
  headers: Record<string, string> = {};
  private socket: net.Socket;
  private head: Buffer[] = [];
  private headBytes = 0;
  private remaining = -1;
  private paused = false;
  private finished = false;
  readInto: (() => Uint8Array | undefined) | undefined;
  /** set between the response head and the first body bytes handed to a listener */
  private startBody: (() => void) | undefined;

  constructor(url: URL, path: string, headers: Record<string, string>, stallMs: number, onHead: (e?: Error) => void, opts: RawFetchOptions = {}) {
    super();
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${url.host}`, 'Connection: close', `User-Agent: ${opts.userAgent ?? 'modelcdn-client'}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
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
            // the consumer attaches its listeners some time after the head promise resolved (it may
            // await other work first): the socket is held, and the first body bytes go out once a
            // 'data' or 'end' listener is attached or resume() is called — never into the void
            const rest = all.subarray(end + 4);
            this.startBody = () => {
              this.startBody = undefined;
              if (rest.length > 0) this.deliver(rest);
              else if (this.remaining === 0) this.finish();
              if (!this.paused && !this.finished) this.socket.resume();
            };
            if (this.listenerCount('data') + this.listenerCount('end') > 0) setImmediate(() => this.startBody?.());
            else {
              const onListener = (event: string | symbol) => {
                if (event !== 'data' && event !== 'end') return;
                this.off('newListener', onListener);
                queueMicrotask(() => this.startBody?.()); // 'newListener' fires before the listener is added
              };
              this.on('newListener', onListener);
            }
            return false;
          }
          this.deliver(b);
          return !this.paused;
        },
      },
    });
    this.socket.on('connect', () => this.socket.write(lines.join('\r\n') + '\r\n\r\n'));
    this.socket.setTimeout(stallMs, () => this.socket.destroy(new McdnError(opts.stallCode ?? 'DOWNLOAD_STALLED', 'network', `${url.origin}${path}: no data for ${stallMs} ms`)));
    this.socket.on('error', (e) => {
      if (!headDone) {
        headDone = true;
        onHead(e instanceof McdnError ? e : new McdnError(opts.unreachableCode ?? 'SERVER_UNREACHABLE', 'network', `${url.origin}${path}: ${e.message}`, { cause: e }));
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

  /**
   * The body as an async iterable (for consumers written against node:http's response), with
   * backpressure: the socket pauses while more than two chunks wait. A connection that closes early
   * simply ends the iteration; callers count bytes, as with a Content-Length.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    const queue: Buffer[] = [];
    let done = this.finished;
    let err: Error | undefined;
    let wake: (() => void) | undefined;
    const poke = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const onData = (c: Buffer) => {
      queue.push(c);
      if (queue.length > 2) this.pause();
      poke();
    };
    const onEnd = () => {
      done = true;
      poke();
    };
    const onError = (e: Error) => {
      err = e;
      poke();
    };
    this.on('data', onData);
    this.on('end', onEnd);
    this.on('close', onEnd);
    this.on('error', onError);
    try {
      for (;;) {
        const c = queue.shift();
        if (c) {
          if (queue.length === 0 && this.paused && !done) this.resume();
          yield c;
          continue;
        }
        if (err) throw err;
        if (done) return;
        await new Promise<void>((r) => (wake = r));
      }
    } finally {
      this.off('data', onData);
      this.off('end', onEnd);
      this.off('close', onEnd);
      this.off('error', onError);
      if (!this.finished) this.destroy();
    }
  }

  pause(): this {
    this.paused = true;
    this.socket.pause();
    return this;
  }

  resume(): this {
    this.paused = false;
    if (this.startBody) this.startBody();
    else this.socket.resume();
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

