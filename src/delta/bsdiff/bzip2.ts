/**
 * bzip2 for the BSDIFF40 blocks, pure JavaScript: compression by compressjs, decompression by
 * seek-bzip (measured slightly faster than compressjs on the same streams). Both are CommonJS and
 * are loaded through createRequire. Decoder failures become McdnError('BSDIFF_BZIP2_CORRUPT').
 * No I/O; nothing outside this wrapper calls compressjs or seek-bzip.
 */
import { createRequire } from 'node:module';
import { McdnError } from '../../errors.ts';

const require = createRequire(import.meta.url);

interface CompressJsBzip2 {
  compressFile(input: Uint8Array, output?: undefined, blockSizeMultiplier?: number): Uint8Array;
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
  return bz.compressFile(data, undefined, 9);
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
