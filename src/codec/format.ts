/**
 * The .mcz container header (docs/spec/mcz.md §3–4): magic, version, original size and sha256, the
 * chunk table (original range, method, element width, packed length, sha256 of the raw chunk) and
 * a compressed JSON layout block (tensor names, dtypes, shapes and ranges). Version 2 (§3.2, what
 * the packer writes) stores the same in varints, drops what is implied (chunk offsets, the sha256
 * of a file's only chunk, an empty layout) and closes with a CRC-32; version 1 is still read.
 * Pure encode/decode over Uint8Array with every check its own error code; no file I/O and no chunk
 * decoding here.
 */
import { createHash } from 'node:crypto';
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import { crc32 } from '../util/crc32.ts';
import { McdnError } from '../errors.ts';
import { ByteWriter, MAX_CHUNK_BYTES, METHOD_REF, type ChunkMethod } from './chunk.ts';
import { MAX_PLANE_WIDTH } from './planes.ts';
import { zstdCompress, zstdDecompress } from './zstd.ts';

export const MCZ_MAGIC = Uint8Array.of(0x89, 0x4d, 0x43, 0x5a, 0x0d, 0x0a, 0x1a, 0x0a); // "\x89MCZ\r\n\x1a\n"
/** The version the packer writes (decoders read 1 and 2). */
export const MCZ_VERSION = 2;
export const MCZ_VERSION_1 = 1;
/** magic(8) version(2) flags(2) headerLength(4) originalSize(8) sha256(32) chunkCount(4) layoutLength(4) layoutRawLength(4) reserved(4) */
export const MCZ_FIXED_HEADER_BYTES = 72;
/** offset(8) rawLength(4) packedLength(4) method(1) width(1) reserved(2) payloadCrc32(4) sha256(32) */
export const MCZ_CHUNK_ENTRY_BYTES = 56;
export const MCZ_HEADER_HASH_BYTES = 32;
/** Bytes a reader needs before it knows the header length. */
export const MCZ_PREAMBLE_BYTES = 16;
/** Named limits a decoder enforces before allocating anything. */
export const MCZ_MAX_HEADER_BYTES = 64 * 1024 * 1024;
export const MCZ_MAX_LAYOUT_JSON_BYTES = 32 * 1024 * 1024;
export const MCZ_MAX_METHOD = 7;
/** v2: layout kinds (§3.2) */
export const MCZ_LAYOUT_NONE = 0;
export const MCZ_LAYOUT_ZSTD = 1;
export const MCZ_LAYOUT_BROTLI = 2;
/** v2: the header closes with a CRC-32 of everything before it */
export const MCZ_V2_HEADER_CRC_BYTES = 4;
/** v2: smallest possible header: preamble(16) size(1) sha256(32) count(1) layoutKind(1) formatLength(1) crc(4) */
export const MCZ_V2_MIN_HEADER_BYTES = 56;
/** v2: a layout JSON up to this size is also tried with brotli (quality 11), the smaller block kept */
const LAYOUT_BROTLI_MAX_JSON = 1024 * 1024;

export interface MczChunkEntry {
  /** offset of the chunk in the original file */
  offset: number;
  rawLength: number;
  packedLength: number;
  method: ChunkMethod;
  width: number;
  /** CRC-32 (ISO-HDLC, as zlib/gzip) of the payload bytes: catches any damage before decoding */
  crc32: number;
  /** sha256 of the raw (original) chunk bytes, lowercase hex — the chunk's content address */
  sha256: string;
  /** for REF chunks (decoded headers only): index of the earlier chunk it repeats */
  ref?: number;
}

export interface MczTensor {
  name: string;
  dtype: string;
  shape: number[];
  offset: number;
  length: number;
  /** element width used for plane grouping */
  width: number;
}

export interface MczLayout {
  /** model format of the original file ('onnx', 'safetensors', …, or 'unknown') */
  format: string;
  tensors: MczTensor[];
}

