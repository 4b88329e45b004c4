/**
 * File-level delta API: `makePatch` (choose/try methods, write the patch atomically), `applyPatch`
 * (check OLD's size and sha256 before writing anything, stream NEW into a temp file beside the
 * target, rename only after NEW's sha256 and size match) and `readPatchHeader`. The thin I/O
 * adapter around the pure methods in binary.ts, tensor.ts and bsdiff/. It reads OLD/NEW/PATCH and
 * writes only the requested output path (through a temp file); it never touches other files.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McdnError, fromSystemError } from '../errors.ts';
import type { ModelLayout } from '../formats/types.ts';
import { bytesSource } from '../formats/source.ts';
import { writeFileAtomic, type SeqWriter } from '../formats/atomic.ts';
import { bsdiff } from './bsdiff/bsdiff.ts';
import { encodeBinaryPayload } from './binary.ts';
import { encodeTensorPayload, type TensorEncodeStats } from './tensor.ts';
import { checkOutputHash, decodePatch, wrongBase } from './apply-core.ts';
import { createStreamHasher, sha256FileOffThread, type StreamHasher } from '../util/native.ts';
import { acquireBuffers, prefault, releaseBuffers, type BufferSet } from './buffers.ts';
import { planeBuffersOf, readTensorPlan, refCollector, type OldSource, type PreparedPlan } from './tensor.ts';
import { OldFile, WINDOW_BYTES } from './old-file.ts';
import {
  BSDIFF_TRAILER_BYTES,
  PATCH_HEADER_BYTES,
  detectPatch,
  encodeBsdiffTrailer,
  encodePatchHeader,
  type PatchHeader,
  type PatchMethod,
} from './container.ts';

export type MakeMethod = 'auto' | PatchMethod;

/** `auto` tries bsdiff only up to this size: SA-IS plus the pure-JS bzip2 encoder run at ~1 MB/s. */
export const AUTO_BSDIFF_MAX_BYTES = 4 << 20;
/**
 * `auto` always tries binary up to this NEW size; above it, only when the tensor method left at least
 * half of NEW unmatched (new tensors + container bytes).
 */
export const AUTO_BINARY_ALWAYS_BYTES = 16 << 20;

export interface MakePatchOptions {
  method?: MakeMethod;
  /** zstd level for binary/tensor payloads (default 19: patches are made once, applied many times) */
  level?: number;
  /**
   * Size of the packed full NEW file to compare against in `auto` mode. When omitted, NEW is packed
   * with the codec's packFile (default options, into a temp file that is removed) and that size used.
   */
  fullPackedSize?: number;
}

export interface PatchCandidate {
  method: PatchMethod;
  size: number;
  ms: number;
}

