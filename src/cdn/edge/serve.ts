/**
 * Byte pumps from the cache to an HTTP response, all with backpressure and bounded memory (two
 * reused buffers per response, sized from a shared budget and taken from a shared free list): a
 * verified cached file (plain reads, or
 * block-by-block re-verification), a fill in progress (reading the growing temp
 * file; a response that reaches the blob's end holds its last chunk back until the fill's sha256 is
 * confirmed, so a full response only ever completes with verified bytes), and a straight upstream proxy (bypass, or the rest of a fill that
 * had to be given up). Each returns the number of body bytes sent. No routing or policy here.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { McdnError } from '../../errors.ts';
import { skipper } from '../http/body.ts';
import type { ByteRange } from '../http/range.ts';
import { blockMatches } from './blocks.ts';
import type { CacheEntry } from './blob-cache.ts';
import type { Fill } from './fill.ts';
import type { Upstream } from './upstream.ts';

/** Largest read per chunk when streaming cached files (4 MiB: fewest syscalls and promise round trips per byte). */
export const SERVE_CHUNK = 4 << 20;
/** Smallest read per chunk, however many responses are in flight. */
export const MIN_SERVE_CHUNK = 64 << 10;
/** Bytes of read buffers all concurrent responses may hold together (each holds two chunks). */
export const SERVE_MEMORY_BUDGET = 64 << 20;

let active = 0;

/** responses currently streaming bytes from disk (for metrics and chunk sizing) */
export function activeResponses(): number {
  return active;
}

/** Chunk size for a new response: the buffer budget shared by everyone in flight, power of two. */
function chunkSize(): number {
  const share = SERVE_MEMORY_BUDGET / (2 * Math.max(1, active));
  let c = SERVE_CHUNK;
  while (c > share && c > MIN_SERVE_CHUNK) c >>= 1;
  return c;
}

/** Idle serve buffers kept for the next responses, by size (bytes at most). */
export const FREE_BUFFER_BYTES = 32 << 20;
const freeBuffers = new Map<number, Buffer[]>();
let freeBytes = 0;

/**
 * A read buffer of `size` bytes from the free list (every response asks for the same few power-of-
 * two sizes), else a fresh one. Range-heavy traffic — a client pulling a 1 GB blob as 128 ranged
 * requests — would otherwise allocate new buffers per request, and freeing them cost the edge more
 * CPU in GC than reading the file.
 */
function acquireBuffer(size: number): Buffer {
  const b = freeBuffers.get(size)?.pop();
  if (b) {
    freeBytes -= size;
    return b;
  }
  return Buffer.allocUnsafeSlow(size);
}

function releaseBuffer(b: Buffer): void {
  if (freeBytes + b.length > FREE_BUFFER_BYTES) return;
  let l = freeBuffers.get(b.length);
  if (!l) freeBuffers.set(b.length, (l = []));
  l.push(b);
  freeBytes += b.length;
}

/**
 * Two reusable buffers per response: one is read into while the other is being flushed to the
 * socket. A buffer is reused only after its write callback (the kernel took the bytes), so a
 * response holds at most two chunks and creates no garbage, whatever the client's speed; when the
 * response ends they go back to a shared free list (`close`).
 */
class BufferPair {
  private readonly bufs: Buffer[];
  private readonly busy: (Promise<boolean> | undefined)[] = [undefined, undefined];
  private i = 0;
  /** size of the buffer handed out by the last next() */
  chunk: number;
  constructor(
    private readonly res: ServerResponse,
    private readonly fixed?: number,
  ) {
    // start small and double per chunk while the shared budget allows: a burst of new responses
    // cannot each grab a large buffer before the others are counted
    this.chunk = fixed ?? MIN_SERVE_CHUNK;
    this.bufs = [acquireBuffer(this.chunk), acquireBuffer(this.chunk)];
  }

  /** the next free buffer, or undefined when the client went away */
  async next(): Promise<Buffer | undefined> {
    const b = this.busy[this.i];
    if (b && !(await b)) return undefined;
    if (this.res.destroyed) return undefined;
    if (this.fixed === undefined) {
      const want = Math.min(chunkSize(), this.chunk * 2);
      if (want !== this.bufs[this.i]!.length) {
        releaseBuffer(this.bufs[this.i]!); // its last write completed (awaited above)
        this.bufs[this.i] = acquireBuffer(want);
      }
    }
    this.chunk = this.bufs[this.i]!.length;
    return this.bufs[this.i];
  }

