/**
 * One chunk of the .mcz container: encode raw bytes with the smallest of several methods, decode
 * them back. Pure functions over Uint8Array (no I/O, no hashing, no knowledge of files); the
 * payload formats are specified in docs/spec/mcz.md §5 and must not change without a version bump.
 *
 * Methods: STORED (raw), ZSTD (zstd of raw), PLANES (byte-plane grouping of the selected element
 * ranges, each plane its own zstd frame, then the unselected bytes), SPARSE (bitmap of nonzero
 * elements + byte planes of the nonzero elements only — for pruned, mostly-zero tensors).
 */
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { McdnError } from '../errors.ts';
import { joinPlanes, joinPlanesFrom, splitPlanes, uninitialized, MAX_PLANE_WIDTH } from './planes.ts';
import { zstdCompress, zstdDecompress, zstdDecompressInto, ZSTD_DEFAULT_LEVEL } from './zstd.ts';

export const METHOD_STORED = 0;
export const METHOD_ZSTD = 1;
export const METHOD_PLANES = 2;
export const METHOD_SPARSE = 3;
/** the chunk repeats an earlier chunk with the same sha256 (resolved by the container, spec §5) */
export const METHOD_REF = 4;
/** a brotli stream (RFC 7932) of the raw chunk: context modelling wins on text and 8-bit quantized weights */
export const METHOD_BROTLI = 5;
export type ChunkMethod = 0 | 1 | 2 | 3 | 4 | 5;
export const METHOD_NAMES: Record<ChunkMethod, string> = { 0: 'stored', 1: 'zstd', 2: 'planes', 3: 'sparse', 4: 'ref', 5: 'brotli' };
/** Extra effort for compressible chunks: 'zstd' = retry at level 19, 'max' = also brotli quality 11. */
export type Boost = 'off' | 'zstd' | 'max';

/** Largest raw chunk (4 MiB): bounds decoder memory and gives random access granularity. */
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;
/** SPARSE is tried when at least this fraction of the selected elements are all-zero. */
export const SPARSE_TRY_ZERO_FRACTION = 0.3;
/** A chunk whose best encoding is below this ratio is structured data: worth a zstd-19 retry (boost 'zstd'). */
export const BOOST_BELOW_RATIO = 0.6;
/** With boost 'max', chunks below this ratio — and every chunk of width 1 — get zstd-19 and brotli-11 candidates. */
export const MAX_BOOST_BELOW_RATIO = 0.7;
export const BROTLI_QUALITY = 11;
/**
 * With boost 'zstd' (the default for files ≤ 256 MiB), chunks holding no tensor (manifests, graph
 * protobufs, JSON) up to this size also get a BROTLI candidate: brotli's dictionary and context
 * modelling win on text, and at ~1 MB/s a chunk this small costs well under a second.
 */
export const SMALL_BROTLI_MAX_BYTES = 256 * 1024;
/** The level used for such chunks when boosting is on. */
export const BOOST_LEVEL = 19;
/**
 * Each plane is first compressed at level 1 (fast strategy — it beats levels 3–9 on the exponent
 * plane, and near-random mantissa planes gain nothing from more effort). Only for requested levels
 * ≥ PLANE_RETRY_MIN_LEVEL (where optimal parsing can win) is a plane that level 1 shrinks below
 * RETRY_PLANE_RATIO also tried at the requested level, keeping the smaller frame (spec §7).
 */
const RETRY_PLANE_RATIO = 0.99;
const PLANE_RETRY_MIN_LEVEL = 10;
/** Chunks larger than this estimate plain zstd on a sample before computing it in full (spec §7). */
const PLAIN_SAMPLE_MIN_CHUNK = 512 * 1024;
const PLAIN_SAMPLE_SLICE = 64 * 1024;
/** Plain zstd is computed in full when its sample ratio is within this margin of the planes ratio. */
const PLAIN_SAMPLE_MARGIN = 0.02;
/** Sample used to decide which plane width pays for data without a layout. */
const PROBE_BYTES = 128 * 1024;

/** A byte range inside the chunk (relative to its start). */
export interface ChunkRange {
  start: number;
  length: number;
}

