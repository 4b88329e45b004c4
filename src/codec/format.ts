/**
 * The .mcz container header (docs/spec/mcz.md §3–4): magic, version, original size and sha256, the
 * chunk table (original range, method, element width, packed length, sha256 of the raw chunk) and
 * a zstd-compressed JSON layout block (tensor names, dtypes, shapes and ranges). Pure encode/decode
 * over Uint8Array with every check its own error code; no file I/O and no chunk decoding here.
 */
import { createHash } from 'node:crypto';
import { McdnError } from '../errors.ts';
import { MAX_CHUNK_BYTES, METHOD_REF, type ChunkMethod } from './chunk.ts';
import { MAX_PLANE_WIDTH } from './planes.ts';
import { zstdCompress, zstdDecompress } from './zstd.ts';

export const MCZ_MAGIC = Uint8Array.of(0x89, 0x4d, 0x43, 0x5a, 0x0d, 0x0a, 0x1a, 0x0a); // "\x89MCZ\r\n\x1a\n"
export const MCZ_VERSION = 1;
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
export const MCZ_MAX_METHOD = 5;

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

export function headerLengthFor(chunkCount: number, layoutBlockLength: number): number {
  return MCZ_FIXED_HEADER_BYTES + chunkCount * MCZ_CHUNK_ENTRY_BYTES + layoutBlockLength + MCZ_HEADER_HASH_BYTES;
}

/** Serialize a header. `layoutBlock` is encodeLayout(layout) and the layout's raw JSON length. */
export function encodeHeader(h: Omit<MczHeader, 'headerLength' | 'version' | 'layout'>, layoutBlock: Uint8Array, layoutRawLength: number): Uint8Array {
  const len = headerLengthFor(h.chunks.length, layoutBlock.byteLength);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  out.set(MCZ_MAGIC, 0);
  dv.setUint16(8, MCZ_VERSION, true);
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
  if (version !== MCZ_VERSION) throw fail('MCZ_UNSUPPORTED_VERSION', `.mcz version ${version} is not supported (this build reads version ${MCZ_VERSION})`, { version });
  const flags = dv.getUint16(10, true);
  if (flags !== 0) throw fail('MCZ_BAD_FLAGS', `.mcz header flags 0x${flags.toString(16)} are not supported`, { flags });
  const len = dv.getUint32(12, true);
  if (len < MCZ_FIXED_HEADER_BYTES + MCZ_HEADER_HASH_BYTES) throw fail('MCZ_HEADER_CORRUPT', `header length ${len} is too small`);
  if (len > MCZ_MAX_HEADER_BYTES) throw fail('MCZ_HEADER_TOO_LARGE', `header length ${len} exceeds ${MCZ_MAX_HEADER_BYTES}`, { len });
  return len;
}

/** Parse and fully validate a header (`bytes` holds at least the whole header). */
export function decodeHeader(bytes: Uint8Array): MczHeader {
  const headerLength = readHeaderLength(bytes);
  if (bytes.byteLength < headerLength) throw fail('MCZ_TRUNCATED', `file ends inside the header (${bytes.byteLength} of ${headerLength} bytes)`);
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
    if (rawLength === 0 || rawLength > MAX_CHUNK_BYTES) throw fail('MCZ_CHUNK_TOO_LARGE', `chunk ${i} has raw length ${rawLength} (allowed 1..${MAX_CHUNK_BYTES})`, { chunk: i });
    if (packedLength > rawLength || (packedLength === 0)) throw fail('MCZ_BAD_CHUNK_TABLE', `chunk ${i} has packed length ${packedLength} for ${rawLength} raw bytes`, { chunk: i });
    if (method > MCZ_MAX_METHOD) throw fail('MCZ_BAD_METHOD', `chunk ${i} uses unknown method ${method}`, { chunk: i });
    if (width < 1 || width > MAX_PLANE_WIDTH) throw fail('MCZ_BAD_WIDTH', `chunk ${i} has element width ${width}`, { chunk: i });
    if (hb[p + 18] !== 0 || hb[p + 19] !== 0) throw fail('MCZ_BAD_RESERVED', `chunk ${i} reserved bytes are not zero`, { chunk: i });
    chunks.push({ offset, rawLength, packedLength, method: method as ChunkMethod, width, crc32: dv.getUint32(p + 20, true), sha256: bytesHex(hb.subarray(p + 24, p + 56)) });
    expectOffset = offset + rawLength;
  }
  resolveRefs(chunks);
  if (expectOffset !== originalSize) throw fail('MCZ_BAD_CHUNK_TABLE', `chunks cover ${expectOffset} bytes, the original has ${originalSize}`);
  const layout = decodeLayout(hb.subarray(p, p + layoutLength), layoutRawLength, originalSize);
  return { version: MCZ_VERSION, originalSize, sha256, chunks, layout, headerLength };
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

function decodeLayout(block: Uint8Array, rawLength: number, size: number): MczLayout {
  if (rawLength > MCZ_MAX_LAYOUT_JSON_BYTES) throw fail('MCZ_LAYOUT_TOO_LARGE', `layout JSON of ${rawLength} bytes exceeds ${MCZ_MAX_LAYOUT_JSON_BYTES}`);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(zstdDecompress(block, rawLength)));
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
