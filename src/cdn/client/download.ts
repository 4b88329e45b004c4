/**
 * Resumable, parallel, ranged download of one content-addressed blob into a part file. The blob is
 * cut into segments fetched with `Range` by up to `parallel` concurrent requests (a semaphore shared
 * by the whole pull); progress per segment is kept in a JSON sidecar, so an interrupted download
 * — a dropped connection, a stalled server, a killed process — continues where it stopped. A
 * follower reads the part file in order as its contiguous prefix grows and feeds the bytes to
 * sha256 (and to the caller, e.g. an unpack stream), so verification overlaps the transfer. The
 * result is returned only if the sha256 equals the blob's name; otherwise the part is deleted.
 * Large blobs are written with O_DIRECT from an aligned ring (direct-body.ts, util/direct-io.ts)
 * and hashed in place; others through the page cache. No manifest or file-placement logic here.
 */
import { open, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { McdnError, fromSystemError } from '../../errors.ts';
import { pumpToWriter } from '../http/body.ts';
import { parseContentRange } from '../http/range.ts';
import { createBlobHasher, type BlobHasher } from '../../util/hash-worker.ts';
import { acquireRing, alignDown, DIRECT_ALIGN, DIRECT_MIN_BYTES, openDirect, releaseRing, writevAll, type BlockRing, type RingBlock } from '../../util/direct-io.ts';
import { DirectIoRefused, receiveDirect } from './direct-body.ts';
import { backoffMs, cancelled, isRetryable, sleep, type ClientHttp } from './http.ts';
import { claimReadBuffer, lendView, returnReadMemory, type BodyStream } from '../http/raw-fetch.ts';

/** Default segment: 8 MiB (a 1 GB blob is ~120 resumable pieces). */
export const DEFAULT_SEGMENT_SIZE = 8 << 20;
/** Bytes of freshly written chunks kept in memory for the in-order follower. */
export const RETAIN_MAX_BYTES = 64 << 20;
/** Read size of the in-order follower. */
export const FOLLOW_CHUNK = 1 << 20;
/** Ring blocks a segment other than the one the in-order reader waits for leaves free. */
export const RING_RESERVE = 4;
/** How often the sidecar is rewritten while bytes flow. */
export const STATE_SAVE_INTERVAL_MS = 500;

export class Semaphore {
  private waiting: (() => void)[] = [];
  private active = 0;
  constructor(readonly limit: number) {}
  async acquire(): Promise<() => void> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.waiting.shift()?.();
    };
  }
}

/** Bytes of received data a segment may hold in memory before its socket is paused. */
export const MAX_PENDING_WRITE = 16 << 20;

/**
 * Write a response body into `fh` from `pos`, at most `maxLen` bytes after skipping `skip`. Chunks
 * that arrive while a write is in flight are batched into one writev; `onWritten` is called after
 * bytes are on disk. Resolves when the body ended and everything is written (the caller checks
 * for truncation), rejects on a socket or disk error.
 */
async function writeBody(res: BodyStream, fh: FileHandle, pos: number, maxLen: number, skip: number, onWritten: (n: number, bufs: Buffer[]) => void): Promise<void> {
  try {
    await pumpToWriter(res, {
      skip,
      limit: maxLen,
      maxPending: MAX_PENDING_WRITE,
      write: async (batch, len) => {
        try {
          await writevAll(fh, batch, pos);
        } catch (e) {
          throw fromSystemError(e, 'download part file');
        }
        pos += len;
        onWritten(len, batch);
      },
    });
  } catch (e) {
    throw e instanceof McdnError ? e : new McdnError('DOWNLOAD_INTERRUPTED', 'network', `download interrupted: ${(e as Error)?.message ?? e}`, { cause: e });
  }
}