export interface MczHeader {
  version: number;
  originalSize: number;
  /** sha256 of the whole original file, lowercase hex */
  sha256: string;
  chunks: MczChunkEntry[];
  layout: MczLayout;
  /** total header bytes; chunk payloads follow immediately in chunk order */
  headerLength: number;
}

function fail(code: string, message: string, details?: Record<string, unknown>): McdnError {
  return new McdnError(code, code === 'MCZ_HEADER_CORRUPT' ? 'integrity' : 'input', message, { details: details ?? {} });
}

/** The compressed layout block (computed once, before chunk payloads exist). */
export function encodeLayout(layout: MczLayout): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(layout));
  if (json.byteLength > MCZ_MAX_LAYOUT_JSON_BYTES) throw fail('MCZ_LAYOUT_TOO_LARGE', `layout JSON of ${json.byteLength} bytes exceeds ${MCZ_MAX_LAYOUT_JSON_BYTES}`);
  return zstdCompress(json, 19); // small (tensor names): the strongest level costs milliseconds
}

/** Version-1 header length. */
export function headerLengthFor(chunkCount: number, layoutBlockLength: number): number {
  return MCZ_FIXED_HEADER_BYTES + chunkCount * MCZ_CHUNK_ENTRY_BYTES + layoutBlockLength + MCZ_HEADER_HASH_BYTES;
}

/** Serialize a version-1 header (§3; golden vectors, tests). `layoutBlock` is encodeLayout(layout) and the layout's raw JSON length. */
export function encodeHeader(h: Omit<MczHeader, 'headerLength' | 'version' | 'layout'>, layoutBlock: Uint8Array, layoutRawLength: number): Uint8Array {
  const len = headerLengthFor(h.chunks.length, layoutBlock.byteLength);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  out.set(MCZ_MAGIC, 0);
  dv.setUint16(8, MCZ_VERSION_1, true);
  dv.setUint16(10, 0, true);
  dv.setUint32(12, len, true);
  dv.setBigUint64(16, BigInt(h.originalSize), true);
  out.set(hexBytes(h.sha256), 24);
  dv.setUint32(56, h.chunks.length, true);
  dv.setUint32(60, layoutBlock.byteLength, true);
  dv.setUint32(64, layoutRawLength, true);
  let p = MCZ_FIXED_HEADER_BYTES;
  for (const c of h.chunks) {
    dv.setBigUint64(p, BigInt(c.offset), true);
    dv.setUint32(p + 8, c.rawLength, true);
    dv.setUint32(p + 12, c.packedLength, true);
    out[p + 16] = c.method;
    out[p + 17] = c.width;
    dv.setUint32(p + 20, c.crc32 >>> 0, true);
    out.set(hexBytes(c.sha256), p + 24);
    p += MCZ_CHUNK_ENTRY_BYTES;
  }
  out.set(layoutBlock, p);
  p += layoutBlock.byteLength;
  out.set(createHash('sha256').update(out.subarray(0, p)).digest(), p);
  return out;
}

/** Validate the first 16 bytes and return the total header length. */
export function readHeaderLength(pre: Uint8Array): number {
  if (pre.byteLength < MCZ_PREAMBLE_BYTES) throw fail('MCZ_TRUNCATED', `file ends inside the header (${pre.byteLength} bytes)`);
  for (let i = 0; i < MCZ_MAGIC.length; i++) {
    if (pre[i] !== MCZ_MAGIC[i]) throw fail('MCZ_BAD_MAGIC', 'not an .mcz file (bad magic bytes)');
  }
  const dv = new DataView(pre.buffer, pre.byteOffset, pre.byteLength);
  const version = dv.getUint16(8, true);
  if (version !== MCZ_VERSION_1 && version !== MCZ_VERSION) throw fail('MCZ_UNSUPPORTED_VERSION', `.mcz version ${version} is not supported (this build reads versions 1 and 2)`, { version });
  const flags = dv.getUint16(10, true);
  if (flags !== 0) throw fail('MCZ_BAD_FLAGS', `.mcz header flags 0x${flags.toString(16)} are not supported`, { flags });
  const len = dv.getUint32(12, true);
  if (len < (version === MCZ_VERSION_1 ? MCZ_FIXED_HEADER_BYTES + MCZ_HEADER_HASH_BYTES : MCZ_V2_MIN_HEADER_BYTES)) throw fail('MCZ_HEADER_CORRUPT', `header length ${len} is too small`);
  if (len > MCZ_MAX_HEADER_BYTES) throw fail('MCZ_HEADER_TOO_LARGE', `header length ${len} exceeds ${MCZ_MAX_HEADER_BYTES}`, { len });
  return len;
}

