/**
 * Packing: model file → .mcz container. `packBytes` is the pure in-memory core (layout in, bytes
 * out); `packFile` streams a file chunk by chunk through the worker pool into a temp file beside
 * the destination and renames it into place only when complete (never a half-written output).
 * Generic codecs (--codec zstd|gzip|br) are delegated to generic.ts. Reads the model layout through
 * src/formats; never writes anything but the one output path.
 */
import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { McdnError, fromSystemError } from '../errors.ts';
import { DTYPE_BYTES, type ModelLayout, type DType } from '../formats/types.ts';
import { tensorElementWidth } from '../formats/numeric.ts';
import { MAX_CHUNK_BYTES, METHOD_NAMES, concat, type Boost } from './chunk.ts';
import { encodeHeaderV2, encodeLayoutV2, headerLengthV2, type MczChunkEntry, type MczLayout, type MczTensor } from './format.ts';
import { planChunks, type PlannedChunk } from './plan.ts';
import { runEncode, RefTracker, type EncodeResult } from './jobs.ts';
import { ZSTD_DEFAULT_LEVEL, ZSTD_MAX_LEVEL, ZSTD_MIN_LEVEL } from './zstd.ts';
import { sharedPool, POOL_MIN_BYTES, type ChunkPool } from './workers/pool.ts';
import { AtomicFile } from './atomic-file.ts';
import { packGeneric, type GenericCodec } from './generic.ts';

export type PackCodec = 'mcz' | GenericCodec;

/** Default boost by file size (spec §7). */
export const BOOST_MAX_FILE_BYTES = 256 * 1024 * 1024;

/** Files up to this size also get brotli candidates for their 8-bit tensor chunks (~1 MB/s per core on those). */
export const BYTES_BROTLI_MAX_FILE_BYTES = 64 * 1024 * 1024;

export function defaultBoost(size: number): Boost {
  return size <= BYTES_BROTLI_MAX_FILE_BYTES ? 'brotli' : size <= BOOST_MAX_FILE_BYTES ? 'zstd' : 'off';
}
/** Chunks in flight per pool worker (bounds memory to ~ workers × this × 4 MiB × 2). */
const INFLIGHT_PER_WORKER = 3;

export interface PackOptions {
  /** compression level (mcz and zstd: zstd level, default 3 / 19; gzip 1..9; br 0..11) */
  level?: number;
  codec?: PackCodec;
  /** progress callback in original bytes */
  onProgress?: (done: number, total: number) => void;
  /** use this layout instead of detecting one (null = treat as unknown bytes) */
  layout?: ModelLayout | null;
  /**
   * extra effort on compressible chunks (structured data, text, 8-bit weights; spec §7):
   * 'zstd' = chunks below 60 % are retried at level 19; 'max' = chunks below 70 % also get a
   * brotli-11 candidate (slow: ~1 MB/s on those chunks). Default: 'zstd' for files up to
   * BOOST_MAX_FILE_BYTES, 'off' above (throughput first).
   */
  boost?: Boost;
  /** false = encode on this thread; a pool = use it; default: shared pool for big files */
  pool?: ChunkPool | false;
  signal?: AbortSignal;
  /** fsync the output before the rename (default true; false = like zstd/gzip, for benchmarks) */
  durable?: boolean;
}

export interface ChunkStat {
  offset: number;
  rawLength: number;
  packedLength: number;
  method: string;
  width: number;
  sha256: string;
}

export interface PackResult {
  codec: PackCodec;
  /** detected model format ('unknown' if none) */
  format: string;
  originalSize: number;
  packedSize: number;
  /** sha256 of the original file */
  sha256: string;
  chunks: ChunkStat[];
  /** per method: chunk count, raw and packed bytes */
  methods: Record<string, { chunks: number; raw: number; packed: number }>;
  warnings: string[];
}

/** Layout as stored in the container, derived from a ModelLayout of `path` (or of in-memory bytes). */
export function mczLayoutOf(layout: ModelLayout | null | undefined, path?: string): MczLayout {
  if (!layout) return { format: 'unknown', tensors: [] };
  const self = path ? resolve(path) : undefined;
  const tensors: MczTensor[] = [];
  for (const t of layout.tensors) {
    if (t.file !== undefined && (self === undefined || resolve(t.file) !== self)) continue; // data lives in another file
    tensors.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], offset: t.offset, length: t.length, width: widthOf(t.dtype) });
  }
  return { format: layout.format, tensors };
}