export interface EncodeChunkOptions {
  /** zstd level (default 3) */
  level?: number;
  /** element width in bytes for byte-plane grouping (1 = none) */
  width?: number;
  /** the tensor element ranges to group; undefined = the whole chunk */
  ranges?: ChunkRange[];
  /**
   * for bytes without a known layout: plane widths to probe on a sample (e.g. [4, 2]); the best one,
   * if it beats plain zstd on the sample, becomes a PLANES candidate over the whole chunk
   */
  probeWidths?: number[];
  /** compute only this method (test vectors, experiments); STORED is still the fallback if it does not apply */
  force?: ChunkMethod;
  /** re-encode chunks that compress below BOOST_BELOW_RATIO at BOOST_LEVEL, and with 'max' also try brotli (spec §7) */
  boost?: Boost;
}

export interface EncodedChunk {
  method: ChunkMethod;
  /** element width recorded for the chunk (1 for STORED/ZSTD) */
  width: number;
  payload: Uint8Array;
}

/** Encode `raw` with the smallest of {stored, zstd, planes+zstd, sparse} that applies. */
export function encodeChunk(raw: Uint8Array, opts: EncodeChunkOptions = {}): EncodedChunk {
  const level = opts.level ?? ZSTD_DEFAULT_LEVEL;
  const stored: EncodedChunk = { method: METHOD_STORED, width: 1, payload: raw };
  if (raw.byteLength === 0 || opts.force === METHOD_STORED) return stored;
  let best = encodeAtLevel(raw, opts, level);
  const boost = opts.boost ?? 'off';
  const below = boost === 'max' ? MAX_BOOST_BELOW_RATIO : BOOST_BELOW_RATIO;
  // with 'max', byte-oriented chunks (no plane grouping: 8-bit weights, text) always get the candidates
  const byteData = boost === 'max' && best?.width === 1 && (opts.width ?? 1) === 1;
  if (boost !== 'off' && opts.force === undefined && best && (byteData || best.payload.byteLength < raw.byteLength * below)) {
    const candidates = [level < BOOST_LEVEL ? encodeAtLevel(raw, opts, BOOST_LEVEL) : undefined];
    // a small chunk with no tensor in it (the planner asks to probe plane widths for those)
    const smallText = !!opts.probeWidths?.length && raw.byteLength <= SMALL_BROTLI_MAX_BYTES;
    if (boost === 'max' || smallText) candidates.push({ method: METHOD_BROTLI, width: 1, payload: brotli(raw) });
    for (const c of candidates) if (c && c.payload.byteLength < best.payload.byteLength) best = c;
  }
  if (opts.force === METHOD_BROTLI) best = { method: METHOD_BROTLI, width: 1, payload: brotli(raw) };
  // an encoding is only used when it is smaller than the raw bytes (spec: packedLength ≤ rawLength)
  return best && best.payload.byteLength < raw.byteLength ? best : stored;
}

function encodeAtLevel(raw: Uint8Array, opts: EncodeChunkOptions, level: number): EncodedChunk | undefined {
  let width = opts.width ?? 1;
  let ranges = opts.ranges;
  if (!Number.isInteger(width) || width < 1 || width > MAX_PLANE_WIDTH) throw new RangeError(`chunk width ${width} out of range`);
  const want = (m: ChunkMethod) => opts.force === undefined || opts.force === m;
  let best: EncodedChunk | undefined;
  const consider = (c: EncodedChunk) => {
    if (!best || c.payload.byteLength < best.payload.byteLength) best = c;
  };
  if (width === 1 && opts.probeWidths?.length && raw.byteLength >= 64) {
    width = probeWidth(raw, opts.probeWidths);
    ranges = undefined;
  }
  if (width > 1 || ranges) {
    const sel = selectRanges(raw, ranges);
    if (width > 1 && want(METHOD_PLANES)) consider({ method: METHOD_PLANES, width, payload: encodePlanes(sel, width, level) });
    if (want(METHOD_SPARSE) && (opts.force === METHOD_SPARSE || zeroFraction(sel.selected, width) >= SPARSE_TRY_ZERO_FRACTION)) {
      consider({ method: METHOD_SPARSE, width, payload: encodeSparse(sel, width, level) });
    }
  }
  if (want(METHOD_ZSTD) && (!best || opts.force !== undefined || plainCouldWin(raw, level, best.payload.byteLength / raw.byteLength))) {
    consider({ method: METHOD_ZSTD, width: 1, payload: zstdCompress(raw, level) });
  }
  return best;
}