export interface PatchResult {
  /** false when `auto` found no patch smaller than the packed full file; nothing was written then */
  beneficial: boolean;
  method: PatchMethod;
  size: number;
  oldSize: number;
  newSize: number;
  oldSha256: string;
  newSha256: string;
  /** sha256 of the patch file (absent when nothing was written) */
  patchSha256?: string;
  fullPackedSize?: number;
  candidates: PatchCandidate[];
  tensorStats?: TensorEncodeStats;
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

async function readWhole(path: string): Promise<Uint8Array> {
  try {
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw fromSystemError(e, path);
  }
}

/**
 * Model layout of a file, or no tensors when formats cannot read it (then tensor = binary). The
 * format readers (and the codec, for packedFullSize) are loaded only when a patch is made: applying
 * one needs neither, and `modelcdn patch` starts faster without them (~3 MB less heap to scan, too).
 */
async function layoutOf(path: string): Promise<ModelLayout> {
  const { readModelLayout } = await import('../formats/index.ts');
  try {
    return await readModelLayout(path);
  } catch (e) {
    // a file that looks like a model but does not parse is still patchable as bytes
    if (e instanceof McdnError && (e.category === 'input' || e.category === 'integrity')) return { format: 'unknown', size: 0, tensors: [], meta: {} };
    throw e;
  }
}

function encodeContainer(method: 'binary' | 'tensor', old: Uint8Array, nw: Uint8Array, oldSha256: string, newSha256: string, payload: Uint8Array): Uint8Array {
  const header = encodePatchHeader({ method, oldSha256, newSha256, oldSize: old.length, newSize: nw.length });
  const out = new Uint8Array(header.length + payload.length);
  out.set(header, 0);
  out.set(payload, header.length);
  return out;
}

/** Size of NEW packed as the CDN would serve it (codec packFile, default options; temp output removed). */
export async function packedFullSize(newPath: string): Promise<number> {
  const { packFile } = await import('../codec/pack.ts');
  const dir = await mkdtemp(join(tmpdir(), 'mcdn-delta-pack-'));
  try {
    return (await packFile(newPath, join(dir, 'new.mcz'))).packedSize;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Build the patch bytes for one method (no I/O). */
export async function buildPatch(
  method: PatchMethod,
  old: Uint8Array,
  nw: Uint8Array,
  ctx: { oldSha256: string; newSha256: string; level: number; oldLayout?: () => Promise<ModelLayout>; newLayout?: () => Promise<ModelLayout> },
): Promise<{ bytes: Uint8Array; tensorStats?: TensorEncodeStats }> {
  if (method === 'bsdiff') {
    return { bytes: bsdiff(old, nw, { trailer: encodeBsdiffTrailer(ctx.oldSha256, ctx.newSha256) }) };
  }
  if (method === 'binary') {
    return { bytes: encodeContainer('binary', old, nw, ctx.oldSha256, ctx.newSha256, encodeBinaryPayload(old, nw, ctx.level)) };
  }
  const ol = ctx.oldLayout ? await ctx.oldLayout() : { tensors: [] };
  const nl = ctx.newLayout ? await ctx.newLayout() : { tensors: [] };
  const { payload, stats } = encodeTensorPayload(old, nw, ol.tensors, nl.tensors, { level: ctx.level });
  return { bytes: encodeContainer('tensor', old, nw, ctx.oldSha256, ctx.newSha256, payload), tensorStats: stats };
}

/** Make a patch from OLD to NEW and write it to `outPath` (temp file + rename). */
export async function makePatch(oldPath: string, newPath: string, outPath: string, opts: MakePatchOptions = {}): Promise<PatchResult> {
  const method = opts.method ?? 'auto';
  const level = opts.level ?? 19;
  const old = await readWhole(oldPath);
  const nw = await readWhole(newPath);
  const oldSha256 = sha256(old);
  const newSha256 = sha256(nw);
  let oldLayout: Promise<ModelLayout> | undefined;
  let newLayout: Promise<ModelLayout> | undefined;
  const ctx = {
    oldSha256,
    newSha256,
    level,
    oldLayout: () => (oldLayout ??= layoutOf(oldPath)),
    newLayout: () => (newLayout ??= layoutOf(newPath)),
  };
  const tries: PatchMethod[] = [];
  if (method === 'auto') {
    const nl = await ctx.newLayout();
    if (nl.tensors.length > 0) tries.push('tensor');
    tries.push('binary');
    if (Math.max(old.length, nw.length) <= AUTO_BSDIFF_MAX_BYTES) tries.push('bsdiff');
  } else {
    tries.push(method);
  }
  const candidates: PatchCandidate[] = [];
  let best: { method: PatchMethod; bytes: Uint8Array; tensorStats?: TensorEncodeStats } | undefined;
  for (const m of tries) {
    if (m === 'binary' && best?.tensorStats && nw.length > AUTO_BINARY_ALWAYS_BYTES) {
      // on a large model the tensor method already matched most bytes against OLD; zstd -19 over the
      // whole file (seconds per 10 MB) could at best shave the unmatched part
      const unmatched = best.tensorStats.added + best.tensorStats.literal;
      if (unmatched < nw.length * 0.5) continue;
    }
    const t0 = performance.now();
    let r: Awaited<ReturnType<typeof buildPatch>>;
    try {
      r = await buildPatch(m, old, nw, ctx);
    } catch (e) {
      // auto keeps what it can make: bsdiff without libbz2 cannot encode every input for Debian's bspatch
      if (method === 'auto' && e instanceof McdnError && e.code === 'BSDIFF_BZIP2_UNSUPPORTED') continue;
      throw e;
    }
    candidates.push({ method: m, size: r.bytes.length, ms: Math.round(performance.now() - t0) });
    if (!best || r.bytes.length < best.bytes.length) best = { method: m, ...r };
  }
  if (!best) throw new McdnError('PATCH_NO_METHOD', 'internal', 'no patch method was tried');
  const result: PatchResult = {
    beneficial: true,
    method: best.method,
    size: best.bytes.length,
    oldSize: old.length,
    newSize: nw.length,
    oldSha256,
    newSha256,
    candidates,
    ...(best.tensorStats ? { tensorStats: best.tensorStats } : {}),
  };
  if (method === 'auto') {
    const full = opts.fullPackedSize ?? (await packedFullSize(newPath));
    result.fullPackedSize = full;
    if (best.bytes.length >= full) {
      result.beneficial = false;
      return result;
    }
  }
  const bytes = best.bytes;
  await writeFileAtomic(outPath, async (w) => w.write(bytes));
  result.patchSha256 = sha256(bytes);
  return result;
}

/** Read a patch file's header (method, hashes, sizes) without reading its payload. */
export async function readPatchHeader(path: string): Promise<PatchHeader> {
  return (await readHeaderAndSize(path)).header;
}

async function readHeaderAndSize(path: string): Promise<{ header: PatchHeader; size: number }> {
  let fh;
  try {
    fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    const head = new Uint8Array(Math.min(size, PATCH_HEADER_BYTES));
    await fh.read(head, 0, head.length, 0);
    const tail = new Uint8Array(Math.min(size, BSDIFF_TRAILER_BYTES));
    await fh.read(tail, 0, tail.length, size - tail.length);
    return { header: detectPatch(head, tail, size, path), size };
  } catch (e) {
    throw fromSystemError(e, path);
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** Bytes per write of NEW (two such buffers, one write in flight). */
export const IO_BUFFER_BYTES = 1 << 20;

/**
 * sha256 of a file of known size in one pass through two reused buffers: the read of piece k+1 runs
 * in the I/O pool while piece k is hashed (and shown to `onChunk`). Fails if the file is shorter
 * than `size`.
 */
async function hashFile(path: string, size: number, buffers: BufferSet, onChunk?: (at: number, chunk: Uint8Array) => void): Promise<string> {
  const h = createHash('sha256');
  // the read-ahead windows of OldFile, not in use yet
  const bufs = [buffers.get('win0', WINDOW_BYTES), buffers.get('win1', WINDOW_BYTES)];
  let fh;
  try {
    fh = await open(path, 'r');
    const file = fh;
    const readAt = async (at: number, buf: Uint8Array): Promise<Uint8Array> => {
      const n = Math.min(buf.length, size - at);
      for (let done = 0; done < n; ) {
        const { bytesRead } = await file.read(buf, done, n - done, at + done);
        if (bytesRead === 0) throw fileShrank(path);
        done += bytesRead;
      }
      return buf.subarray(0, n);
    };
    let at = 0;
    let k = 0;
    let next = size > 0 ? readAt(0, bufs[0]) : undefined;
    while (next) {
      const piece = await next;
      const from = at;
      at += piece.length;
      k ^= 1;
      next = at < size ? readAt(at, bufs[k]) : undefined;
      next?.catch(() => {}); // awaited on the next turn
      h.update(piece);
      onChunk?.(from, piece);
    }
  } catch (e) {
    throw e instanceof McdnError ? e : fromSystemError(e, path);
  } finally {
    await fh?.close().catch(() => {});
  }
  return h.digest('hex');
}

function fileShrank(path: string): McdnError {
  return new McdnError('FILE_CHANGED', 'io', `${path}: file shrank while being read`, { remedy: 'retry when nothing else writes the file' });
}

/**
 * Read a whole file of known size into `bytes` (its length), in pieces with all reads in flight.
 * With `head`, the first piece is only that many bytes and `onHead` is called as soon as it is in
 * (before the rest), so a caller can start on a file's leading section while the bulk still loads.
 */
async function readInto(path: string, bytes: Uint8Array, head?: { bytes: number; onHead: () => void }): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
    const file = fh;
    const readAt = async (at: number, n: number): Promise<void> => {
      for (let done = 0; done < n; ) {
        const { bytesRead } = await file.read(bytes, at + done, n - done, at + done);
        if (bytesRead === 0) throw fileShrank(path);
        done += bytesRead;
      }
    };
    const reads: Promise<void>[] = [];
    let at = 0;
    if (head && head.bytes > 0 && head.bytes < bytes.length) {
      const first = readAt(0, head.bytes);
      first.then(head.onHead, () => {});
      reads.push(first);
      at = head.bytes;
    }
    for (; at < bytes.length; at += READ_PIECE_BYTES) reads.push(readAt(at, Math.min(READ_PIECE_BYTES, bytes.length - at)));
    const settled = await Promise.allSettled(reads);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
  } catch (e) {
    throw e instanceof McdnError ? e : fromSystemError(e, path);
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** Bytes of a tensor patch read first, for its plan (a plan that does not fit waits for the whole patch). */
const PLAN_HEAD_BYTES = 256 << 10;

/** Bytes per read when a whole file is read with several reads in flight. */
const READ_PIECE_BYTES = 4 << 20;

/**
 * Copies NEW's chunks into two reused buffers and writes them with one write in flight: while the
 * file system takes buffer A, decoding fills buffer B (double buffering), so write latency overlaps
 * decode time. Each buffer is hashed as it is handed to the file — on the thread pool when the native
 * addon is built (util/native.ts), beside the write — so NEW's sha256 costs the decoding thread
 * nothing. Chunks are copied, so the producer may reuse them as soon as `write` resolves.
 */
class PipelinedWriter {
  // not zero-filled: only bytes already copied or built in place (up to `len`) are ever written
  private readonly bufs: Uint8Array[];
  private cur = 0;
  private len = 0;
  private pending: Promise<void> | undefined;
  private readonly hasher: StreamHasher = createStreamHasher();
  constructor(
    private readonly w: SeqWriter,
    buffers: BufferSet,
  ) {
    this.bufs = [buffers.get('io0', IO_BUFFER_BYTES), buffers.get('io1', IO_BUFFER_BYTES)];
  }
  /**
   * A view of the next `n` bytes of the current buffer (flushing first if they do not fit), for the
   * decoder to fill in place; passing that same view to `write` then costs no copy.
   */
  reserve(n: number): Promise<Uint8Array | undefined> | Uint8Array | undefined {
    if (n > IO_BUFFER_BYTES) return undefined;
    if (this.len + n > IO_BUFFER_BYTES) return this.flush().then(() => this.bufs[this.cur].subarray(this.len, this.len + n));
    return this.bufs[this.cur].subarray(this.len, this.len + n);
  }
  /** Returns a promise only when it must wait for the file (a full buffer). */
  write(chunk: Uint8Array): Promise<void> | void {
    const buf = this.bufs[this.cur];
    if (chunk.buffer === buf.buffer && chunk.byteOffset === buf.byteOffset + this.len && this.len + chunk.length <= buf.length) {
      // built in place after reserve(): already where it belongs
      this.len += chunk.length;
      if (this.len === buf.length) return this.flush();
      return;
    }
    if (this.len + chunk.length < buf.length) {
      buf.set(chunk, this.len);
      this.len += chunk.length;
      return;
    }
    return this.copyIn(chunk);
  }
  private async copyIn(chunk: Uint8Array): Promise<void> {
    for (let off = 0; off < chunk.length; ) {
      const buf = this.bufs[this.cur];
      const n = Math.min(chunk.length - off, buf.length - this.len);
      buf.set(chunk.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      if (this.len === buf.length) await this.flush();
    }
  }
  /**
   * Hand the filled part of the current buffer to the file and the hasher; waits only for the
   * previous buffer's write and hash (so hash updates stay in order).
   */
  async flush(): Promise<void> {
    if (this.len === 0) return;
    await this.settle();
    const piece = this.bufs[this.cur].subarray(0, this.len);
    const written = this.w.write(piece);
    let hashed: Promise<void> | void;
    try {
      hashed = this.hasher.update(piece);
    } catch (e) {
      hashed = Promise.reject(e);
    }
    // both settle before the buffer is reused, even when one fails
    const p = hashed ? Promise.allSettled([written, hashed]).then(([a, b]) => {
      if (a.status === 'rejected') throw a.reason;
      if (b.status === 'rejected') throw b.reason;
    }) : written;
    p.catch(() => {}); // observed by settle(); avoid an unhandled rejection meanwhile
    this.pending = p;
    this.cur ^= 1;
    this.len = 0;
  }
  /** Wait for the write (and hash) in flight, rethrowing its error. */
  async settle(): Promise<void> {
    const p = this.pending;
    this.pending = undefined;
    await p;
  }
  /** Write what is left; returns NEW's sha256 (hex). */
  async finish(): Promise<string> {
    await this.flush();
    await this.settle();
    return this.hasher.digest();
  }
}

/**
 * Apply PATCH to OLD, writing NEW to `outPath`. OLD's size and sha256 are checked before NEW is
 * anywhere but in a temp file beside `outPath`: a wrong base is always reported as PATCH_WRONG_BASE
 * (whatever else went wrong) and leaves nothing behind. NEW is renamed into place only after its
 * sha256 (or, for a BSDIFF40 patch without our trailer, its size) matches.
 *
 * With the native addon (util/native.ts) both hashes run on libuv's thread pool, beside the decode:
 * OLD is read and hashed there from the start, and each 1 MiB of NEW is hashed as it goes to the
 * file. Without it OLD is hashed on this thread first, and NEW piece by piece as it is written.
 *
 * The tensor method reads OLD through reused windows (old-file.ts) instead of holding it in a fresh
 * buffer whose page faults cost as much as the reads; its plan is read from the patch's first piece
 * while the rest loads. The binary and bsdiff methods need all of OLD in memory: it is read once.
 *
 * `durable` (default true) fsyncs NEW before the rename; false keeps the atomic rename but skips the
 * flush, as bspatch, xdelta3 and zstd do (the benchmark's like-for-like figure).
 */
export async function applyPatch(
  oldPath: string,
  patchPath: string,
  outPath: string,
  opts: {
    durable?: boolean;
    /**
     * OLD's sha256 as the caller just checked it (a client that verified its installed file while
     * planning the route). When it is the one the patch records, OLD is not hashed again; NEW is
     * still verified, so a base that changed in between fails as PATCH_OUTPUT_MISMATCH.
     */
    trustedOldSha256?: string;
  } = {},
): Promise<{ sha256: string; size: number; method: PatchMethod }> {
  const { header, size: patchSize } = await readHeaderAndSize(patchPath);
  const oldStat = await stat(oldPath).catch((e: unknown) => {
    throw fromSystemError(e, oldPath);
  });
  if (oldStat.isDirectory()) throw fromSystemError(Object.assign(new Error('is a directory'), { code: 'EISDIR' }), oldPath);
  if (header.oldSize !== undefined && oldStat.size !== header.oldSize) {
    throw wrongBase(oldPath, patchPath, { expectedSize: header.oldSize, size: oldStat.size });
  }
  // OLD is hashed here unless the caller just did (and got what the patch records)
  const hashOld = header.oldSha256 !== undefined && opts.trustedOldSha256 !== header.oldSha256;
  const buffers = acquireBuffers();
  // the patch is read in the I/O pool while OLD is hashed
  const patch = buffers.get('patch', patchSize);
  // a tensor patch's plan leads its payload: its first piece is read on its own, so the plan can be
  // parsed (and the decoder's buffers prepared) while the bulk of the patch still loads
  let headIn: () => void = () => {};
  const head = new Promise<void>((resolve) => (headIn = resolve));
  const patchRead = readInto(patchPath, patch, header.method === 'tensor' ? { bytes: PLAN_HEAD_BYTES, onHead: () => headIn() } : undefined);
  patchRead.catch(() => {}); // awaited below, after OLD's check
  // Off this thread when the native addon is built: OLD is then read and hashed on the thread pool
  // while this thread decodes into the temp file. Its verdict comes before anything else is reported
  // (a wrong base is always PATCH_WRONG_BASE, whatever else failed) and before NEW is renamed into
  // place; without the addon OLD is hashed here first, as before.
  const oldHashed = hashOld ? sha256FileOffThread(oldPath, oldStat.size) : undefined;
  const hashHere = hashOld && !oldHashed;
  const oldCheck = oldHashed?.then((got) => {
    if (got !== header.oldSha256) throw wrongBase(oldPath, patchPath, { expected: header.oldSha256, got });
  });
  oldCheck?.catch(() => {}); // awaited before any result or error is reported
  /** `work`'s result (not waiting for OLD's check); when it fails, OLD's failure is reported first. */
  const oldFirst = async <T>(work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (e) {
      await oldCheck;
      throw e;
    }
  };
  let planned: Promise<void> | undefined;
  let prefaulted: Promise<void> | undefined;
  try {
    let oldBytes: Uint8Array | undefined;
    let prepared: PreparedPlan | undefined;
    if (header.method === 'tensor') {
      // the plan is read as soon as the patch's first piece is in; without the addon, the hashing
      // pass over OLD on this thread (started at once) also gathers the container bytes the literal
      // frame references from there on, and the decoder reads only those before that point by range
      let refs: ReturnType<typeof refCollector>;
      planned = Promise.race([head, patchRead]).then(async () => {
        const payload = patch.subarray(header.payloadOffset, header.payloadEnd);
        // a plan that does not fit in the first piece (or a payload too short to say) waits for the rest
        if (payload.length < 8 || header.payloadOffset + 8 + new DataView(payload.buffer, payload.byteOffset, 8).getUint32(0, true) > PLAN_HEAD_BYTES) await patchRead;
        prepared = readTensorPlan(payload, oldStat.size, header.newSize, patchPath);
        let refLen = 0;
        for (const [, len] of prepared.plan.ref) refLen += len;
        if (hashHere && prepared.plan.lit[0] > 0) refs = refCollector(prepared.plan, buffers.get('ref', refLen));
        // buffers the decoder will fill, allocated now and their pages touched on the I/O pool while
        // OLD is hashed and the patch loads (in a fresh process that is ~0.85 ms per MB off the decode)
        const fresh: Uint8Array[] = [];
        for (const [name, n] of [...planeBuffersOf(prepared.plan), ['io0', IO_BUFFER_BYTES], ['io1', IO_BUFFER_BYTES]] as const) {
          const b = buffers.ensure(name, n);
          if (b) fresh.push(b);
        }
        prefaulted = prefault(fresh);
      });
      // a bad plan or a failed patch read is rethrown below, after OLD's check: a wrong base is the
      // first thing to say
      planned.catch(() => {});
      if (hashHere) {
        const got = await hashFile(oldPath, oldStat.size, buffers, (at, chunk) => refs?.feed(at, chunk));
        if (got !== header.oldSha256) throw wrongBase(oldPath, patchPath, { expected: header.oldSha256, got });
      }
      await oldFirst(planned);
      await prefaulted;
      const ref = refs?.done(oldStat.size);
      if (prepared && ref) prepared.ref = ref;
    } else {
      oldBytes = buffers.get('old', oldStat.size);
      await oldFirst(readInto(oldPath, oldBytes));
      if (hashHere) {
        const got = createHash('sha256').update(oldBytes).digest('hex');
        if (got !== header.oldSha256) throw wrongBase(oldPath, patchPath, { expected: header.oldSha256, got });
      }
    }
    await oldFirst(patchRead);
    let result = { sha256: '', size: 0 };
    await writeFileAtomic(outPath, async (w) => {
      const out = new PipelinedWriter(w, buffers);
      const src: OldSource = oldBytes ? bytesSource(oldBytes, oldPath) : await oldFirst(OldFile.open(oldPath, oldStat.size, buffers));
      try {
        // NEW is complete in the temp file; it is renamed into place only once OLD has checked out
        result = await oldFirst(
          (async () => {
            const r = await decodePatch(header, patch, src, (c) => out.write(c), patchPath, { reserve: (n) => out.reserve(n), buffers, hashOutput: false, ...(prepared ? { prepared } : {}) });
            const sha256 = await out.finish();
            await oldCheck;
            checkOutputHash(header, sha256, patchPath);
            return { ...r, sha256 };
          })(),
        );
      } finally {
        await out.settle().catch(() => {}); // never leave a write in flight when the file is closed
        await src.close();
      }
    }, { durable: opts.durable ?? true });
    return { ...result, method: header.method };
  } finally {
    // nothing of this call still running: OLD's hash job, reads into the set's buffers
    await oldCheck?.catch(() => {});
    await patchRead.catch(() => {});
    await planned?.catch(() => {});
    await prefaulted;
    releaseBuffers(buffers);
  }
}
