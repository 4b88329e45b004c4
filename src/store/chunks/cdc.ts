/**
 * Content-defined chunking (FastCDC-style gear hash with normalized chunking) for bytes that are not
 * tensor data: container headers, graphs, JSON, files of unknown format. Pure: works on byte arrays
 * and returns cut positions. Spec: docs/spec/chunking.md (gear table, masks, bounds, test vectors).
 */
import { createHash } from 'node:crypto';

export const CDC_MIN = 8 * 1024;
export const CDC_AVG = 64 * 1024;
export const CDC_MAX = 128 * 1024;
/** 18 one-bits: stricter mask used before the average size (normalized chunking). */
export const MASK_S = 0xffffc000 | 0;
/** 14 one-bits: looser mask used after the average size. */
export const MASK_L = 0xfffc0000 | 0;

/** GEAR[i] = the first 4 bytes (big-endian) of sha256("modelcdn-gear-" + i), as int32. */
export const GEAR: Int32Array = (() => {
  const g = new Int32Array(256);
  for (let i = 0; i < 256; i++) g[i] = createHash('sha256').update(`modelcdn-gear-${i}`).digest().readInt32BE(0);
  return g;
})();

export interface CdcOptions {
  min?: number;
  avg?: number;
  max?: number;
}

/**
 * Length of the next chunk starting at `start` in `bytes[start, end)`. When `final` is false and no
 * cut is found before `end`, returns -1 (the caller must supply more bytes, up to `max` past start).
 */
export function nextCut(bytes: Uint8Array, start: number, end: number, final: boolean, opts: CdcOptions = {}): number {
  const min = opts.min ?? CDC_MIN;
  const avg = opts.avg ?? CDC_AVG;
  const max = opts.max ?? CDC_MAX;
  const avail = end - start;
  if (avail <= min) return final ? avail : avail >= max ? max : -1;
  const stop = Math.min(end, start + max);
  const normal = Math.min(stop, start + avg);
  let fp = 0;
  let i = start + min;
  for (; i < normal; i++) {
    fp = ((fp << 1) + GEAR[bytes[i]!]!) | 0;
    if ((fp & MASK_S) === 0) return i + 1 - start;
  }
  for (; i < stop; i++) {
    fp = ((fp << 1) + GEAR[bytes[i]!]!) | 0;
    if ((fp & MASK_L) === 0) return i + 1 - start;
  }
  if (stop - start >= max) return max;
  return final ? avail : -1;
}

/** All chunk lengths of an in-memory region (the last chunk may be shorter than `min`). */
export function cdcLengths(bytes: Uint8Array, opts: CdcOptions = {}): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const n = nextCut(bytes, pos, bytes.length, true, opts);
    out.push(n);
    pos += n;
  }
  return out;
}

/**
 * Streaming CDC over a region read in blocks: `read(offset, length)` returns bytes of the region.
 * Yields chunk lengths; reads each byte once (plus at most `max` bytes of carry-over per block).
 */
export async function* cdcLengthsStream(
  regionSize: number,
  read: (offset: number, length: number) => Promise<Uint8Array>,
  opts: CdcOptions & { blockSize?: number } = {},
): AsyncIterable<number> {
  const max = opts.max ?? CDC_MAX;
  const block = Math.max(opts.blockSize ?? 8 << 20, 2 * max);
  let buf = new Uint8Array(0);
  let bufStart = 0; // region offset of buf[0]
  let pos = 0; // region offset of the next chunk start
  while (pos < regionSize) {
    const have = bufStart + buf.length;
    if (have < regionSize && have - pos < max) {
      const n = Math.min(block, regionSize - have);
      const more = await read(have, n);
      const next = new Uint8Array(have - pos + more.length);
      next.set(buf.subarray(pos - bufStart), 0);
      next.set(more, have - pos);
      buf = next;
      bufStart = pos;
    }
    const final = bufStart + buf.length >= regionSize;
    const n = nextCut(buf, pos - bufStart, buf.length, final, opts);
    if (n < 0) throw new Error('cdc: internal error, not enough lookahead');
    yield n;
    pos += n;
  }
}
