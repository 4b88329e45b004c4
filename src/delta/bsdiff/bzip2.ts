/**
 * bzip2 for the BSDIFF40 blocks, pure JavaScript: compression by compressjs, decompression by
 * seek-bzip (measured slightly faster than compressjs on the same streams). Both are CommonJS and
 * are loaded through createRequire. Decoder failures become McdnError('BSDIFF_BZIP2_CORRUPT').
 * No I/O; nothing outside this wrapper calls compressjs or seek-bzip.
 */
import { createRequire } from 'node:module';
import { McdnError } from '../../errors.ts';
import { nativeBzip2CompressInto, nativeBzip2DecompressExact } from '../../util/native.ts';

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

/**
 * Whether compressjs, cutting `data` into blocks for block size multiplier `m`, would end a block
 * right after the fourth byte of a run: it then leaves out the run-length byte that must follow four
 * equal bytes, which libbz2 (Debian's bspatch, `bzip2 -d`) reads anyway, from past the block's end, and
 * so decodes into a CRC error (seek-bzip, our decoder, stops at the block's end and gets the bytes
 * right). The reference bzip2 never does this: it flushes runs before a block fills. This replays
 * compressjs's own block filling (Bzip2.js readBlock, initial run-length encoding) without compressing.
 */
export function bzip2CutsRun(data: Uint8Array, m: number): boolean {
  const length = m * 100_000 - 19;
  let i = 0;
  while (i < data.length) {
    let pos = 0;
    let last = -1;
    let run = 0;
    let fourthLast = false; // the block's last byte so far is the fourth of a run, its count not yet written
    while (pos < length) {
      if (run === 4) {
        pos++; // the count byte
        fourthLast = false;
        if (pos >= length) break;
      }
      if (i >= data.length) return false;
      const ch = data[i++];
      if (ch !== last) {
        last = ch;
        run = 1;
      } else if (++run > 4) {
        if (run < 256) continue;
        run = 1;
      }
      pos++;
      fourthLast = run === 4;
    }
    if (fourthLast) return true;
  }
  return false;
}

/** The largest block size multiplier (9 = 900 kB, as Debian's bsdiff uses) compressjs handles right for `data`. */
function safeMultiplier(data: Uint8Array): number {
  for (let m = 9; m >= 1; m--) if (!bzip2CutsRun(data, m)) return m;
  throw new McdnError('BSDIFF_BZIP2_UNSUPPORTED', 'internal', "this input's bzip2 blocks would end inside a run, which the JavaScript encoder writes in a way Debian's bspatch cannot read", {
    remedy: 'build the native addon with libbz2 (apt-get install libbz2-dev, then npm rebuild @modelcdn/native), or use the tensor or binary method',
  });
}

/**
 * Compress `data` into one bzip2 stream (900 kB blocks, as Debian's bsdiff uses): with libbz2 through
 * the native addon where it was built with it (the reference encoder, ~15x faster), else with
 * compressjs — at a smaller block size when 900 kB blocks would cut a run (see bzip2CutsRun).
 */
export function bzip2Compress(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(bzip2Bound(data.length));
  return out.slice(0, bzip2CompressInto(data, out, 0));
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
  if (out.length - at < bzip2Bound(data.length)) throw new RangeError(`bzip2CompressInto: ${out.length - at} bytes free, ${bzip2Bound(data.length)} needed`);
  const n = nativeBzip2CompressInto(data, out, at, 9);
  if (n !== undefined) return n;
  bz ??= loadCompressJs();
  let pos = at;
  bz.compressFile(data, { writeByte: (b: number) => void (out[pos++] = b) }, safeMultiplier(data));
  return pos - at;
}

/** Decompress one bzip2 stream; `expectedSize` must match the decoded length exactly. */
export function bzip2Decompress(data: Uint8Array, expectedSize: number | undefined, what: string): Uint8Array {
  let out: Uint8Array | undefined;
  try {
    // libbz2 through the native addon where it has it (~10x seek-bzip's speed; it needs the size)
    if (expectedSize !== undefined) out = nativeBzip2DecompressExact(data, expectedSize);
    // with the size known, seek-bzip decodes into a preallocated buffer (faster, bounded memory) and
    // throws if the stream's length differs
    out ??= (sb ??= require('seek-bzip') as SeekBzip).decode(Buffer.from(data.buffer, data.byteOffset, data.byteLength), expectedSize);
  } catch (e) {
    throw new McdnError('BSDIFF_BZIP2_CORRUPT', 'input', `${what}: bzip2 block is corrupt (${(e as Error)?.message ?? e})`, { cause: e });
  }
  if (expectedSize !== undefined && out.length !== expectedSize) {
    throw new McdnError('BSDIFF_BZIP2_CORRUPT', 'input', `${what}: bzip2 block decodes to ${out.length} bytes, expected ${expectedSize}`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
