/**
 * bzip2 for the BSDIFF40 blocks, pure JavaScript: compression by compressjs, decompression by
 * seek-bzip (measured slightly faster than compressjs on the same streams). Both are CommonJS and
 * are loaded through createRequire. Decoder failures become McdnError('BSDIFF_BZIP2_CORRUPT').
 * No I/O; nothing outside this wrapper calls compressjs or seek-bzip.
 */
import { createRequire } from 'node:module';
import { McdnError } from '../../errors.ts';

const require = createRequire(import.meta.url);

interface ByteSink {
  writeByte(b: number): void;
}
interface CompressJsBzip2 {
  compressFile(input: Uint8Array, output?: ByteSink, blockSizeMultiplier?: number): Uint8Array | ByteSink;
}
interface SeekBzip {
  decode(input: Buffer, expectedSize?: number | undefined, multistream?: boolean): Buffer;
}

let bz: CompressJsBzip2 | undefined;
let sb: SeekBzip | undefined;

/**
 * compressjs's BWT binds `console.assert` once at load time and calls it in its innermost loops; the
 * real console.assert made compression ~10x slower (31 s instead of 2.7 s for 2.3 MB). Bind a no-op
 * instead: swap it in only for the synchronous require, then restore the real one.
 */
function loadCompressJs(): CompressJsBzip2 {
  const real = console.assert;
  console.assert = () => {};
  try {
    return (require('compressjs') as { Bzip2: CompressJsBzip2 }).Bzip2;
  } finally {
    console.assert = real;
  }
}

/** Compress `data` into one bzip2 stream (900 kB blocks, as Debian's bsdiff uses). */
export function bzip2Compress(data: Uint8Array): Uint8Array {
  bz ??= loadCompressJs();
  return bz.compressFile(data, undefined, 9) as Uint8Array;
}

/**
 * Most bytes a bzip2 stream of `n` input bytes can take: bzip2's own bound (1 % plus 600 bytes per
 * 900 kB block, with the stream header and trailer) with room to spare.
 */
export function bzip2Bound(n: number): number {
  return Math.ceil(n * 1.02) + 600 * (Math.ceil(n / 899_981) + 1) + 64;
}

/**
 * Compress `data` into `out` from byte `at` on (at least bzip2Bound(data.length) bytes must be free
 * there); returns the stream's length. Writing in place spares the growing buffer the compressor
 * would otherwise fill and the copy out of it: at 100 MB that is ~2x the stream at the peak.
 */
export function bzip2CompressInto(data: Uint8Array, out: Uint8Array, at: number): number {
  bz ??= loadCompressJs();
  if (out.length - at < bzip2Bound(data.length)) throw new RangeError(`bzip2CompressInto: ${out.length - at} bytes free, ${bzip2Bound(data.length)} needed`);
  let pos = at;
  bz.compressFile(data, { writeByte: (b: number) => void (out[pos++] = b) }, 9);
  return pos - at;
}

/** Decompress one bzip2 stream; `expectedSize` must match the decoded length exactly. */
export function bzip2Decompress(data: Uint8Array, expectedSize: number | undefined, what: string): Uint8Array {
  sb ??= require('seek-bzip') as SeekBzip;
  let out: Buffer;
  try {
    // with the size known, seek-bzip decodes into a preallocated buffer (faster, bounded memory) and
    // throws if the stream's length differs
    out = sb.decode(Buffer.from(data.buffer, data.byteOffset, data.byteLength), expectedSize);
  } catch (e) {
    throw new McdnError('BSDIFF_BZIP2_CORRUPT', 'input', `${what}: bzip2 block is corrupt (${(e as Error)?.message ?? e})`, { cause: e });
  }
  if (expectedSize !== undefined && out.length !== expectedSize) {
    throw new McdnError('BSDIFF_BZIP2_CORRUPT', 'input', `${what}: bzip2 block decodes to ${out.length} bytes, expected ${expectedSize}`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
