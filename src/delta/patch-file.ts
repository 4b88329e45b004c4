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
import { bytesSource, openSource, readModelLayout, writeFileAtomic, type SeqWriter } from '../formats/index.ts';
import { packFile } from '../codec/index.ts';
import { bsdiff } from './bsdiff/bsdiff.ts';
import { encodeBinaryPayload } from './binary.ts';
import { encodeTensorPayload, type TensorEncodeStats } from './tensor.ts';
import { decodePatch, wrongBase } from './apply-core.ts';
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
/** applyPatch reads an OLD up to this size into memory once (hash + decode) instead of twice by range. */
export const IN_MEMORY_OLD_MAX_BYTES = 512 << 20;
/** Output is handed to the file in writes of this size (two such buffers, one write in flight). */
const WRITE_BUFFER_BYTES = 4 << 20;

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

/** Model layout of a file, or no tensors when formats cannot read it (then tensor = binary). */
async function layoutOf(path: string): Promise<ModelLayout> {
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
    const raw = bsdiff(old, nw);
    const trailer = encodeBsdiffTrailer(ctx.oldSha256, ctx.newSha256);
    const out = new Uint8Array(raw.length + trailer.length);
    out.set(raw, 0);
    out.set(trailer, raw.length);
    return { bytes: out };
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
    const r = await buildPatch(m, old, nw, ctx);
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
  let fh;
  try {
    fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    const head = new Uint8Array(Math.min(size, PATCH_HEADER_BYTES));
    await fh.read(head, 0, head.length, 0);
    const tail = new Uint8Array(Math.min(size, BSDIFF_TRAILER_BYTES));
    await fh.read(tail, 0, tail.length, size - tail.length);
    return detectPatch(head, tail, size, path);
  } catch (e) {
    throw fromSystemError(e, path);
  } finally {
    await fh?.close().catch(() => {});
  }
}

async function sha256OfFile(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  let fh;
  try {
    fh = await open(path, 'r');
    const buf = new Uint8Array(4 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, size);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
  } catch (e) {
    throw fromSystemError(e, path);
  } finally {
    await fh?.close().catch(() => {});
  }
  return { sha256: h.digest('hex'), size };
}

/** Bytes per read when OLD is read and hashed in one pass. */
const READ_CHUNK_BYTES = 8 << 20;

/**
 * Read a whole file of known size and hash it in the same pass: the read of chunk k+1 runs in the I/O
 * pool while chunk k is hashed, so hashing costs almost no extra wall time. Fails if the file is
 * shorter than `size` (it changed since it was stat'ed).
 */
async function readAndHash(path: string, size: number): Promise<{ bytes: Uint8Array; sha256: string }> {
  const h = createHash('sha256');
  const b = Buffer.allocUnsafe(size); // fully overwritten below (a short file is an error)
  const bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  let fh;
  try {
    fh = await open(path, 'r');
    const file = fh;
    const readAt = async (at: number): Promise<number> => {
      const n = Math.min(READ_CHUNK_BYTES, size - at);
      for (let done = 0; done < n; ) {
        const { bytesRead } = await file.read(bytes, at + done, n - done, at + done);
        if (bytesRead === 0) throw new McdnError('FILE_CHANGED', 'io', `${path}: file shrank while being read`, { remedy: 'retry when nothing else writes the file' });
        done += bytesRead;
      }
      return n;
    };
    let at = 0;
    let next = size > 0 ? readAt(0) : undefined;
    while (next) {
      const n = await next;
      const from = at;
      at += n;
      next = at < size ? readAt(at) : undefined;
      next?.catch(() => {}); // awaited on the next turn
      h.update(bytes.subarray(from, at));
    }
  } catch (e) {
    throw e instanceof McdnError ? e : fromSystemError(e, path);
  } finally {
    await fh?.close().catch(() => {});
  }
  return { bytes, sha256: h.digest('hex') };
}

/**
 * Copies NEW's chunks into large buffers and writes them with one write in flight: while the file
 * system takes buffer A, decoding fills buffer B (double buffering), so write latency overlaps
 * decode time. Chunks are copied, so the producer may reuse them as soon as `write` resolves.
 */
