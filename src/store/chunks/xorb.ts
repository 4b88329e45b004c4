/**
 * Xorb: a container blob holding many compressed chunks, so object counts stay sane (one blob per
 * ~1024 chunks / 64 MiB). Pure encode/decode of the container and of single chunk payloads; the
 * spec with its constants is docs/spec/xorb.md. A chunk is named by the sha256 of its RAW bytes;
 * its payload is compressed on its own (stored, zstd, or byte planes + zstd, whichever is
 * smallest) so a client can fetch and decode any one chunk with a ranged read.
 */
import { McdnError } from '../../errors.ts';
import { joinPlanes, splitPlanes, zstdCompress, zstdDecompress } from '../../codec/index.ts';
import { sha256Hex } from '../../util/hash.ts';

export const XORB_MAGIC = 0x4258434d; // "MCXB" little-endian
export const XORB_VERSION = 1;
export const XORB_HEADER_BYTES = 12;
export const XORB_ENTRY_BYTES = 44;
export const XORB_MAX_CHUNKS = 1 << 16;
export const CHUNK_MAX_RAW = 16 << 20;

export const enum ChunkMethod {
  Stored = 0,
  Zstd = 1,
  PlanesZstd = 2,
}

export interface XorbEntry {
  hash: string;
  rawLength: number;
  packedLength: number;
  method: ChunkMethod;
  /** element width used for byte planes (1 when not grouped) */
  width: number;
  /** byte offset of the payload inside the xorb (derived) */
  offset: number;
}

function xorbError(code: string, message: string): McdnError {
  return new McdnError(code, 'integrity', message);
}

/** Compress one chunk: the smallest of stored, zstd, and (width > 1) byte planes + zstd. */
export function encodeChunkPayload(raw: Uint8Array, width: number, level = 3): { method: ChunkMethod; payload: Uint8Array; width: number } {
  let best: { method: ChunkMethod; payload: Uint8Array; width: number } = { method: ChunkMethod.Stored, payload: raw, width: 1 };
  const z = zstdCompress(raw, level);
  if (z.length < best.payload.length) best = { method: ChunkMethod.Zstd, payload: z, width: 1 };
  if (width > 1 && width <= 16 && raw.length % width === 0) {
    const p = zstdCompress(splitPlanes(raw, width), level);
    if (p.length < best.payload.length) best = { method: ChunkMethod.PlanesZstd, payload: p, width };
  }
  return best;
}

/** Decode one chunk payload and check it against its name. */
export function decodeChunkPayload(e: Pick<XorbEntry, 'hash' | 'rawLength' | 'method' | 'width'>, payload: Uint8Array): Uint8Array {
  let raw: Uint8Array;
  try {
    switch (e.method) {
      case ChunkMethod.Stored:
        raw = payload;
        break;
      case ChunkMethod.Zstd:
        raw = zstdDecompress(payload, e.rawLength);
        break;
      case ChunkMethod.PlanesZstd:
        raw = joinPlanes(zstdDecompress(payload, e.rawLength), e.width);
        break;
      default:
        throw xorbError('CHUNK_BAD_METHOD', `chunk ${e.hash.slice(0, 12)}: unknown method ${e.method as number}`);
    }
  } catch (err) {
    if (err instanceof McdnError && err.code === 'CHUNK_BAD_METHOD') throw err;
    throw xorbError('CHUNK_CORRUPT', `chunk ${e.hash.slice(0, 12)}: payload does not decode (${(err as Error).message})`);
  }
  if (raw.length !== e.rawLength) throw xorbError('CHUNK_CORRUPT', `chunk ${e.hash.slice(0, 12)}: decoded ${raw.length} bytes, expected ${e.rawLength}`);
  if (sha256Hex(raw) !== e.hash) throw xorbError('CHUNK_HASH_MISMATCH', `chunk ${e.hash.slice(0, 12)}: content does not match its hash`);
  return raw;
}