/** Decode one chunk payload back to exactly `rawLength` bytes. Throws McdnError MCZ_CHUNK_CORRUPT. */
export function decodeChunk(payload: Uint8Array, method: number, width: number, rawLength: number): Uint8Array {
  switch (method) {
    case METHOD_STORED:
      if (payload.byteLength !== rawLength) throw corrupt(`stored chunk has ${payload.byteLength} bytes, expected ${rawLength}`);
      return payload;
    case METHOD_ZSTD:
      return inflate(payload, rawLength);
    case METHOD_PLANES:
    case METHOD_SPARSE: {
      if (!Number.isInteger(width) || width < 1 || width > MAX_PLANE_WIDTH) throw corrupt(`bad element width ${width}`);
      const r = new Reader(payload);
      const ranges = readRanges(r, rawLength);
      if (method === METHOD_PLANES) {
        const selLen = ranges ? ranges.reduce((s, x) => s + x.length, 0) : rawLength;
        // zstd decodes straight into the transpose's scratch memory (no intermediate buffer)
        const frames = payload.subarray(r.pos);
        const joined = joinPlanesFrom(rawLength, selLen, width, (scratch) => inflateInto(frames, scratch));
        return scatter(joined.subarray(0, selLen), joined.subarray(selLen), ranges, rawLength);
      }
      const innerLen = r.varint();
      if (innerLen > rawLength + Math.ceil(rawLength / 8) + 8) throw corrupt(`sparse inner length ${innerLen} too large`);
      const inner = inflate(payload.subarray(r.pos), innerLen);
      const selLen = ranges ? ranges.reduce((s, x) => s + x.length, 0) : rawLength;
      const n = Math.floor(selLen / width);
      const bitmapLen = Math.ceil(n / 8);
      const bitmap = inner.subarray(0, bitmapLen);
      let nonzero = 0;
      for (let i = 0; i < n; i++) if (bitmap[i >> 3]! & (1 << (i & 7))) nonzero++;
      const tail = selLen - n * width;
      const unselLen = rawLength - selLen;
      if (innerLen !== bitmapLen + nonzero * width + tail + unselLen) throw corrupt('sparse chunk lengths do not add up');
      const values = joinPlanes(inner.subarray(bitmapLen, bitmapLen + nonzero * width), width);
      const sel = new Uint8Array(selLen);
      for (let i = 0, v = 0; i < n; i++) {
        if (bitmap[i >> 3]! & (1 << (i & 7))) {
          sel.set(values.subarray(v, v + width), i * width);
          v += width;
        }
      }
      const rest = bitmapLen + nonzero * width;
      sel.set(inner.subarray(rest, rest + tail), n * width);
      return scatter(sel, inner.subarray(rest + tail), ranges, rawLength);
    }
    case METHOD_REF:
      throw corrupt('a ref chunk has no payload of its own; the container decoder resolves it');
    case METHOD_BROTLI: {
      let out: Buffer;
      try {
        out = brotliDecompressSync(payload, { maxOutputLength: Math.max(1, rawLength) });
      } catch (e) {
        throw corrupt(`brotli data is corrupt or too long: ${(e as Error).message}`);
      }
      if (out.byteLength !== rawLength) throw corrupt(`brotli data decoded to ${out.byteLength} bytes, expected ${rawLength}`);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    }
    default:
      throw corrupt(`unknown method ${method}`);
  }
}

// ---------------------------------------------------------------------------------------------
// encoding helpers

interface Selection {
  /** concatenation of the selected ranges */
  selected: Uint8Array;
  /** the other bytes, in order */
  rest: Uint8Array;
  /** the range header bytes (spec §5.3) */
  header: Uint8Array;
}

function selectRanges(raw: Uint8Array, ranges: ChunkRange[] | undefined): Selection {
  if (!ranges) return { selected: raw, rest: new Uint8Array(0), header: Uint8Array.of(0) };
  const w = new ByteWriter();
  w.varint(ranges.length);
  let selLen = 0;
  let prevEnd = 0;
  for (const r of ranges) {
    if (r.start < prevEnd || r.length <= 0 || r.start + r.length > raw.byteLength) throw new RangeError('chunk ranges must be sorted, non-empty, disjoint and inside the chunk');
    w.varint(r.start - prevEnd);
    w.varint(r.length);
    selLen += r.length;
    prevEnd = r.start + r.length;
  }
  const selected = new Uint8Array(selLen);
  const rest = new Uint8Array(raw.byteLength - selLen);
  let s = 0;
  let o = 0;
  let pos = 0;
  for (const r of ranges) {
    rest.set(raw.subarray(pos, r.start), o);
    o += r.start - pos;
    selected.set(raw.subarray(r.start, r.start + r.length), s);
    s += r.length;
    pos = r.start + r.length;
  }
  rest.set(raw.subarray(pos), o);
  return { selected, rest, header: w.bytes() };
}

