/**
 * Byte pumps from the cache to an HTTP response, all with backpressure: a verified cached file
 * (plain fs stream, or block-by-block re-verification), a fill in progress (reading the growing temp
 * file, holding the last chunk back until the fill's sha256 is confirmed, so a response only ever
 * completes with verified bytes), and a straight upstream proxy (bypass, or the rest of a fill that
 * had to be given up). Each returns the number of body bytes sent. No routing or policy here.
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { McdnError } from '../../errors.ts';
import type { ByteRange } from '../http/range.ts';
import { blockMatches } from './blocks.ts';
import type { CacheEntry } from './blob-cache.ts';
import type { Fill } from './fill.ts';
import type { Upstream } from './upstream.ts';

/** Read size when streaming cached files (1 MiB measured best for node:http on loopback). */
export const SERVE_CHUNK = 1 << 20;

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

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(len);
  let off = 0;
  while (off < len) {
    const { bytesRead } = await fh.read(buf, off, len - off, pos + off);
    if (bytesRead === 0) throw new McdnError('CACHE_FILE_SHORT', 'io', `cache file ended at ${pos + off}, expected ${pos + len} bytes`);
    off += bytesRead;
  }
  return buf;
}

/** Stream [range) of a verified cache file already opened as `fh` (closed when done). */
export async function serveFile(res: ServerResponse, fh: FileHandle, range: ByteRange): Promise<number> {
  if (range.end <= range.start) {
    await fh.close();
    res.end();
    return 0;
  }
  let sent = 0;
  const s = createReadStream('', { fd: fh, start: range.start, end: range.end - 1, highWaterMark: SERVE_CHUNK, autoClose: true });
  s.on('data', (c) => (sent += c.length));
  try {
    await pipeline(s, res);
  } catch {
    // client went away or read failed; pipeline destroyed both ends
  }
  return sent;
}

/**
 * Stream [range) of a cached file re-verifying each covering block against the index before any
 * byte of it is sent. On a mismatch the response is aborted and `onCorrupt` is called.
 */
export async function serveFileVerified(res: ServerResponse, fh: FileHandle, entry: CacheEntry, range: ByteRange, onCorrupt: () => void): Promise<number> {
  let sent = 0;
  try {
    const bs = entry.blockSize;
    for (let b = Math.floor(range.start / bs); b * bs < range.end; b++) {
      const bStart = b * bs;
      const bEnd = Math.min(entry.size, bStart + bs);
      const block = await readAt(fh, bStart, bEnd - bStart);
      if (!blockMatches(entry.blocks, b, block)) {
        onCorrupt();
        res.destroy(new McdnError('CACHE_BLOCK_CORRUPT', 'integrity', `cached blob ${entry.hash} block ${b} is corrupt`));
        return sent;
      }
      const part = block.subarray(Math.max(range.start, bStart) - bStart, Math.min(range.end, bEnd) - bStart);
      if (!(await writeChunk(res, part))) return sent;
      sent += part.length;
    }
    res.end();
    return sent;
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * Stream [range) of a blob from its fill in progress. Waits for bytes as they arrive; the last chunk
 * is sent only after the fill verified. When the fill fails because the disk is full, the rest is
 * proxied from upstream; any other failure aborts the response (never completes it with unverified
 * bytes).
 */
export async function serveFromFill(res: ServerResponse, fill: Fill, range: ByteRange, upstream: Upstream): Promise<number> {
  let fh: FileHandle | undefined;
  let pos = range.start;
  let sent = 0;
  fill.readers++;
  try {
    try {
      fh = await open(fill.tmpPath, 'r');
    } catch {
      // renamed (the fill is completing) or removed (it failed)
      await fill.done.catch(() => {});
      if (fill.state === 'complete' && fill.finalPath) fh = await open(fill.finalPath, 'r');
    }
    while (pos < range.end) {
      if (res.destroyed) return sent;
      await fill.waitBeyond(pos);
      if (fill.state === 'failed' || !fh) {
        if (fill.error?.code === 'DISK_FULL') return sent + (await proxyRest(res, fill.hash, pos, range.end, upstream));
        res.destroy(fill.error ?? new McdnError('FILL_FAILED', 'network', `fill of ${fill.hash} failed`));
        return sent;
      }
      const avail = fill.state === 'complete' ? range.end : Math.min(fill.written, range.end);
      const n = Math.min(avail - pos, SERVE_CHUNK);
      if (n <= 0) continue;
      if (pos + n === range.end && fill.state !== 'complete') {
        // hold the last chunk back until the whole blob is verified
        try {
          await fill.done;
        } catch {
          continue; // loop sees the failed state
        }
      }
      const buf = await readAt(fh, pos, n);
      if (!(await writeChunk(res, buf))) return sent;
      pos += n;
      sent += n;
    }
    res.end();
    return sent;
  } catch (e) {
    res.destroy(e as Error);
    return sent;
  } finally {
    fill.readers--;
    await fh?.close().catch(() => {});
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
  try {
    for await (const raw of body) {
      let c = raw;
      if (skip > 0) {
        if (c.length <= skip) {
          skip -= c.length;
          continue;
        }
        c = c.subarray(skip);
        skip = 0;
      }
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