  /** send the first `n` bytes of the buffer returned by next() */
  send(n: number): void {
    const buf = this.bufs[this.i]!.subarray(0, n);
    const res = this.res;
    this.busy[this.i] = new Promise<boolean>((resolve) => {
      const onClose = () => resolve(false);
      res.once('close', onClose);
      res.write(buf, (err) => {
        res.off('close', onClose);
        resolve(!err);
      });
    });
    this.i ^= 1;
  }

  /** wait for both outstanding writes; false if the client went away */
  async settle(): Promise<boolean> {
    const r = await Promise.all(this.busy.map((b) => b ?? true));
    return r.every(Boolean) && !this.res.destroyed;
  }

  /** once both writes finished (or the client went away), hand the buffers to the free list */
  async close(): Promise<void> {
    await Promise.all(this.busy.map((b) => b ?? true));
    for (const b of this.bufs) releaseBuffer(b);
    this.bufs.length = 0;
  }
}

async function readFully(fh: FileHandle, buf: Buffer, len: number, pos: number): Promise<void> {
  let off = 0;
  while (off < len) {
    const { bytesRead } = await fh.read(buf, off, len - off, pos + off);
    if (bytesRead === 0) throw new McdnError('CACHE_FILE_SHORT', 'io', `cache file ended at ${pos + off}, expected ${pos + len} bytes`);
    off += bytesRead;
  }
}

/** resolves true when the response can take more, false when the client went away */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

async function writeChunk(res: ServerResponse, buf: Uint8Array): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(buf)) return true;
  return drained(res);
}

/** Stream [range) of a verified cache file already opened as `fh` (closed when done). */
export async function serveFile(res: ServerResponse, fh: FileHandle, range: ByteRange): Promise<number> {
  active++;
  let sent = 0;
  const pair = new BufferPair(res);
  try {
    for (let pos = range.start; pos < range.end; ) {
      const buf = await pair.next();
      if (!buf) return sent;
      const n = Math.min(buf.length, range.end - pos);
      await readFully(fh, buf, n, pos);
      pair.send(n);
      pos += n;
      sent += n;
    }
    if (await pair.settle()) res.end();
    return sent;
  } catch (e) {
    res.destroy(e as Error);
    return sent;
  } finally {
    active--;
    void fh.close().catch(() => {}); // not awaited: the caller records the response as done at once
    void pair.close(); // buffers go back once their writes finished; the response is already done
  }
}

/**
 * Send [range) of a verified in-memory copy in one write: the socket takes the bytes straight from
 * the buffer (no copy, no per-chunk round trips); the response holds a view of the buffer until the
 * kernel has taken everything, so memory does not grow with the number of clients.
 */
export async function serveBuffer(res: ServerResponse, buf: Buffer, range: ByteRange): Promise<number> {
  const n = range.end - range.start;
  const ok = await new Promise<boolean>((resolve) => {
    const onClose = () => resolve(false);
    res.once('close', onClose);
    res.end(buf.subarray(range.start, range.end), () => {
      res.off('close', onClose);
      resolve(true);
    });
  });
  return ok ? n : 0;
}

/**
 * Stream [range) of a cached file re-verifying each covering block against the index before any
 * byte of it is sent. On a mismatch the response is aborted and `onCorrupt` is called.
 */
export async function serveFileVerified(res: ServerResponse, fh: FileHandle, entry: CacheEntry, range: ByteRange, onCorrupt: () => void): Promise<number> {
  active++;
  let sent = 0;
  const pair = new BufferPair(res, entry.blockSize);
  try {
    const bs = entry.blockSize;
    for (let b = Math.floor(range.start / bs); b * bs < range.end; b++) {
      const buf = await pair.next();
      if (!buf) return sent;
      const bStart = b * bs;
      const bEnd = Math.min(entry.size, bStart + bs);
      await readFully(fh, buf, bEnd - bStart, bStart);
      if (!blockMatches(entry.blocks, b, buf.subarray(0, bEnd - bStart))) {
        onCorrupt();
        res.destroy(new McdnError('CACHE_BLOCK_CORRUPT', 'integrity', `cached blob ${entry.hash} block ${b} is corrupt`));
        return sent;
      }
      const from = Math.max(range.start, bStart) - bStart;
      const to = Math.min(range.end, bEnd) - bStart;
      if (from > 0) buf.copy(buf, 0, from, to);
      pair.send(to - from);
      sent += to - from;
    }
    if (await pair.settle()) res.end();
    return sent;
  } catch (e) {
    res.destroy(e as Error);
    return sent;
  } finally {
    active--;
    void fh.close().catch(() => {}); // not awaited: the caller records the response as done at once
    void pair.close(); // buffers go back once their writes finished; the response is already done
  }
}