export interface DownloadOptions {
  http: ClientHttp;
  hash: string;
  size: number;
  /** the part file; the sidecar is `${partPath}.json` */
  partPath: string;
  sem: Semaphore;
  segmentSize?: number;
  signal?: AbortSignal;
  /** new bytes received from the network */
  onBytes?: (n: number) => void;
  /** in-order consumer of the blob's bytes (awaited: apply backpressure by not resolving) */
  follower?: (chunk: Buffer) => void | Promise<void>;
  /**
   * false: do not hash the blob itself — only for a follower that verifies everything it derives
   * from these bytes against a trusted hash before anything is used (an unpack stream whose output
   * must equal the signed manifest's sha256). Saves one sha256 pass over the download. Default true.
   */
  verify?: boolean;
  /**
   * Write around the page cache (O_DIRECT) when the blob is large (≥ DIRECT_MIN_BYTES), there is no
   * follower or it hands chunks back (`followerReleases`), and the file system takes it. Default true;
   * `MODELCDN_DIRECT_IO=0` also turns it off.
   */
  directIo?: boolean;
  /**
   * The follower hands every chunk back with `releaseReadBuffer` once it no longer needs it (an
   * unpack stream's onConsumed): then chunks may be ring blocks and the download may go direct.
   */
  followerReleases?: boolean;
  /** smallest blob written with O_DIRECT (default DIRECT_MIN_BYTES) */
  directMinBytes?: number;
  /**
   * With a follower that hands chunks back, the part file is resume state only (the follower has the
   * bytes). 'auto' (the default) stops writing it once the first `fastLink.probeBytes` of this call
   * arrived faster than `fastLink.bytesPerSecond`: there, fetching the rest again after an
   * interruption costs less time than writing every byte twice costs every pull (about 11 % of a
   * 1 GB packed pull here). The sidecar then keeps what was on disk at that moment, so a resume
   * starts from there. 'always' keeps writing (`MODELCDN_RESUME_STATE=always` too).
   */
  resumeState?: 'auto' | 'always';
  fastLink?: { probeBytes: number; bytesPerSecond: number };
}

/** See DownloadOptions.resumeState: the first 64 MiB faster than 200 MB/s is a fast link. */
export const FAST_LINK = { probeBytes: 64 << 20, bytesPerSecond: 200e6 };

export interface DownloadResult {
  path: string;
  size: number;
  /** bytes fetched from the network by this call (less than size after a resume) */
  fetched: number;
  resumedFrom: number;
  /** written with O_DIRECT (around the page cache) */
  direct: boolean;
  /**
   * false when the part file stopped being written (a follower download on a fast link, see
   * DownloadOptions.resumeState): then `path` does not hold the blob and must not be used
   */
  complete: boolean;
}

interface Sidecar {
  hash: string;
  size: number;
  segmentSize: number;
  done: number[];
}

async function loadSidecar(path: string, hash: string, size: number, segmentSize: number): Promise<Sidecar | undefined> {
  try {
    const s = JSON.parse(await readFile(path, 'utf8')) as Sidecar;
    const n = Math.max(1, Math.ceil(size / s.segmentSize));
    if (s.hash !== hash || s.size !== size || !Array.isArray(s.done) || s.done.length !== n || !(s.segmentSize > 0)) return undefined;
    for (const [i, d] of s.done.entries()) {
      const len = Math.min(s.segmentSize, size - i * s.segmentSize);
      if (!Number.isSafeInteger(d) || d < 0 || d > len) return undefined;
    }
    return s;
  } catch {
    void segmentSize;
    return undefined;
  }
}

const NO_HASH: BlobHasher = { update() {}, adopt() {}, updateShared: (_v, done) => done(), digest: async () => '', dispose() {} };

export async function downloadBlob(opts: DownloadOptions): Promise<DownloadResult> {
  const segSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  const direct = opts.directIo !== false && (!opts.follower || opts.followerReleases === true) && opts.size >= (opts.directMinBytes ?? DIRECT_MIN_BYTES) && segSize % DIRECT_ALIGN === 0;
  if (!direct) return downloadOnce(opts, false);
  try {
    return await downloadOnce(opts, true);
  } catch (e) {
    if (!(e instanceof DirectIoRefused)) throw e;
    return downloadOnce(opts, false); // resumes from the sidecar
  }
}