function widthOf(dtype: DType | string): number {
  try {
    const w = tensorElementWidth(dtype as DType);
    return Number.isInteger(w) && w >= 1 && w <= 16 ? w : 1;
  } catch {
    return 1;
  }
}

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < ZSTD_MIN_LEVEL || level > ZSTD_MAX_LEVEL) {
    throw new McdnError('BAD_LEVEL', 'input', `compression level ${level} is out of range ${ZSTD_MIN_LEVEL}..${ZSTD_MAX_LEVEL} for mcz`, { remedy: 'use --level 1..19' });
  }
}

function planFor(size: number, layout: MczLayout): PlannedChunk[] {
  return planChunks(size, layout.tensors.map((t) => ({ offset: t.offset, length: t.length, width: t.width, ...stridesOf(t) })));
}

/**
 * Row lengths worth trying for COLUMNS on a tensor of 1-byte elements (spec §7): its last dimension
 * (channels-last layouts: HWIO conv kernels, tfjs/TF) and its size over the first dimension
 * (channels-first: one row per output channel, ONNX/PyTorch). Block-quantized types have none.
 */
export function stridesOf(t: MczTensor): { strides?: number[] } {
  if (DTYPE_BYTES[t.dtype as DType] !== 1 || !Array.isArray(t.shape) || t.shape.length < 2) return {};
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(n) || n !== t.length) return {};
  const strides = [t.shape[t.shape.length - 1]!, n / t.shape[0]!].filter((s) => Number.isSafeInteger(s) && s >= 2 && s < n);
  return strides.length ? { strides: [...new Set(strides)] } : {};
}

function encodeOpts(p: PlannedChunk, level: number, boost: Boost) {
  return { level, boost, width: p.width, ...(p.ranges ? { ranges: p.ranges } : {}), ...(p.probe ? { probeWidths: [4, 2] } : {}), ...(p.strides ? { strides: p.strides } : {}) };
}