/** Parse and fully validate a header of either version (`bytes` holds at least the whole header). */
export function decodeHeader(bytes: Uint8Array): MczHeader {
  const headerLength = readHeaderLength(bytes);
  if (bytes.byteLength < headerLength) throw fail('MCZ_TRUNCATED', `file ends inside the header (${bytes.byteLength} of ${headerLength} bytes)`);
  if (bytes[8] === MCZ_VERSION && bytes[9] === 0) return decodeHeaderV2(bytes.subarray(0, headerLength));
  const hb = bytes.subarray(0, headerLength);
  const body = hb.subarray(0, headerLength - MCZ_HEADER_HASH_BYTES);
  const want = hb.subarray(headerLength - MCZ_HEADER_HASH_BYTES);
  const got = createHash('sha256').update(body).digest();
  if (!got.equals(want)) throw fail('MCZ_HEADER_CORRUPT', 'header checksum mismatch (the file is corrupt)');
  const dv = new DataView(hb.buffer, hb.byteOffset, hb.byteLength);
  const originalSize = safeU64(dv, 16, 'original size');
  const sha256 = bytesHex(hb.subarray(24, 56));
  const chunkCount = dv.getUint32(56, true);
  const layoutLength = dv.getUint32(60, true);
  const layoutRawLength = dv.getUint32(64, true);
  if (dv.getUint32(68, true) !== 0) throw fail('MCZ_BAD_RESERVED', 'reserved header field is not zero');
  if (headerLengthFor(chunkCount, layoutLength) !== headerLength) {
    throw fail('MCZ_BAD_CHUNK_TABLE', `header length ${headerLength} does not match ${chunkCount} chunks and a ${layoutLength}-byte layout`);
  }
  const chunks: MczChunkEntry[] = [];
  let p = MCZ_FIXED_HEADER_BYTES;
  let expectOffset = 0;
  for (let i = 0; i < chunkCount; i++, p += MCZ_CHUNK_ENTRY_BYTES) {
    const offset = safeU64(dv, p, `chunk ${i} offset`);
    const rawLength = dv.getUint32(p + 8, true);
    const packedLength = dv.getUint32(p + 12, true);
    const method = hb[p + 16]!;
    const width = hb[p + 17]!;
    if (offset !== expectOffset) throw fail('MCZ_BAD_CHUNK_TABLE', `chunk ${i} starts at ${offset}, expected ${expectOffset} (chunks must be contiguous)`, { chunk: i });
    checkEntry(i, rawLength, packedLength, method, width);
    if (hb[p + 18] !== 0 || hb[p + 19] !== 0) throw fail('MCZ_BAD_RESERVED', `chunk ${i} reserved bytes are not zero`, { chunk: i });
    chunks.push({ offset, rawLength, packedLength, method: method as ChunkMethod, width, crc32: dv.getUint32(p + 20, true), sha256: bytesHex(hb.subarray(p + 24, p + 56)) });
    expectOffset = offset + rawLength;
  }
  resolveRefs(chunks);
  if (expectOffset !== originalSize) throw fail('MCZ_BAD_CHUNK_TABLE', `chunks cover ${expectOffset} bytes, the original has ${originalSize}`);
  const layout = decodeLayout(hb.subarray(p, p + layoutLength), layoutRawLength, originalSize);
  return { version: MCZ_VERSION_1, originalSize, sha256, chunks, layout, headerLength };
}

