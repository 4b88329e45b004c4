/**
 * Resumable, rate-capped download of one blob into a part file (`<dir>/<hash>.part`): continues
 * from the part's size with a Range request, writes through a token bucket (the edge's
 * --prefetch-rate; async iteration pauses the socket while the bucket is empty), and stops cleanly
 * when aborted (the window closed, the item was dropped) keeping what it has. It does not verify
 * the hash (the cache does when it adopts the file) and does not decide what to fetch.
 */
import { open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { McdnError, fromSystemError } from '../../errors.ts';
import type { TokenBucket } from '../placement/index.ts';
import type { Upstream } from '../edge/upstream.ts';
import { skipper } from '../http/body.ts';

export function partPath(dir: string, hash: string): string {
  return join(dir, `${hash}.part`);
}

/** bytes already in the part file (0 when none) */
export async function partSize(dir: string, hash: string): Promise<number> {
  const st = await stat(partPath(dir, hash)).catch(() => undefined);
  return st?.isFile() ? st.size : 0;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export interface FetchResult {
  /** the complete part file, or undefined when aborted before the end */
  path: string | undefined;
  /** bytes received by this call */
  fetched: number;
  /** bytes in the part file now */
  have: number;
  /** which upstream answered (parent edge or origin) */
  source?: string;
}

/**
 * Download `hash` (`size` bytes) into its part file under `dir`. `onBytes(n)` is called as bytes land.
 * Throws McdnError on upstream errors (the part is kept for the next try) and when upstream's length
 * disagrees with `size` (the part is deleted).
 */
export async function fetchBlobResumable(opts: {
  upstream: Upstream;
  dir: string;
  hash: string;
  size: number;
  bucket?: TokenBucket;
  signal?: AbortSignal;
  onBytes?: (n: number) => void;
  /** extra request headers (siblings are asked `cache-control: only-if-cached`) */
  headers?: Record<string, string>;
}): Promise<FetchResult> {
  const { upstream, dir, hash, size } = opts;
  const path = partPath(dir, hash);
  let have = await partSize(dir, hash);
  if (have > size) {
    await unlink(path).catch(() => {});
    have = 0;
  }
  if (have === size) return { path, fetched: 0, have };
  if (opts.signal?.aborted) return { path: undefined, fetched: 0, have };
  let resp;
  try {
    resp = await upstream.request(`/v1/blobs/${hash}`, { headers: { ...(opts.headers ?? {}), ...(have > 0 ? { range: `bytes=${have}-` } : {}) }, ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (e) {
    if (opts.signal?.aborted) return { path: undefined, fetched: 0, have };
    throw e;
  }
  const body = resp.body;
  let skip = 0;
  if (resp.status === 200) {
    const len = Number(resp.headers['content-length']);
    if (Number.isSafeInteger(len) && len !== size) {
      body.resume();
      await unlink(path).catch(() => {});
      throw new McdnError('PREFETCH_SIZE_MISMATCH', 'integrity', `blob ${hash}: upstream has ${len} bytes, the manifest says ${size}`);
    }
    skip = have; // upstream ignored the range
  } else if (resp.status === 206) {
    const cr = String(resp.headers['content-range'] ?? '');
    if (!cr.startsWith(`bytes ${have}-`)) {
      body.resume();
      throw new McdnError('UPSTREAM_BAD_RANGE', 'network', `upstream sent range '${cr.slice(0, 80)}' for blob ${hash} (wanted from ${have})`);
    }
  } else {
    body.resume();
    if (resp.status === 404) throw new McdnError('BLOB_NOT_FOUND', 'not_found', `blob ${hash} is not upstream`);
    if (resp.status === 504) throw new McdnError('NOT_CACHED_UPSTREAM', 'not_found', `blob ${hash} is not cached at ${resp.source}`);
    throw new McdnError('UPSTREAM_STATUS', 'network', `upstream answered HTTP ${resp.status} for blob ${hash}`);
  }
  let fh;
  try {
    fh = await open(path, have > 0 ? 'a' : 'w');
  } catch (e) {
    body.destroy();
    throw fromSystemError(e, path);
  }
  let fetched = 0;
  const onAbort = () => body.destroy();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const after = skipper(skip);
    for await (const raw of body as AsyncIterable<Buffer>) {
      const c = after(raw);
      if (!c) continue;
      if (have + c.length > size) throw new McdnError('PREFETCH_TOO_LONG', 'integrity', `upstream sent more than ${size} bytes for blob ${hash}`);
      await fh.write(c);
      have += c.length;
      fetched += c.length;
      opts.onBytes?.(c.length);
      if (opts.bucket) {
        const wait = opts.bucket.take(c.length, performance.now());
        if (wait > 0) await sleep(wait, opts.signal);
      }
      if (opts.signal?.aborted) break;
    }
  } catch (e) {
    if (!opts.signal?.aborted) {
      if ((e as McdnError).code === 'PREFETCH_TOO_LONG') await unlink(path).catch(() => {});
      if (e instanceof McdnError) throw e;
      // a dropped connection: what arrived is kept; the next try resumes
      throw new McdnError('PREFETCH_INTERRUPTED', 'network', `blob ${hash}: transfer broke off at ${have} of ${size} bytes (${(e as Error).message})`);
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    body.destroy();
    await fh.close().catch(() => {});
  }
  if (have === size) return { path, fetched, have, source: resp.source };
  if (opts.signal?.aborted) return { path: undefined, fetched, have, source: resp.source };
  throw new McdnError('PREFETCH_INTERRUPTED', 'network', `blob ${hash}: upstream closed at ${have} of ${size} bytes`);
}
