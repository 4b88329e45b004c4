/**
 * One chunk of the .mcz container: encode raw bytes with the smallest of several methods, decode
 * them back. Pure functions over Uint8Array (no I/O, no hashing, no knowledge of files); the
 * payload formats are specified in docs/spec/mcz.md §5 and must not change without a version bump.
 *
 * Methods: STORED (raw), ZSTD (zstd of raw), PLANES (byte-plane grouping of the selected element
 * ranges, each plane its own zstd frame, then the unselected bytes), SPARSE (bitmap of nonzero
 * elements + byte planes of the nonzero elements only — for pruned, mostly-zero tensors), BROTLI,
 * TEXT (text-streams.ts: JSON-like text split into value streams, then brotli) and COLUMNS (8-bit
 * tensor rows transposed, then brotli).
 */
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { McdnError } from '../errors.ts';
import { joinPlanes, joinPlanesFrom, splitPlanes, uninitialized, MAX_PLANE_WIDTH } from './planes.ts';
import { zstdCompress, zstdDecompress, zstdDecompressInto, ZSTD_DEFAULT_LEVEL } from './zstd.ts';
import { decodeText, encodeText } from './text-streams.ts';

export const METHOD_STORED = 0;
export const METHOD_ZSTD = 1;
export const METHOD_PLANES = 2;
export const METHOD_SPARSE = 3;
/** the chunk repeats an earlier chunk with the same sha256 (resolved by the container, spec §5) */
export const METHOD_REF = 4;
/** a brotli stream (RFC 7932) of the raw chunk: context modelling wins on text and 8-bit quantized weights */
export const METHOD_BROTLI = 5;
/** JSON-like text: values moved into one stream per key, then brotli (text-streams.ts, spec §5.1) */
export const METHOD_TEXT = 6;
/** bytes of 8-bit tensor rows transposed (column k of every row together), then brotli (spec §5) */
export const METHOD_COLUMNS = 7;
export type ChunkMethod = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;
export const METHOD_NAMES: Record<ChunkMethod, string> = { 0: 'stored', 1: 'zstd', 2: 'planes', 3: 'sparse', 4: 'ref', 5: 'brotli', 6: 'text', 7: 'columns' };
/**
 * Extra effort for compressible chunks: 'zstd' = retry at level 19 (and small text chunks get
 * BROTLI/TEXT candidates); 'brotli' = also a brotli candidate for every chunk of 8-bit tensor data;
 * 'max' = brotli quality 11 candidates for everything below 70 %.
 */