/** Pure core: pack bytes held in memory (single-threaded). */
export function packBytes(bytes: Uint8Array, layout: MczLayout = { format: 'unknown', tensors: [] }, level = ZSTD_DEFAULT_LEVEL, boost: Boost = defaultBoost(bytes.byteLength)): Uint8Array {
  checkLevel(level);
  const plan = planFor(bytes.byteLength, layout);
  const refs = new RefTracker();
  const results = plan.map((p) => refs.apply(runEncode({ op: 'encode', raw: bytes.subarray(p.offset, p.offset + p.length), opts: encodeOpts(p, level, boost) })));
  const header = encodeHeaderV2({ originalSize: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex'), chunks: entries(plan, results) }, encodeLayoutV2(layout));
  return concat([header, ...results.map((r) => r.payload)]);
}

type ChunkResult = Omit<EncodeResult, 'payload'> & ({ payload: Uint8Array } | { packedLength: number });
const packedLengthOf = (r: ChunkResult) => ('payload' in r ? r.payload.byteLength : r.packedLength);

function entries(plan: PlannedChunk[], results: ChunkResult[]): MczChunkEntry[] {
  return results.map((r, i) => ({ offset: plan[i]!.offset, rawLength: r.rawLength, packedLength: packedLengthOf(r), method: r.method, width: r.width, crc32: r.crc32, sha256: r.sha256 }));
}

/** Detect the layout of a model file through src/formats (unknown formats → no tensors). */
export async function detectLayout(path: string, warnings: string[]): Promise<ModelLayout | null> {
  const { readModelLayout } = await import('../formats/index.ts'); // lazy: parsers load protobufjs
  try {
    return await readModelLayout(path);
  } catch (e) {
    if (e instanceof McdnError && (e.category === 'not_found' || e.category === 'io')) throw e;
    warnings.push(`${path}: layout not readable (${(e as Error).message}); packed as plain bytes`);
    return null;
  }
}

export async function packFile(inPath: string, outPath: string, opts: PackOptions = {}): Promise<PackResult> {
  const codec = opts.codec ?? 'mcz';
  if (codec !== 'mcz') return packGeneric(inPath, outPath, codec, opts.level, opts.onProgress, opts.signal, opts.durable ?? true);
  const level = opts.level ?? ZSTD_DEFAULT_LEVEL;
  checkLevel(level);
  let size: number;
  try {
    const st = await stat(inPath);
    if (st.isDirectory()) throw new McdnError('IS_A_DIRECTORY', 'input', `${inPath}: is a directory, expected a file`);
    size = st.size;
  } catch (e) {
    throw fromSystemError(e, inPath);
  }
  const warnings: string[] = [];
  const modelLayout = opts.layout !== undefined ? opts.layout : await detectLayout(inPath, warnings);
  const layout = mczLayoutOf(modelLayout, inPath);
  const plan = planFor(size, layout);
  const layoutSection = encodeLayoutV2(layout);
  const headerLength = headerLengthV2(size, plan.map((p) => p.length), layoutSection);
  const pool = opts.pool === false ? undefined : opts.pool ?? (size >= POOL_MIN_BYTES ? sharedPool() : undefined);
  const maxInflight = pool ? pool.size * INFLIGHT_PER_WORKER : 1;

  let input: FileHandle;
  try {
    input = await open(inPath, 'r');
  } catch (e) {
    throw fromSystemError(e, inPath);
  }
  const out = await AtomicFile.create(outPath);
  const fileHash = createHash('sha256');
  const results: ChunkResult[] = []; // metadata only: payloads go straight to disk
  let pos = headerLength;
  let done = 0;
  try {
    await out.writeAt(new Uint8Array(headerLength), 0); // placeholder; the real header is written last
    const queue: Promise<EncodeResult>[] = [];
    const refs = new RefTracker();
    const writeNext = async () => {
      const r = refs.apply(await queue.shift()!);
      await out.writeAt(r.payload, pos);
      pos += r.payload.byteLength;
      results.push({ method: r.method, width: r.width, sha256: r.sha256, rawLength: r.rawLength, crc32: r.crc32, packedLength: r.payload.byteLength });
      done += r.rawLength;
      opts.onProgress?.(done, size);
    };
    for (const p of plan) {
      if (opts.signal?.aborted) throw new McdnError('CANCELLED', 'cancelled', 'pack cancelled');
      const raw = await readExact(input, p.offset, p.length, inPath);
      fileHash.update(raw);
      const job = { op: 'encode' as const, raw, opts: encodeOpts(p, level, opts.boost ?? defaultBoost(size)) };
      const pr = pool ? pool.encode(job) : Promise.resolve().then(() => runEncode(job));
      pr.catch(() => {}); // awaited in order by writeNext; avoid an unhandled rejection meanwhile
      queue.push(pr);
      while (queue.length >= maxInflight) await writeNext();
    }
    while (queue.length) await writeNext();
    const sha256 = fileHash.digest('hex');
    const header = encodeHeaderV2({ originalSize: size, sha256, chunks: entries(plan, results) }, layoutSection);
    await out.writeAt(header, 0);
    await out.commit(opts.durable ?? true);
    const chunks = results.map((r, i) => ({ offset: plan[i]!.offset, rawLength: r.rawLength, packedLength: packedLengthOf(r), method: METHOD_NAMES[r.method], width: r.width, sha256: r.sha256 }));
    const methods: PackResult['methods'] = {};
    for (const c of chunks) {
      const m = (methods[c.method] ??= { chunks: 0, raw: 0, packed: 0 });
      m.chunks++;
      m.raw += c.rawLength;
      m.packed += c.packedLength;
    }
    return { codec: 'mcz', format: layout.format, originalSize: size, packedSize: pos, sha256, chunks, methods, warnings };
  } catch (e) {
    await out.abort();
    throw e instanceof McdnError ? e : fromSystemError(e, outPath);
  } finally {
    await input.close();
  }
}

/** Read exactly `length` bytes at `offset` into a fresh buffer (the file must not shrink meanwhile). */
export async function readExact(fh: FileHandle, offset: number, length: number, path: string): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
    if (bytesRead === 0) throw new McdnError('FILE_CHANGED', 'io', `${path}: file ended early at ${offset + got} (was it modified while being read?)`);
    got += bytesRead;
  }
  return buf;
}

export { MAX_CHUNK_BYTES };