// ---------------------------------------------------------------------------------------------
// version 2 (spec §3.2)

/** The v2 layout section: kind byte, then the format name (no tensors) or a compressed JSON block. */
export function encodeLayoutV2(layout: MczLayout): Uint8Array {
  const w = new ByteWriter();
  if (layout.tensors.length === 0) {
    const name = new TextEncoder().encode(layout.format);
    w.u8(MCZ_LAYOUT_NONE);
    w.varint(name.byteLength);
    w.append(name);
    return w.bytes();
  }
  const json = new TextEncoder().encode(JSON.stringify(layout));
  let block = encodeLayout(layout);
  let kind = MCZ_LAYOUT_ZSTD;
  if (json.byteLength <= LAYOUT_BROTLI_MAX_JSON) {
    const b = brotliCompressSync(json, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11, [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: json.byteLength } });
    if (b.byteLength < block.byteLength) [block, kind] = [new Uint8Array(b.buffer, b.byteOffset, b.byteLength), MCZ_LAYOUT_BROTLI];
  }
  w.u8(kind);
  w.varint(block.byteLength);
  w.varint(json.byteLength);
  w.append(block);
  return w.bytes();
}

/** v2 header length for chunks of these raw lengths (known before any payload is encoded). */
export function headerLengthV2(originalSize: number, rawLengths: readonly number[], layoutSection: Uint8Array): number {
  const perChunkHash = rawLengths.length > 1 ? 32 : 0;
  let n = MCZ_PREAMBLE_BYTES + varintLength(originalSize) + 32 + varintLength(rawLengths.length);
  for (const r of rawLengths) n += varintLength(r) + 4 + 1 + 1 + 4 + perChunkHash;
  return n + layoutSection.byteLength + MCZ_V2_HEADER_CRC_BYTES;
}

/** Serialize a version-2 header. `layoutSection` is encodeLayoutV2(layout). */
export function encodeHeaderV2(h: Omit<MczHeader, 'headerLength' | 'version' | 'layout'>, layoutSection: Uint8Array): Uint8Array {
  const len = headerLengthV2(h.originalSize, h.chunks.map((c) => c.rawLength), layoutSection);
  const w = new ByteWriter(len);
  w.append(MCZ_MAGIC);
  w.u16(MCZ_VERSION);
  w.u16(0);
  w.u32(len);
  w.varint(h.originalSize);
  w.append(hexBytes(h.sha256));
  w.varint(h.chunks.length);
  for (const c of h.chunks) {
    w.varint(c.rawLength);
    w.u32(c.packedLength);
    w.u8(c.method);
    w.u8(c.width);
    w.u32(c.crc32 >>> 0);
    if (h.chunks.length > 1) w.append(hexBytes(c.sha256));
  }
  w.append(layoutSection);
  w.u32(crc32(w.view()) >>> 0);
  const out = w.bytes();
  if (out.byteLength !== len) throw new Error(`v2 header is ${out.byteLength} bytes, computed ${len}`);
  return out;
}