/** Compress each plane as its own frame, choosing per plane between `level` and level 1. */
function compressPlanes(planes: Uint8Array, width: number, level: number, parts: Uint8Array[]): void {
  const planeLen = Math.floor(planes.byteLength / width);
  if (planeLen === 0) {
    parts.push(zstdCompress(planes, level));
    return;
  }
  for (let k = 0; k < width; k++) {
    const end = k === width - 1 ? planes.byteLength : (k + 1) * planeLen; // last frame carries the tail
    const plane = planes.subarray(k * planeLen, end);
    let c = zstdCompress(plane, 1);
    if (level >= PLANE_RETRY_MIN_LEVEL && c.byteLength < plane.byteLength * RETRY_PLANE_RATIO) {
      const cl = zstdCompress(plane, level);
      if (cl.byteLength < c.byteLength) c = cl;
    }
    parts.push(c);
  }
}

function encodePlanes(sel: Selection, width: number, level: number): Uint8Array {
  const parts: Uint8Array[] = [sel.header];
  compressPlanes(splitPlanes(sel.selected, width), width, level, parts);
  if (sel.rest.byteLength > 0) parts.push(zstdCompress(sel.rest, level));
  return concat(parts);
}

function encodeSparse(sel: Selection, width: number, level: number): Uint8Array {
  const src = sel.selected;
  const n = Math.floor(src.byteLength / width);
  const bitmap = new Uint8Array(Math.ceil(n / 8));
  const values = new Uint8Array(n * width);
  let v = 0;
  for (let i = 0; i < n; i++) {
    const at = i * width;
    let nz = false;
    for (let k = 0; k < width; k++) if (src[at + k] !== 0) { nz = true; break; }
    if (nz) {
      bitmap[i >> 3]! |= 1 << (i & 7);
      values.set(src.subarray(at, at + width), v);
      v += width;
    }
  }
  const tail = src.subarray(n * width);
  const innerLen = bitmap.byteLength + v + tail.byteLength + sel.rest.byteLength;
  const head = new ByteWriter();
  head.varint(innerLen);
  const parts: Uint8Array[] = [sel.header, head.bytes(), zstdCompress(bitmap, level)];
  if (v > 0) compressPlanes(splitPlanes(values.subarray(0, v), width), width, level, parts);
  const trailer = concat([tail, sel.rest]);
  if (trailer.byteLength > 0) parts.push(zstdCompress(trailer, level));
  return concat(parts);
}

/** Fraction of width-sized elements that are all zero bytes. */
function zeroFraction(b: Uint8Array, width: number): number {
  const n = Math.floor(b.byteLength / width);
  if (n === 0) return 0;
  let zeros = 0;
  if (width === 4 && b.byteOffset % 4 === 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset, n);
    for (let i = 0; i < n; i++) if (w[i] === 0) zeros++;
  } else if (width === 2 && b.byteOffset % 2 === 0) {
    const w = new Uint16Array(b.buffer, b.byteOffset, n);
    for (let i = 0; i < n; i++) if (w[i] === 0) zeros++;
  } else {
    for (let i = 0; i < n; i++) {
      let z = true;
      for (let k = 0; k < width; k++) if (b[i * width + k] !== 0) { z = false; break; }
      if (z) zeros++;
    }
  }
  return zeros / n;
}