export type Boost = 'off' | 'zstd' | 'brotli' | 'max';

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
 * Quality for 8-bit tensor chunks with boost 'brotli': measured on uint8-quantized tfjs weights,
 * quality 10 gives the same size as 11 (58.42 % both) in half the time; 9 loses its context
 * modelling edge (61.8 %, worse than zstd-19's 59.2 %).
 */
export const BYTES_BROTLI_QUALITY = 10;
/** 8-bit chunks whose best encoding is above this ratio are noise to brotli too: no candidate. */
export const BYTES_BROTLI_BELOW_RATIO = 0.95;
/** Largest row length (stride) COLUMNS accepts. */
export const MAX_COLUMNS_STRIDE = MAX_CHUNK_BYTES / 2;
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
  /**
   * for chunks of 8-bit tensor data: row lengths (in bytes) to try for COLUMNS, e.g. the tensor's
   * last dimension; the one whose transposition has the lowest order-1 entropy is brotli'd
   */
  strides?: number[];
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
  const noTensor = !!opts.probeWidths?.length; // the planner probes plane widths only for bytes without tensors
  // byte-oriented chunks (no plane grouping): with 'max' all of them, with 'brotli' 8-bit tensor data
  const byteData = best?.width === 1 && (opts.width ?? 1) === 1 && (boost === 'max' || (boost === 'brotli' && !noTensor && best.payload.byteLength < raw.byteLength * BYTES_BROTLI_BELOW_RATIO));
  if (boost !== 'off' && opts.force === undefined && best && (byteData || best.payload.byteLength < raw.byteLength * below)) {
    const candidates: (EncodedChunk | undefined)[] = [level < BOOST_LEVEL ? encodeAtLevel(raw, opts, BOOST_LEVEL) : undefined];
    // a small chunk with no tensor in it: JSON manifests, graph bytes
    // with 'brotli' (files ≤ 64 MiB) also bigger ones that look like text: a large model.json, tokenizer.json
    const smallText = noTensor && (raw.byteLength <= SMALL_BROTLI_MAX_BYTES || (boost === 'brotli' && looksLikeText(raw)));
    if (boost === 'max' || smallText) candidates.push({ method: METHOD_BROTLI, width: 1, payload: brotli(raw, BROTLI_QUALITY) });
    if ((boost === 'max' && noTensor) || smallText) candidates.push({ method: METHOD_TEXT, width: 1, payload: encodeText(raw) });
    if (byteData && !noTensor) {
      const stride = bestStride(raw, opts.strides ?? []);
      if (boost !== 'max' && stride === 0) candidates.push({ method: METHOD_BROTLI, width: 1, payload: brotli(raw, BYTES_BROTLI_QUALITY) }); // 'max' has it already
      if (stride > 0) candidates.push({ method: METHOD_COLUMNS, width: 1, payload: encodeColumns(raw, stride, boost === 'max' ? BROTLI_QUALITY : BYTES_BROTLI_QUALITY) });
    }
    for (const c of candidates) if (c && c.payload.byteLength < best.payload.byteLength) best = c;
  }
  if (opts.force === METHOD_BROTLI) best = { method: METHOD_BROTLI, width: 1, payload: brotli(raw, BROTLI_QUALITY) };
  if (opts.force === METHOD_TEXT) best = { method: METHOD_TEXT, width: 1, payload: encodeText(raw) };
  if (opts.force === METHOD_COLUMNS) {
    const stride = opts.strides?.[0];
    if (stride !== undefined && stride >= 2 && stride <= raw.byteLength) best = { method: METHOD_COLUMNS, width: 1, payload: encodeColumns(raw, stride, BROTLI_QUALITY) };
  }
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
    case METHOD_BROTLI:
      return unbrotli(payload, rawLength);
    case METHOD_TEXT:
      return decodeText(payload, rawLength);
    case METHOD_COLUMNS: {
      const r = new Reader(payload);
      const stride = r.varint();
      if (stride < 2 || stride > Math.min(rawLength, MAX_COLUMNS_STRIDE)) throw corrupt(`columns stride ${stride} is outside 2..${Math.min(rawLength, MAX_COLUMNS_STRIDE)}`);
      return untranspose(unbrotli(payload.subarray(r.pos), rawLength), stride);
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

function brotli(raw: Uint8Array, quality: number): Uint8Array {
  let lgwin = 16;
  while (lgwin < 24 && 2 ** lgwin < raw.byteLength) lgwin++;
  const b = brotliCompressSync(raw, {
    params: { [zlibConstants.BROTLI_PARAM_QUALITY]: quality, [zlibConstants.BROTLI_PARAM_LGWIN]: lgwin, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: raw.byteLength },
  });
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Rows of `stride` bytes → columns: with n = floor(|B| / stride), output byte k·n + i = B[i·stride + k];
 * the last |B| mod stride bytes follow unchanged (splitPlanes of spec §5 with w = stride).
 */
export function transpose(b: Uint8Array, stride: number): Uint8Array {
  const n = Math.floor(b.byteLength / stride);
  const out = new Uint8Array(b.byteLength);
  for (let k = 0; k < stride; k++) {
    const base = k * n;
    for (let i = 0, j = k; i < n; i++, j += stride) out[base + i] = b[j]!;
  }
  out.set(b.subarray(n * stride), n * stride);
  return out;
}

export function untranspose(t: Uint8Array, stride: number): Uint8Array {
  const n = Math.floor(t.byteLength / stride);
  const out = new Uint8Array(t.byteLength);
  for (let k = 0; k < stride; k++) {
    const base = k * n;
    for (let i = 0, j = k; i < n; i++, j += stride) out[j] = t[base + i]!;
  }
  out.set(t.subarray(n * stride), n * stride);
  return out;
}

/** COLUMNS payload: `varint stride`, then a brotli stream of transpose(raw, stride). */
function encodeColumns(raw: Uint8Array, stride: number, quality: number): Uint8Array {
  const w = new ByteWriter();
  w.varint(stride);
  return concat([w.bytes(), brotli(transpose(raw, stride), quality)]);
}

/** Bytes sampled by looksLikeText. */
const TEXT_SAMPLE_BYTES = 64 * 1024;
/**
 * True if the first TEXT_SAMPLE_BYTES hold no byte below 0x09 and at least 95 % printable ASCII,
 * TAB/LF/CR or UTF-8 (≥ 0x80): JSON, YAML, vocabularies — where brotli and TEXT beat zstd.
 */
export function looksLikeText(raw: Uint8Array): boolean {
  const n = Math.min(raw.byteLength, TEXT_SAMPLE_BYTES);
  let odd = 0;
  for (let i = 0; i < n; i++) {
    const b = raw[i]!;
    if (b < 0x09) return false;
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f) odd++;
  }
  return odd <= n * 0.05;
}

/** Order-1 entropy (bits) of a byte sequence: how well a context model like brotli's can do on it. */
function order1Bits(b: Uint8Array): number {
  const pair = new Uint32Array(65536);
  const ctx = new Uint32Array(256);
  for (let i = 1; i < b.byteLength; i++) {
    pair[(b[i - 1]! << 8) | b[i]!]!++;
    ctx[b[i - 1]!]!++;
  }
  let bits = 0;
  for (let i = 0; i < 65536; i++) {
    const c = pair[i]!;
    if (c) bits -= c * Math.log2(c / ctx[i >> 8]!);
  }
  return bits;
}

/**
 * The row length whose transposition looks best to an order-1 context model, or 0 if none beats
 * the bytes as they are (rows of a tensor's last dimension often correlate better down a column).
 */
function bestStride(raw: Uint8Array, strides: number[]): number {
  const usable = strides.filter((s) => Number.isInteger(s) && s >= 2 && s <= MAX_COLUMNS_STRIDE && s * 2 <= raw.byteLength);
  if (!usable.length) return 0;
  let best = 0;
  let bestBits = order1Bits(raw) * COLUMNS_MIN_GAIN;
  for (const s of new Set(usable)) {
    const bits = order1Bits(transpose(raw, s));
    if (bits < bestBits) [best, bestBits] = [s, bits];
  }
  return best;
}
/** A transposition must promise at least this fraction of the plain bytes' order-1 entropy. */
const COLUMNS_MIN_GAIN = 0.998;

function unbrotli(payload: Uint8Array, rawLength: number): Uint8Array {
  let out: Buffer;
  try {
    out = brotliDecompressSync(payload, { maxOutputLength: Math.max(1, rawLength) });
  } catch (e) {
    throw corrupt(`brotli data is corrupt or too long: ${(e as Error).message}`);
  }
  if (out.byteLength !== rawLength) throw corrupt(`brotli data decoded to ${out.byteLength} bytes, expected ${rawLength}`);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
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

/** Growable little-endian byte writer (LEB128 varints), shared by the chunk, text and header encoders. */
export class ByteWriter {
  private buf: Uint8Array;
  private n = 0;
  constructor(cap = 64) {
    this.buf = new Uint8Array(Math.max(16, cap));
  }
  private ensure(k: number): void {
    if (this.n + k <= this.buf.byteLength) return;
    const b = new Uint8Array(Math.max(this.buf.byteLength * 2, this.n + k));
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.n++] = v;
  }
  u16(v: number): void {
    this.u8(v & 0xff);
    this.u8((v >>> 8) & 0xff);
  }
  u32(v: number): void {
    this.u16(v & 0xffff);
    this.u16((v >>> 16) & 0xffff);
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
  /** append `src[start, end)` */
  append(src: Uint8Array, start = 0, end = src.byteLength): void {
    this.ensure(end - start);
    this.buf.set(src.subarray(start, end), this.n);
    this.n += end - start;
  }
  /** the bytes written so far, without a copy (valid until the next write) */
  view(): Uint8Array {
    return this.buf.subarray(0, this.n);
  }
  /** a copy of the bytes written */
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