/** Build a xorb from already-encoded chunks (order kept). */
export function encodeXorb(chunks: { hash: string; rawLength: number; method: ChunkMethod; width: number; payload: Uint8Array }[]): { bytes: Uint8Array; entries: XorbEntry[] } {
  if (chunks.length > XORB_MAX_CHUNKS) throw new McdnError('XORB_TOO_MANY_CHUNKS', 'internal', `xorb: ${chunks.length} chunks > ${XORB_MAX_CHUNKS}`);
  const headerLen = XORB_HEADER_BYTES + XORB_ENTRY_BYTES * chunks.length;
  const total = headerLen + chunks.reduce((s, c) => s + c.payload.length, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, XORB_MAGIC, true);
  out[4] = XORB_VERSION;
  dv.setUint32(8, chunks.length, true);
  const entries: XorbEntry[] = [];
  let off = headerLen;
  chunks.forEach((c, i) => {
    const base = XORB_HEADER_BYTES + i * XORB_ENTRY_BYTES;
    out.set(Buffer.from(c.hash, 'hex'), base);
    dv.setUint32(base + 32, c.rawLength, true);
    dv.setUint32(base + 36, c.payload.length, true);
    out[base + 40] = c.method;
    out[base + 41] = c.width;
    out.set(c.payload, off);
    entries.push({ hash: c.hash, rawLength: c.rawLength, packedLength: c.payload.length, method: c.method, width: c.width, offset: off });
    off += c.payload.length;
  });
  return { bytes: out, entries };
}

/** Parse a xorb's header and entry table (payloads are not decoded). */
export function decodeXorbIndex(bytes: Uint8Array): XorbEntry[] {
  if (bytes.length < XORB_HEADER_BYTES) throw xorbError('XORB_TRUNCATED', `xorb: ${bytes.length} bytes is shorter than its header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== XORB_MAGIC) throw xorbError('XORB_BAD_MAGIC', 'xorb: bad magic (not a modelcdn xorb)');
  if (bytes[4] !== XORB_VERSION) throw xorbError('XORB_BAD_VERSION', `xorb: unsupported version ${bytes[4]}`);
  const count = dv.getUint32(8, true);
  if (count > XORB_MAX_CHUNKS) throw xorbError('XORB_TOO_MANY_CHUNKS', `xorb: ${count} chunks > ${XORB_MAX_CHUNKS}`);
  const headerLen = XORB_HEADER_BYTES + XORB_ENTRY_BYTES * count;
  if (bytes.length < headerLen) throw xorbError('XORB_TRUNCATED', 'xorb: truncated entry table');
  const entries: XorbEntry[] = [];
  let off = headerLen;
  for (let i = 0; i < count; i++) {
    const base = XORB_HEADER_BYTES + i * XORB_ENTRY_BYTES;
    const rawLength = dv.getUint32(base + 32, true);
    const packedLength = dv.getUint32(base + 36, true);
    const method = bytes[base + 40]! as ChunkMethod;
    const width = bytes[base + 41]!;
    if (rawLength > CHUNK_MAX_RAW) throw xorbError('XORB_BAD_ENTRY', `xorb: chunk ${i} raw length ${rawLength} > ${CHUNK_MAX_RAW}`);
    if (width < 1 || width > 16) throw xorbError('XORB_BAD_ENTRY', `xorb: chunk ${i} has element width ${width}`);
    entries.push({ hash: Buffer.from(bytes.subarray(base, base + 32)).toString('hex'), rawLength, packedLength, method, width, offset: off });
    off += packedLength;
  }
  if (off !== bytes.length) throw xorbError('XORB_TRUNCATED', `xorb: payloads end at ${off}, blob has ${bytes.length} bytes`);
  return entries;
}

/** Decode every chunk of a xorb (verifying each), e.g. for compaction or scrubbing. */
export function decodeXorb(bytes: Uint8Array): { entry: XorbEntry; raw: Uint8Array }[] {
  return decodeXorbIndex(bytes).map((entry) => ({ entry, raw: decodeChunkPayload(entry, bytes.subarray(entry.offset, entry.offset + entry.packedLength)) }));
}