function brotli(raw: Uint8Array): Uint8Array {
  let lgwin = 16;
  while (lgwin < 24 && 2 ** lgwin < raw.byteLength) lgwin++;
  const b = brotliCompressSync(raw, {
    params: { [zlibConstants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlibConstants.BROTLI_PARAM_LGWIN]: lgwin, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: raw.byteLength },
  });
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Estimate plain zstd on three 64 KiB slices (start, middle, end); small chunks always say yes. */
function plainCouldWin(raw: Uint8Array, level: number, bestRatio: number): boolean {
  if (raw.byteLength < PLAIN_SAMPLE_MIN_CHUNK) return true;
  const mid = Math.floor((raw.byteLength - PLAIN_SAMPLE_SLICE) / 2);
  const sample = concat([raw.subarray(0, PLAIN_SAMPLE_SLICE), raw.subarray(mid, mid + PLAIN_SAMPLE_SLICE), raw.subarray(raw.byteLength - PLAIN_SAMPLE_SLICE)]);
  return zstdCompress(sample, level).byteLength / sample.byteLength < bestRatio + PLAIN_SAMPLE_MARGIN;
}

/** Pick the plane width that compresses a sample best (1 if none beats plain zstd by 2 %). */
function probeWidth(raw: Uint8Array, widths: number[]): number {
  const start = Math.max(0, Math.floor((raw.byteLength - PROBE_BYTES) / 2) & ~15);
  const sample = raw.subarray(start, start + PROBE_BYTES);
  let bestW = 1;
  let bestSize = zstdCompress(sample, 1).byteLength * 0.98;
  for (const w of widths) {
    if (w < 2 || w > MAX_PLANE_WIDTH) continue;
    const planes = splitPlanes(sample, w);
    const planeLen = Math.floor(sample.byteLength / w);
    let size = 0; // planes compressed separately, as encodePlanes does (one Huffman table per plane)
    for (let k = 0; k < w; k++) size += zstdCompress(planes.subarray(k * planeLen, k === w - 1 ? planes.byteLength : (k + 1) * planeLen), 1).byteLength;
    if (size < bestSize) {
      bestSize = size;
      bestW = w;
    }
  }
  return bestW;
}

// ---------------------------------------------------------------------------------------------
// decoding helpers

function corrupt(msg: string): McdnError {
  return new McdnError('MCZ_CHUNK_CORRUPT', 'integrity', msg);
}

function inflateInto(frames: Uint8Array, out: Uint8Array): void {
  try {
    zstdDecompressInto(frames, out);
  } catch (e) {
    throw new McdnError('MCZ_CHUNK_CORRUPT', 'integrity', (e as Error).message, { cause: e });
  }
}

function inflate(frames: Uint8Array, size: number): Uint8Array {
  try {
    return zstdDecompress(frames, size);
  } catch (e) {
    throw new McdnError('MCZ_CHUNK_CORRUPT', 'integrity', (e as Error).message, { cause: e });
  }
}

function readRanges(r: Reader, rawLength: number): ChunkRange[] | undefined {
  const count = r.varint();
  if (count === 0) return undefined;
  if (count > rawLength) throw corrupt(`range count ${count} exceeds chunk length`);
  const out: ChunkRange[] = [];
  let prevEnd = 0;
  for (let i = 0; i < count; i++) {
    const start = prevEnd + r.varint();
    const length = r.varint();
    if (length === 0 || start + length > rawLength) throw corrupt(`range ${i} (${start}+${length}) is outside the chunk`);
    out.push({ start, length });
    prevEnd = start + length;
  }
  return out;
}

/** Put the selected bytes back into their ranges and the rest around them. */
function scatter(selected: Uint8Array, rest: Uint8Array, ranges: ChunkRange[] | undefined, rawLength: number): Uint8Array {
  if (!ranges) return selected;
  const out = uninitialized(rawLength); // ranges and gaps cover every byte
  let s = 0;
  let o = 0;
  let pos = 0;
  for (const r of ranges) {
    out.set(rest.subarray(o, o + r.start - pos), pos);
    o += r.start - pos;
    out.set(selected.subarray(s, s + r.length), r.start);
    s += r.length;
    pos = r.start + r.length;
  }
  out.set(rest.subarray(o), pos);
  return out;
}

// ---------------------------------------------------------------------------------------------
// little byte utilities (LEB128 varints)

export class ByteWriter {
  private buf = new Uint8Array(64);
  private n = 0;
  private ensure(k: number): void {
    if (this.n + k <= this.buf.byteLength) return;
    const b = new Uint8Array(Math.max(this.buf.byteLength * 2, this.n + k));
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
  varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint ${v}`);
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.n++] = v;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

export class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.b.byteLength) throw corrupt('truncated varint');
      const x = this.b[this.pos++]!;
      v += (x & 0x7f) * mul;
      if (x < 0x80) return v;
      mul *= 0x80;
    }
    throw corrupt('varint longer than 8 bytes');
  }
}

/** Payload of a REF chunk: the index of the chunk it repeats. */
export function encodeRefPayload(target: number): Uint8Array {
  const w = new ByteWriter();
  w.varint(target);
  return w.bytes();
}

export function decodeRefPayload(payload: Uint8Array): number {
  const r = new Reader(payload);
  const v = r.varint();
  if (r.pos !== payload.byteLength) throw corrupt('ref payload has trailing bytes');
  return v;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.byteLength;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