function decodeHeaderV2(hb: Uint8Array): MczHeader {
  const headerLength = hb.byteLength;
  const dv = new DataView(hb.buffer, hb.byteOffset, hb.byteLength);
  const bodyEnd = headerLength - MCZ_V2_HEADER_CRC_BYTES;
  if (crc32(hb.subarray(0, bodyEnd)) >>> 0 !== dv.getUint32(bodyEnd, true)) throw fail('MCZ_HEADER_CORRUPT', 'header checksum mismatch (the file is corrupt)');
  const r = new In(hb.subarray(0, bodyEnd), MCZ_PREAMBLE_BYTES);
  const originalSize = r.varint('original size');
  const sha256 = bytesHex(r.take(32, 'file sha256'));
  const chunkCount = r.varint('chunk count');
  // each entry takes at least 11 bytes: a count the header cannot hold is rejected before allocating
  if (chunkCount > (bodyEnd - r.pos) / 11) throw fail('MCZ_BAD_CHUNK_TABLE', `header of ${headerLength} bytes cannot hold ${chunkCount} chunks`);
  const chunks: MczChunkEntry[] = [];
  let offset = 0;
  for (let i = 0; i < chunkCount; i++) {
    const rawLength = r.varint(`chunk ${i} raw length`);
    const packedLength = r.u32(`chunk ${i}`);
    const method = r.u8(`chunk ${i}`);
    const width = r.u8(`chunk ${i}`);
    const crc = r.u32(`chunk ${i}`);
    const chunkSha = chunkCount > 1 ? bytesHex(r.take(32, `chunk ${i} sha256`)) : sha256; // one chunk: the file's sha256
    checkEntry(i, rawLength, packedLength, method, width);
    chunks.push({ offset, rawLength, packedLength, method: method as ChunkMethod, width, crc32: crc, sha256: chunkSha });
    offset += rawLength;
  }
  resolveRefs(chunks);
  if (offset !== originalSize) throw fail('MCZ_BAD_CHUNK_TABLE', `chunks cover ${offset} bytes, the original has ${originalSize}`);
  const kind = r.u8('layout kind');
  let layout: MczLayout;
  if (kind === MCZ_LAYOUT_NONE) {
    const n = r.varint('format length');
    let format: string;
    try {
      format = new TextDecoder('utf-8', { fatal: true }).decode(r.take(n, 'format name'));
    } catch (e) {
      if (e instanceof McdnError) throw e;
      throw fail('MCZ_BAD_LAYOUT', 'format name is not UTF-8');
    }
    layout = { format, tensors: [] };
  } else if (kind === MCZ_LAYOUT_ZSTD || kind === MCZ_LAYOUT_BROTLI) {
    const blockLength = r.varint('layout length');
    const rawLength = r.varint('layout raw length');
    const block = r.take(blockLength, 'layout block');
    layout = decodeLayout(block, rawLength, originalSize, kind);
  } else {
    throw fail('MCZ_BAD_LAYOUT', `unknown layout kind ${kind}`);
  }
  if (r.pos !== bodyEnd) throw fail('MCZ_BAD_CHUNK_TABLE', `header has ${bodyEnd - r.pos} unexplained bytes before its checksum`);
  return { version: MCZ_VERSION, originalSize, sha256, chunks, layout, headerLength };
}

function checkEntry(i: number, rawLength: number, packedLength: number, method: number, width: number): void {
  if (rawLength === 0 || rawLength > MAX_CHUNK_BYTES) throw fail('MCZ_CHUNK_TOO_LARGE', `chunk ${i} has raw length ${rawLength} (allowed 1..${MAX_CHUNK_BYTES})`, { chunk: i });
  if (packedLength > rawLength || packedLength === 0) throw fail('MCZ_BAD_CHUNK_TABLE', `chunk ${i} has packed length ${packedLength} for ${rawLength} raw bytes`, { chunk: i });
  if (method > MCZ_MAX_METHOD) throw fail('MCZ_BAD_METHOD', `chunk ${i} uses unknown method ${method}`, { chunk: i });
  if (width < 1 || width > MAX_PLANE_WIDTH) throw fail('MCZ_BAD_WIDTH', `chunk ${i} has element width ${width}`, { chunk: i });
}