/**
 * Stream [range) of a blob from its fill in progress. Waits for bytes as they arrive; when the range
 * reaches the blob's end, the last chunk is sent only after the fill verified. When the fill fails because the disk is full, the rest is
 * proxied from upstream; any other failure aborts the response (never completes it with unverified
 * bytes).
 */
export async function serveFromFill(res: ServerResponse, fill: Fill, range: ByteRange, upstream: Upstream): Promise<number> {
  let fh: FileHandle | undefined;
  let pair: BufferPair | undefined;
  let pos = range.start;
  let sent = 0;
  fill.readers++;
  active++;
  try {
    // the file is opened only when a read misses the ring (the first bytes never touch the disk)
    const file = async (): Promise<FileHandle> => {
      if (fh) return fh;
      await fill.fileReady;
      try {
        fh = await open(fill.tmpPath, 'r');
      } catch {
        // renamed (the fill completed) or removed (it failed)
        await fill.done.catch(() => {});
        if (fill.state !== 'complete' || !fill.finalPath) throw fill.error ?? new McdnError('FILL_FAILED', 'network', `fill of ${fill.hash} failed`);
        fh = await open(fill.finalPath, 'r');
      }
      return fh;
    };
    pair = new BufferPair(res);
    while (pos < range.end) {
      if (res.destroyed) return sent;
      await fill.waitBeyond(pos);
      if (fill.state === 'failed') {
        if (fill.error?.code === 'DISK_FULL') {
          if (!(await pair.settle())) return sent;
          return sent + (await proxyRest(res, fill.hash, pos, range.end, upstream));
        }
        res.destroy(fill.error ?? new McdnError('FILL_FAILED', 'network', `fill of ${fill.hash} failed`));
        return sent;
      }
      const avail = fill.state === 'complete' ? range.end : Math.min(fill.received, range.end);
      if (avail <= pos) continue;
      const buf = await pair.next();
      if (!buf) return sent;
      const n = Math.min(avail - pos, buf.length);
      if (pos + n === range.end && range.end === fill.size && fill.state !== 'complete') {
        // a response that reaches the blob's end holds its last chunk back until the whole blob is
        // verified. (A range that ends earlier completes when its bytes are in: the edge can only
        // verify whole blobs, and making it wait for the entire fill would stall parallel ranged
        // clients; they verify the blob end to end themselves.)
        try {
          await fill.done;
        } catch {
          continue; // the loop sees the failed state
        }
      }
      // the newest bytes come from the fill's ring (no disk round trip), older ones from the file
      if (!fill.copyFromRing(pos, buf, n)) await readFully(await file(), buf, n, pos);
      pair.send(n);
      pos += n;
      sent += n;
    }
    if (await pair.settle()) res.end();
    return sent;
  } catch (e) {
    res.destroy(e as Error);
    return sent;
  } finally {
    active--;
    fill.readers--;
    void fh?.close().catch(() => {});
    void pair?.close();
  }
}

/** Continue a started response with bytes [start, end) fetched straight from upstream. */
async function proxyRest(res: ServerResponse, hash: string, start: number, end: number, upstream: Upstream): Promise<number> {
  const r = await upstream.request(`/v1/blobs/${hash}`, { headers: { range: `bytes=${start}-${end - 1}` } });
  let skip = 0;
  if (r.status === 200) skip = start;
  else if (r.status !== 206) {
    r.body.resume();
    res.destroy(new McdnError('UPSTREAM_STATUS', 'network', `upstream answered HTTP ${r.status} for the rest of ${hash}`));
    return 0;
  }
  return pumpBody(res, r.body, skip, end - start);
}

/** copy `len` bytes of `body` after skipping `skip`, then end the response */
export async function pumpBody(res: ServerResponse, body: AsyncIterable<Buffer> & { destroy(): void }, skip: number, len: number): Promise<number> {
  let sent = 0;
  const after = skipper(skip);
  try {
    for await (const raw of body) {
      let c = after(raw);
      if (!c) continue;
      if (sent + c.length > len) c = c.subarray(0, len - sent);
      if (!(await writeChunk(res, c))) {
        body.destroy();
        return sent;
      }
      sent += c.length;
      if (sent >= len) break;
    }
  } catch (e) {
    res.destroy(e as Error);
    return sent;
  }
  body.destroy();
  if (sent < len) res.destroy(new McdnError('UPSTREAM_TRUNCATED', 'network', `upstream closed after ${sent} of ${len} bytes`));
  else res.end();
  return sent;
}
