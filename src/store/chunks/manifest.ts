/**
 * Chunk manifests: a file as an ordered list of references to content-addressed chunks, each with
 * where its compressed payload lives (xorb blob, offset, length, method). Rebuilding the file is
 * concatenating the referenced byte ranges of the decoded chunks. Pure: build, serialize, validate.
 * Spec: docs/spec/chunk-manifest.md. References never point at other manifests, so reference
 * cycles cannot be expressed; every index and range is bounds-checked on parse.
 */
import { McdnError } from '../../errors.ts';
import { isSha256Hex } from '../../util/hash.ts';
import { CHUNK_MAX_RAW, type ChunkMethod } from './xorb.ts';

export const CHUNK_MANIFEST_SCHEMA = 'modelcdn.chunks/1';
export const MAX_MANIFEST_CHUNKS = 1 << 22;

export interface ChunkLocation {
  hash: string;
  rawLength: number;
  xorb: string;
  offset: number;
  packedLength: number;
  method: ChunkMethod;
  width: number;
}

/** A byte range of one chunk, in file order. */
export interface ChunkRef {
  chunk: number;
  start: number;
  length: number;
}

export interface ChunkManifest {
  schema: typeof CHUNK_MANIFEST_SCHEMA;
  size: number;
  sha256: string;
  chunks: ChunkLocation[];
  refs: ChunkRef[];
}

/** Compact JSON form: arrays instead of objects (a 1 GB model has ~16k chunks). */
interface WireManifest {
  schema: string;
  size: number;
  sha256: string;
  xorbs: string[];
  /** [hash, rawLength, xorbIndex, offset, packedLength, method, width] */
  chunks: [string, number, number, number, number, number, number][];
  /** [chunkIndex, start, length]; start/length may be omitted for a whole chunk */
  refs: ([number] | [number, number, number])[];
}

function bad(code: string, message: string): McdnError {
  return new McdnError(code, 'integrity', `chunk manifest: ${message}`);
}

export function serializeChunkManifest(m: ChunkManifest): string {
  const xorbs: string[] = [];
  const xi = new Map<string, number>();
  const chunks = m.chunks.map((c) => {
    let i = xi.get(c.xorb);
    if (i === undefined) {
      i = xorbs.length;
      xorbs.push(c.xorb);
      xi.set(c.xorb, i);
    }
    return [c.hash, c.rawLength, i, c.offset, c.packedLength, c.method, c.width] as WireManifest['chunks'][number];
  });
  const refs = m.refs.map((r) => (r.start === 0 && r.length === m.chunks[r.chunk]!.rawLength ? [r.chunk] : [r.chunk, r.start, r.length]) as WireManifest['refs'][number]);
  return JSON.stringify({ schema: m.schema, size: m.size, sha256: m.sha256, xorbs, chunks, refs } satisfies WireManifest);
}

const isUint = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Parse and validate; every failed check has its own code. */
export function parseChunkManifest(text: string): ChunkManifest {
  let w: WireManifest;
  try {
    w = JSON.parse(text) as WireManifest;
  } catch {
    throw bad('MANIFEST_NOT_JSON', 'not valid JSON');
  }
  if (!w || typeof w !== 'object' || w.schema !== CHUNK_MANIFEST_SCHEMA) throw bad('MANIFEST_BAD_SCHEMA', `schema must be ${CHUNK_MANIFEST_SCHEMA}`);
  if (!isUint(w.size)) throw bad('MANIFEST_BAD_FIELD', 'size must be a non-negative integer');
  if (typeof w.sha256 !== 'string' || !isSha256Hex(w.sha256)) throw bad('MANIFEST_BAD_FIELD', 'sha256 must be a sha256 hex digest');
  if (!Array.isArray(w.xorbs) || !w.xorbs.every((x) => typeof x === 'string' && isSha256Hex(x))) throw bad('MANIFEST_BAD_FIELD', 'xorbs must be sha256 hex digests');
  if (!Array.isArray(w.chunks) || !Array.isArray(w.refs)) throw bad('MANIFEST_BAD_FIELD', 'chunks and refs must be arrays');
  if (w.chunks.length > MAX_MANIFEST_CHUNKS || w.refs.length > MAX_MANIFEST_CHUNKS) throw bad('MANIFEST_TOO_LARGE', `more than ${MAX_MANIFEST_CHUNKS} chunks`);
  const chunks: ChunkLocation[] = w.chunks.map((c, i) => {
    if (!Array.isArray(c) || c.length !== 7) throw bad('MANIFEST_BAD_CHUNK', `chunk ${i} is malformed`);
    const [hash, rawLength, xorb, offset, packedLength, method, width] = c;
    if (typeof hash !== 'string' || !isSha256Hex(hash)) throw bad('MANIFEST_BAD_CHUNK', `chunk ${i} hash is not a sha256 hex digest`);
    if (!isUint(rawLength) || rawLength > CHUNK_MAX_RAW) throw bad('MANIFEST_BAD_CHUNK', `chunk ${i} raw length out of range`);
    if (!isUint(xorb) || xorb >= w.xorbs.length) throw bad('MANIFEST_BAD_REF', `chunk ${i} names xorb ${xorb}, manifest has ${w.xorbs.length}`);
    if (!isUint(offset) || !isUint(packedLength)) throw bad('MANIFEST_BAD_CHUNK', `chunk ${i} offset/length out of range`);
    if (!isUint(method) || method > 2 || !isUint(width) || width < 1 || width > 16) throw bad('MANIFEST_BAD_CHUNK', `chunk ${i} method/width out of range`);
    return { hash, rawLength, xorb: w.xorbs[xorb]!, offset, packedLength, method: method as ChunkMethod, width };
  });
  let total = 0;
  const refs: ChunkRef[] = w.refs.map((r, i) => {
    if (!Array.isArray(r) || (r.length !== 1 && r.length !== 3)) throw bad('MANIFEST_BAD_REF', `ref ${i} is malformed`);
    const chunk = r[0];
    if (!isUint(chunk) || chunk >= chunks.length) throw bad('MANIFEST_BAD_REF', `ref ${i} names chunk ${String(chunk)}, manifest has ${chunks.length}`);
    const raw = chunks[chunk]!.rawLength;
    const start = r.length === 3 ? r[1] : 0;
    const length = r.length === 3 ? r[2] : raw;
    if (!isUint(start) || !isUint(length) || start + length > raw) throw bad('MANIFEST_BAD_REF', `ref ${i} range [${String(start)}, +${String(length)}) is outside chunk of ${raw} bytes`);
    total += length;
    return { chunk, start, length };
  });
  if (total !== w.size) throw bad('MANIFEST_SIZE_MISMATCH', `refs cover ${total} bytes, size says ${w.size}`);
  return { schema: CHUNK_MANIFEST_SCHEMA, size: w.size, sha256: w.sha256, chunks, refs };
}

/** Bytes of distinct chunks a holder of `have` still needs (raw and packed). */
export function missingChunks(m: ChunkManifest, have: (hash: string) => boolean): { chunks: ChunkLocation[]; rawBytes: number; packedBytes: number } {
  const seen = new Set<string>();
  const out: ChunkLocation[] = [];
  let rawBytes = 0;
  let packedBytes = 0;
  for (const c of m.chunks) {
    if (seen.has(c.hash)) continue;
    seen.add(c.hash);
    if (have(c.hash)) continue;
    out.push(c);
    rawBytes += c.rawLength;
    packedBytes += c.packedLength;
  }
  return { chunks: out, rawBytes, packedBytes };
}