async function downloadOnce(opts: DownloadOptions, wantDirect: boolean): Promise<DownloadResult> {
  const { http, hash, size, partPath, sem, signal } = opts;
  const sidecarPath = `${partPath}.json`;
  const segSize = opts.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  let state = await loadSidecar(sidecarPath, hash, size, segSize);
  let fh: FileHandle;
  try {
    if (state) fh = await open(partPath, 'r+').catch(() => open(partPath, 'w+'));
    else fh = await open(partPath, 'w+');
  } catch (e) {
    throw fromSystemError(e, partPath);
  }
  // direct mode: writes through a second, O_DIRECT handle from aligned ring blocks; reads (of bytes
  // that were on disk before this call) through `fh`
  let dfh: FileHandle | undefined;
  if (wantDirect && (state?.segmentSize ?? segSize) % DIRECT_ALIGN === 0) {
    dfh = await openDirect(partPath, true).catch(() => undefined);
  }
  // shared memory only when the hash worker reads the blocks in place
  const ring: BlockRing | undefined = dfh ? acquireRing(opts.verify !== false) : undefined;
  if (state) {
    // trust the sidecar only as far as the part file actually reaches
    const st = await fh.stat();
    for (const [i, d] of state.done.entries()) {
      const start = i * state.segmentSize;
      if (start + d > st.size) state.done[i] = Math.max(0, Math.min(d, st.size - start));
      // direct writes start on an aligned offset: an unfinished segment resumes from its last whole block
      const len = Math.min(state.segmentSize, size - start);
      if (dfh && state.done[i]! < len) state.done[i] = alignDown(state.done[i]!);
    }
  } else {
    state = { hash, size, segmentSize: segSize, done: new Array(Math.max(1, Math.ceil(size / segSize))).fill(0) };
  }
  const st: Sidecar = state;
  const segLen = (i: number) => Math.min(st.segmentSize, size - i * st.segmentSize);
  const resumedFrom = st.done.reduce((a, b) => a + b, 0);
  let fetched = 0;
  let lastSave = 0;
  let saving: Promise<void> | undefined;
  // resume state on a fast link (see DownloadOptions.resumeState): once `frozen` is set, blocks are
  // no longer written and the sidecar keeps the bytes that were on disk then
  const mayStopWriting = dfh !== undefined && opts.follower !== undefined && opts.followerReleases === true && (opts.resumeState ?? 'auto') === 'auto' && process.env['MODELCDN_RESUME_STATE'] !== 'always';
  const fast = opts.fastLink ?? FAST_LINK;
  const started = performance.now();
  let frozen: number[] | undefined;
  const checkLink = () => {
    if (!mayStopWriting || frozen || fetched < fast.probeBytes) return;
    if (fetched / ((performance.now() - started) / 1000) >= fast.bytesPerSecond) {
      frozen = [...st.done];
      void save(true);
    }
  };
  const save = async (force = false) => {
    const now = Date.now();
    if (!force && now - lastSave < STATE_SAVE_INTERVAL_MS) return;
    if (frozen && !force) return;
    lastSave = now;
    const tmp = `${sidecarPath}.tmp`;
    const body = JSON.stringify(frozen ? { ...st, done: frozen } : st);
    const run = async () => {
      await writeFile(tmp, body);
      await rename(tmp, sidecarPath);
    };
    saving = (saving ?? Promise.resolve()).then(run, run);
    await saving;
  };
  await save(true);

  // --- follower: in-order reader of the contiguous prefix ---
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const prefix = () => {
    let p = 0;
    for (let i = 0; i < st.done.length; i++) {
      p += st.done[i]!;
      if (st.done[i]! < segLen(i)) break;
    }
    return p;
  };
  let failed: unknown;
  let fetchDone = false;
  const hasher = opts.verify === false ? NO_HASH : createBlobHasher(size);
  // Chunks just written are kept in memory (bounded) so the follower hashes them without reading
  // the file back; segments that were partly on disk before this call, or whose chunks had to be
  // let go to respect the bound, are read from the file.
  // In direct mode the chunks are ring blocks (bounded by the ring; a block goes back once hashed).
  const retained: (Buffer[] | null)[] = st.done.map((d) => (d === 0 ? [] : null));
  const blockOf = new WeakMap<Buffer, RingBlock>();
  let retainedBytes = 0;
  const retain = (i: number, bufs: Buffer[], n: number) => {
    const r = retained[i];
    if (!r) {
      for (const b of bufs) {
        const blk = blockOf.get(b);
        if (blk) ring!.give(blk);
      }
      return;
    }
    r.push(...bufs);
    if (ring) return; // the ring is the bound
    retainedBytes += n;
    // over the bound: stop retaining the segment furthest from the follower
    for (let j = retained.length - 1; retainedBytes > RETAIN_MAX_BYTES && j >= 0; j--) {
      const rj = retained[j];
      if (!rj || j === followSeg) continue;
      for (const b of rj) retainedBytes -= b.length;
      retained[j] = null;
    }
  };
  let followSeg = 0;
  let reuse: Buffer | undefined;
  const follow = async () => {
    let pos = 0;
    while (pos < size) {
      const end = prefix();
      const i = Math.floor(pos / st.segmentSize);
      if (followSeg !== i) {
        followSeg = i;
        ring?.serve(); // the writer of segment i may now use the reserve
      }
      const r = retained[i];
      if (r && r.length > 0 && end > pos) {
        // from memory: the next chunk of this segment starts exactly at pos
        const c = r.shift()!;
        pos += c.length;
        const blk = blockOf.get(c);
        if (blk) {
          // a ring block: hashed in place by the worker and, with a follower, lent to it; given back
          // once both are done with it
          let users = opts.follower ? 2 : 1;
          const done = () => {
            if (--users === 0) ring!.give(blk);
          };
          hasher.updateShared(c, done);
          if (opts.follower) {
            lendView(c, done);
            await opts.follower(c);
          }
          continue;
        }
        retainedBytes -= c.length;
        // written to disk: with no consumer after us, the hasher takes the socket buffer itself (no
        // copy) and hands its memory back to the fetcher for the next read
        if (!opts.follower && claimReadBuffer(c)) {
          hasher.adopt(c, returnReadMemory);
          continue;
        }
        hasher.update(c);
        if (opts.follower) await opts.follower(c);
        continue;
      }
      if (end <= pos || (!r && end - pos < FOLLOW_CHUNK && end < size && !fetchDone && !failed)) {
        if (failed) return;
        await new Promise<void>((res) => (wake = res));
        continue;
      }
      if (r) {
        // bytes on disk that never reached `retained` (should not happen): read this segment from the file
        retained[i] = null;
      }
      // from the file, up to the end of this segment's bytes on disk
      const stop = Math.min(end, (i + 1) * st.segmentSize);
      while (pos < stop) {
        // the follower callback may keep its chunk (an unpack stream does): then each read gets a new buffer
        const len = Math.min(FOLLOW_CHUNK, stop - pos);
        const c = opts.follower ? Buffer.allocUnsafe(len) : (reuse ??= Buffer.allocUnsafe(FOLLOW_CHUNK)).subarray(0, len);
        const { bytesRead } = await fh.read(c, 0, c.length, pos);
        if (bytesRead === 0) throw new McdnError('PART_FILE_SHORT', 'io', `${partPath}: ended at ${pos}, expected ${end} bytes`);
        const got = bytesRead === c.length ? c : c.subarray(0, bytesRead);
        hasher.update(got);
        if (opts.follower) await opts.follower(got);
        pos += bytesRead;
      }
    }
  };

  // --- workers: fetch missing parts of segments ---
  let next = 0;
  const fetchSegment = async (i: number) => {
    for (let attempt = 0; st.done[i]! < segLen(i); ) {
      if (signal?.aborted) throw cancelled();
      if (failed) throw failed;
      const start = i * st.segmentSize + st.done[i]!;
      const end = i * st.segmentSize + segLen(i); // exclusive
      const release = await sem.acquire();
      let progressed = false;
      try {
        const res = await http.blobGet(`/v1/blobs/${hash}`, { range: `bytes=${start}-${end - 1}` }, signal);
        let skip = 0;
        if (res.statusCode === 200) {
          skip = start; // the server ignored Range
        } else if (res.statusCode === 206) {
          const cr = parseContentRange(res.headers['content-range'] as string | undefined);
          if (!cr || cr.start !== start || (cr.size !== undefined && cr.size !== size)) {
            res.destroy();
            throw new McdnError('BAD_CONTENT_RANGE', 'network', `server sent range '${res.headers['content-range']}' for bytes ${start}-${end - 1} of ${hash}`);
          }
        } else {
          res.resume();
          const code = res.statusCode ?? 0;
          if (code === 404) throw new McdnError('BLOB_NOT_FOUND', 'not_found', `blob ${hash} is not on the server`);
          if (code === 416) throw new McdnError('BLOB_SIZE_MISMATCH', 'integrity', `server says bytes ${start}-${end - 1} are outside blob ${hash} (expected ${size} bytes)`);
          throw new McdnError('SERVER_STATUS', code >= 500 || code === 429 ? 'network' : 'input', `HTTP ${code} for blob ${hash}`);
        }
        const before = st.done[i]!;
        const onWritten = (n: number, bufs: Buffer[]) => {
          retain(i, bufs, n);
          st.done[i]! += n;
          fetched += n;
          opts.onBytes?.(n);
          notify();
          checkLink();
          void save();
        };
        if (dfh) {
          await receiveDirect(res, {
            ring: ring!,
            fh: dfh,
            pos: i * st.segmentSize + st.done[i]!,
            maxLen: segLen(i) - st.done[i]!,
            skip,
            size,
            // a segment the in-order reader does not wait for leaves a few blocks to the one it does
            reserve: () => (i === followSeg ? 0 : RING_RESERVE),
            persist: () => frozen === undefined,
            onWritten: (n, views, blocks) => {
              views.forEach((v, k) => blockOf.set(v, blocks[k]!));
              onWritten(n, views);
            },
          });
        }
        else await writeBody(res, fh, i * st.segmentSize + st.done[i]!, segLen(i) - st.done[i]!, skip, onWritten);
        if (st.done[i]! > before) progressed = true;
        res.destroy();
        if (st.done[i]! < segLen(i)) throw new McdnError('DOWNLOAD_TRUNCATED', 'network', `connection closed at byte ${i * st.segmentSize + st.done[i]!} of ${hash}`);
      } catch (e) {
        if (signal?.aborted) throw cancelled();
        if (e instanceof DirectIoRefused || !isRetryable(e)) throw e;
        if (progressed) attempt = 0;
        if (++attempt > http.retries) throw e;
        release();
        await sleep(backoffMs(attempt - 1), signal);
      } finally {
        release();
      }
    }
  };
  const workers = async () => {
    while (next < st.done.length) {
      const i = next++;
      if (st.done[i]! >= segLen(i)) continue;
      await fetchSegment(i);
    }
  };
  const nWorkers = Math.min(sem.limit, st.done.length);
  const followerDone = follow().catch((e: unknown) => {
    failed ??= e;
    throw e;
  });
  followerDone.catch(() => {}); // observed below; never an unhandled rejection
  try {
    await Promise.all(Array.from({ length: nWorkers }, workers));
    fetchDone = true;
  } catch (e) {
    failed = e;
    ring?.abort(e);
    notify();
    await followerDone.catch(() => {});
    hasher.dispose();
    await save(true).catch(() => {});
    await dfh?.close().catch(() => {});
    await fh.close().catch(() => {});
    throw e;
  }
  notify();
  try {
    await followerDone;
  } catch (e) {
    ring?.abort(e);
    hasher.dispose();
    await save(true).catch(() => {});
    await dfh?.close().catch(() => {});
    await fh.close().catch(() => {});
    throw e;
  }
  if (dfh) {
    // the last block went out padded to 4 KiB
    try {
      await dfh.truncate(size);
    } finally {
      await dfh.close();
    }
  }
  await fh.close();
  const got = opts.verify === false ? hash : await hasher.digest();
  if (ring) releaseRing(ring); // every block is back once the digest arrived
  if (got !== hash) {
    await rm(partPath, { force: true });
    await rm(sidecarPath, { force: true });
    throw new McdnError('BLOB_HASH_MISMATCH', 'integrity', `downloaded blob hashes to ${got}, expected ${hash}; discarded`, { details: { expected: hash, actual: got } });
  }
  await saving?.catch(() => {});
  await rm(sidecarPath, { force: true });
  return { path: partPath, size, fetched, resumedFrom, direct: dfh !== undefined, complete: frozen === undefined };
}