function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/** A bounds-checked reader for v2 headers: running past the end is MCZ_BAD_CHUNK_TABLE. */
class In {
  constructor(private readonly b: Uint8Array, public pos: number) {}
  private need(k: number, what: string): void {
    if (this.pos + k > this.b.byteLength) throw fail('MCZ_BAD_CHUNK_TABLE', `header ends inside ${what}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.b[this.pos++]!;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = (this.b[this.pos]! | (this.b[this.pos + 1]! << 8) | (this.b[this.pos + 2]! << 16) | (this.b[this.pos + 3]! << 24)) >>> 0;
    this.pos += 4;
    return v;
  }
  varint(what: string): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const x = this.u8(what);
      v += (x & 0x7f) * mul;
      if (x < 0x80) return v;
      mul *= 0x80;
    }
    throw fail('MCZ_BAD_CHUNK_TABLE', `${what}: varint longer than 8 bytes`);
  }
  take(k: number, what: string): Uint8Array {
    this.need(k, what);
    const v = this.b.subarray(this.pos, this.pos + k);
    this.pos += k;
    return v;
  }
}

/** Each REF chunk repeats the first earlier non-REF chunk with the same sha256 and length. */
export function resolveRefs(chunks: MczChunkEntry[]): void {
  const first = new Map<string, number>();
  chunks.forEach((c, i) => {
    if (c.method !== METHOD_REF) {
      if (!first.has(c.sha256)) first.set(c.sha256, i);
      return;
    }
    const j = first.get(c.sha256);
    if (j === undefined || chunks[j]!.rawLength !== c.rawLength) {
      throw fail('MCZ_BAD_REF', `chunk ${i} repeats a chunk that does not precede it`, { chunk: i });
    }
    c.ref = j;
  });
}

function decodeLayout(block: Uint8Array, rawLength: number, size: number, kind = MCZ_LAYOUT_ZSTD): MczLayout {
  if (rawLength > MCZ_MAX_LAYOUT_JSON_BYTES) throw fail('MCZ_LAYOUT_TOO_LARGE', `layout JSON of ${rawLength} bytes exceeds ${MCZ_MAX_LAYOUT_JSON_BYTES}`);
  let v: unknown;
  try {
    const json = kind === MCZ_LAYOUT_BROTLI ? unbrotliExact(block, rawLength) : zstdDecompress(block, rawLength);
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw fail('MCZ_BAD_LAYOUT', `layout block is unreadable: ${(e as Error).message}`);
  }
  const l = v as MczLayout;
  if (!l || typeof l !== 'object' || typeof l.format !== 'string' || !Array.isArray(l.tensors)) throw fail('MCZ_BAD_LAYOUT', 'layout block lacks format/tensors');
  for (const t of l.tensors) {
    const ok =
      t && typeof t.name === 'string' && typeof t.dtype === 'string' && Array.isArray(t.shape) &&
      Number.isSafeInteger(t.offset) && Number.isSafeInteger(t.length) && t.offset >= 0 && t.length >= 0 && t.offset + t.length <= size &&
      Number.isInteger(t.width) && t.width >= 1 && t.width <= MAX_PLANE_WIDTH;
    if (!ok) throw fail('MCZ_BAD_LAYOUT', `layout entry for tensor ${JSON.stringify((t as MczTensor)?.name)} is invalid`);
  }
  return l;
}

function unbrotliExact(block: Uint8Array, rawLength: number): Uint8Array {
  const out = brotliDecompressSync(block, { maxOutputLength: Math.max(1, rawLength) });
  if (out.byteLength !== rawLength) throw new Error(`decoded to ${out.byteLength} bytes, expected ${rawLength}`);
  return out;
}

/** Where chunk i's payload starts in the .mcz file. */
export function payloadOffsets(h: MczHeader): number[] {
  const out: number[] = [];
  let p = h.headerLength;
  for (const c of h.chunks) {
    out.push(p);
    p += c.packedLength;
  }
  return out;
}

export function packedFileSize(h: MczHeader): number {
  return h.chunks.reduce((s, c) => s + c.packedLength, h.headerLength);
}

function safeU64(dv: DataView, at: number, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw fail('MCZ_BAD_CHUNK_TABLE', `${what} ${v} is too large`);
  return Number(v);
}

export function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export function bytesHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
