/**
 * The unit of work the pack/unpack pipelines hand to worker threads (or run inline for small
 * files): encode a raw chunk and hash it; decode a payload and verify it against its sha256.
 * Pure CPU work over Uint8Array; no file I/O.
 */
import { createHash } from 'node:crypto';
import { crc32 } from '../util/crc32.ts';
import { McdnError } from '../errors.ts';
import { decodeChunk, decodeRefPayload, encodeChunk, encodeRefPayload, METHOD_REF, type ChunkMethod, type EncodeChunkOptions, type EncodedChunk } from './chunk.ts';

export interface EncodeJob {
  op: 'encode';
  raw: Uint8Array;
  opts: EncodeChunkOptions;
}
export interface DecodeJob {
  op: 'decode';
  payload: Uint8Array;
  method: ChunkMethod;
  width: number;
  rawLength: number;
  sha256: string;
  /** CRC-32 of the payload */
  crc32: number;
  /** chunk index, for error messages */
  index: number;
  /**
   * false skips the chunk's sha256 (the CRC-32 and length checks still run): only for callers that
   * hash the whole decoded file against the header's sha256 before anyone sees the output
   */
  verifyHash?: boolean;
}
export type Job = EncodeJob | DecodeJob;
export type EncodeResult = EncodedChunk & { sha256: string; rawLength: number; crc32: number };

export function sha256Of(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

export function runEncode(job: EncodeJob): EncodeResult {
  const enc = encodeChunk(job.raw, job.opts);
  return { ...enc, sha256: sha256Of(job.raw), rawLength: job.raw.byteLength, crc32: crc32(enc.payload) >>> 0 };
}

/** Decode a chunk and check its sha256; errors name the chunk. */
export function runDecode(job: DecodeJob): Uint8Array {
  if (crc32(job.payload) >>> 0 !== job.crc32 >>> 0) {
    throw new McdnError('MCZ_CHUNK_CHECKSUM_MISMATCH', 'integrity', `chunk ${job.index}: packed data checksum mismatch (the file is corrupt)`, { details: { chunk: job.index } });
  }
  let raw: Uint8Array;
  try {
    raw = decodeChunk(job.payload, job.method, job.width, job.rawLength);
  } catch (e) {
    const err = e instanceof McdnError ? e : new McdnError('MCZ_CHUNK_CORRUPT', 'integrity', String(e));
    throw new McdnError(err.code, err.category, `chunk ${job.index}: ${err.message}`, { details: { chunk: job.index } });
  }
  if (job.verifyHash !== false && sha256Of(raw) !== job.sha256) {
    throw new McdnError('MCZ_CHUNK_HASH_MISMATCH', 'integrity', `chunk ${job.index}: sha256 mismatch (the packed data is corrupt)`, { details: { chunk: job.index } });
  }
  return raw;
}

/**
 * Encoder side of REF chunks: feed results in file order; a chunk whose sha256 and length equal an
 * earlier (non-REF) chunk's becomes a REF to it.
 */
export class RefTracker {
  private readonly first = new Map<string, { index: number; rawLength: number }>();
  private count = 0;
  apply(r: EncodeResult): EncodeResult {
    const i = this.count++;
    const prev = this.first.get(r.sha256);
    if (prev && prev.rawLength === r.rawLength) {
      const payload = encodeRefPayload(prev.index);
      return { method: METHOD_REF, width: 1, payload, sha256: r.sha256, rawLength: r.rawLength, crc32: crc32(payload) >>> 0 };
    }
    if (!prev) this.first.set(r.sha256, { index: i, rawLength: r.rawLength });
    return r;
  }
}

/** Check a REF chunk's payload (CRC and target index); returns the index of the chunk it repeats. */
export function checkRef(payload: Uint8Array, expectCrc: number, expectRef: number | undefined, index: number): number {
  if (crc32(payload) >>> 0 !== expectCrc >>> 0) {
    throw new McdnError('MCZ_CHUNK_CHECKSUM_MISMATCH', 'integrity', `chunk ${index}: packed data checksum mismatch (the file is corrupt)`, { details: { chunk: index } });
  }
  let target: number;
  try {
    target = decodeRefPayload(payload);
  } catch (e) {
    throw new McdnError('MCZ_CHUNK_CORRUPT', 'integrity', `chunk ${index}: ${(e as Error).message}`, { details: { chunk: index } });
  }
  if (target !== expectRef) throw new McdnError('MCZ_BAD_REF', 'input', `chunk ${index}: refers to chunk ${target}, expected ${expectRef}`, { details: { chunk: index } });
  return target;
}