class PipelinedWriter {
  // not zero-filled: only bytes already copied or built in place (up to `len`) are ever written
  private bufs = [0, 1].map(() => {
    const b = Buffer.allocUnsafeSlow(WRITE_BUFFER_BYTES);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  });
  private cur = 0;
  private len = 0;
  private pending: Promise<void> | undefined;
  constructor(private readonly w: SeqWriter) {}
  /**
   * A view of the next `n` bytes of the current buffer (flushing first if they do not fit), for the
   * decoder to fill in place; passing that same view to `write` then costs no copy.
   */
  async reserve(n: number): Promise<Uint8Array | undefined> {
    if (n > WRITE_BUFFER_BYTES) return undefined;
    if (this.len + n > WRITE_BUFFER_BYTES) await this.flush();
    return this.bufs[this.cur].subarray(this.len, this.len + n);
  }
  async write(chunk: Uint8Array): Promise<void> {
    const buf = this.bufs[this.cur];
    if (chunk.buffer === buf.buffer && chunk.byteOffset === buf.byteOffset + this.len && this.len + chunk.length <= buf.length) {
      // built in place after reserve(): already where it belongs
      this.len += chunk.length;
      if (this.len === buf.length) await this.flush();
      return;
    }
    for (let off = 0; off < chunk.length; ) {
      const buf = this.bufs[this.cur];
      const n = Math.min(chunk.length - off, buf.length - this.len);
      buf.set(chunk.subarray(off, off + n), this.len);
      this.len += n;
      off += n;
      if (this.len === buf.length) await this.flush();
    }
  }
  /** Hand the filled part of the current buffer to the file; waits only for the previous write. */
  async flush(): Promise<void> {
    if (this.len === 0) return;
    await this.settle();
    const p = this.w.write(this.bufs[this.cur].subarray(0, this.len));
    p.catch(() => {}); // observed by settle(); avoid an unhandled rejection meanwhile
    this.pending = p;
    this.cur ^= 1;
    this.len = 0;
  }
  /** Wait for the write in flight (rethrowing its error). */
  async settle(): Promise<void> {
    const p = this.pending;
    this.pending = undefined;
    await p;
  }
  async finish(): Promise<void> {
    await this.flush();
    await this.settle();
  }
}

/**
 * Apply PATCH to OLD, writing NEW to `outPath`. OLD's size and sha256 are checked before anything is
 * written; NEW goes to a temp file beside `outPath` and is renamed into place only after its sha256
 * (or, for a BSDIFF40 patch without our trailer, its size) matches.
 */
export async function applyPatch(oldPath: string, patchPath: string, outPath: string): Promise<{ sha256: string; size: number; method: PatchMethod }> {
  const header = await readPatchHeader(patchPath);
  const oldStat = await stat(oldPath).catch((e: unknown) => {
    throw fromSystemError(e, oldPath);
  });
  if (oldStat.isDirectory()) throw fromSystemError(Object.assign(new Error('is a directory'), { code: 'EISDIR' }), oldPath);
  if (header.oldSize !== undefined && oldStat.size !== header.oldSize) {
    throw wrongBase(oldPath, patchPath, { expectedSize: header.oldSize, size: oldStat.size });
  }
  // OLD up to IN_MEMORY_OLD_MAX_BYTES is read once: hashed from memory, decoded without per-segment
  // file reads; larger files are hashed in a streaming pass and read by range while decoding. The
  // patch is read at the same time (both reads run in the I/O pool while nothing else waits).
  const patchRead = readWhole(patchPath);
  patchRead.catch(() => {}); // awaited below, after OLD's check
  let oldBytes: Uint8Array | undefined;
  let got = '';
  if (oldStat.size <= IN_MEMORY_OLD_MAX_BYTES) ({ bytes: oldBytes, sha256: got } = await readAndHash(oldPath, oldStat.size));
  else if (header.oldSha256) got = (await sha256OfFile(oldPath)).sha256;
  if (header.oldSha256 && got !== header.oldSha256) throw wrongBase(oldPath, patchPath, { expected: header.oldSha256, got });
  const patch = await patchRead;
  let result = { sha256: '', size: 0 };
  await writeFileAtomic(outPath, async (w) => {
    const out = new PipelinedWriter(w);
    const src = oldBytes ? bytesSource(oldBytes, oldPath) : await openSource(oldPath);
    try {
      result = await decodePatch(header, patch, src, (c) => out.write(c), patchPath, (n) => out.reserve(n));
      await out.finish();
    } finally {
      await out.settle().catch(() => {}); // never leave a write in flight when the file is closed
      await src.close();
    }
  });
  return { ...result, method: header.method };
}
