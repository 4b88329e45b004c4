/**
 * Thin wrapper over native zstd (npm `zstd-napi`, libzstd 1.5): one-shot compress/decompress,
 * compression against a reference prefix (what `zstd --patch-from` does: the old file is loaded as
 * raw-content dictionary with a window large enough to reach back into it), and streaming Transform
 * variants. Pure in-memory functions; no file I/O, no knowledge of the .mcz container.
 */
import { createRequire } from 'node:module';
import type { Compressor as CompressorT, Decompressor as DecompressorT, CompressStream as CompressStreamT, DecompressStream as DecompressStreamT } from 'zstd-napi';
import { McdnError } from '../errors.ts';
import { uninitialized } from './planes.ts';

// zstd-napi is CommonJS without an exports map; load it through require so named exports resolve.
const require = createRequire(import.meta.url);
const zstd = require('zstd-napi') as typeof import('zstd-napi');
const binding = require('zstd-napi/binding.js') as typeof import('zstd-napi/binding.js');
const { Compressor, Decompressor, CompressStream, DecompressStream } = zstd;
type Compressor = CompressorT;
type Decompressor = DecompressorT;

/** zstd's own limits on the compression level. */
export const ZSTD_MIN_LEVEL = -7;
export const ZSTD_MAX_LEVEL = 22;
export const ZSTD_DEFAULT_LEVEL = 3;
/** Largest window we ever ask a decoder to accept (2 GiB; zstd's maximum on 64-bit is 2^31). */
export const ZSTD_MAX_WINDOW_LOG = 31;

const compressors = new Map<number, Compressor>();
let decompressor: Decompressor | undefined;

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < ZSTD_MIN_LEVEL || level > ZSTD_MAX_LEVEL) {
    throw new McdnError('ZSTD_BAD_LEVEL', 'input', `zstd level ${level} is out of range ${ZSTD_MIN_LEVEL}..${ZSTD_MAX_LEVEL}`);
  }
}

function compressorFor(level: number): Compressor {
  let c = compressors.get(level);
  if (!c) {
    c = new Compressor();
    c.setParameters({ compressionLevel: level, contentSizeFlag: true, checksumFlag: false });
    compressors.set(level, c);
  }
  return c;
}

function asU8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Compress `buf` into one zstd frame (content size recorded in the frame header). */
export function zstdCompress(buf: Uint8Array, level = ZSTD_DEFAULT_LEVEL): Uint8Array {
  checkLevel(level);
  return asU8(compressorFor(level).compress(buf));
}

/** Refuse to allocate more than this for a frame of unknown provenance without an expected size. */
export const ZSTD_MAX_UNCHECKED_OUTPUT = 1 << 30;

let dctx: InstanceType<typeof binding.DCtx> | undefined;

/**
 * Decompress one or more concatenated zstd frames. With `expectedSize` the output buffer is
 * allocated up front and the data must decode to exactly that many bytes (a corrupt frame header
 * cannot make us allocate more). Without it, the frames must declare their content size and the
 * total is capped at ZSTD_MAX_UNCHECKED_OUTPUT. Throws McdnError ZSTD_CORRUPT / ZSTD_SIZE_MISMATCH.
 */
export function zstdDecompress(buf: Uint8Array, expectedSize?: number): Uint8Array {
  if (expectedSize === undefined) {
    const declared = declaredContentSize(buf);
    if (declared === null || declared > ZSTD_MAX_UNCHECKED_OUTPUT) {
      decompressor ??= new Decompressor();
      // no declared size: fall back to the streaming path of zstd-napi (it grows the output as needed)
      if (declared === null) return asU8(wrapCorrupt(() => decompressor!.decompress(buf)));
      throw new McdnError('ZSTD_OUTPUT_TOO_LARGE', 'input', `zstd data declares ${declared} bytes, more than the ${ZSTD_MAX_UNCHECKED_OUTPUT} allowed without an expected size`);
    }
    expectedSize = declared;
  }
  const out = uninitialized(expectedSize); // fully written when the size check inside passes
  zstdDecompressInto(buf, out);
  return out;
}

function wrapCorrupt<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    const msg = (e as Error).message;
    if (/Destination buffer is too small/i.test(msg)) {
      throw new McdnError('ZSTD_SIZE_MISMATCH', 'integrity', 'zstd data decodes to more bytes than expected', { cause: e });
    }
    throw new McdnError('ZSTD_CORRUPT', 'integrity', `zstd data is corrupt: ${msg}`, { cause: e });
  }
}

/** Sum of the content sizes the frames in `buf` declare, or null if one does not declare it. */
function declaredContentSize(buf: Uint8Array): number | null {
  let total = 0;
  let rest = buf;
  while (rest.byteLength > 0) {
    const size = wrapCorrupt(() => binding.getFrameContentSize(rest));
    if (size === null) return null;
    total += size;
    const len = wrapCorrupt(() => binding.findFrameCompressedSize(rest));
    rest = rest.subarray(len);
  }
  return total;
}

/** Smallest windowLog whose window covers `n` bytes (at least 10, at most ZSTD_MAX_WINDOW_LOG). */
export function windowLogFor(n: number): number {
  let w = 10;
  while (w < ZSTD_MAX_WINDOW_LOG && 2 ** w < n) w++;
  return w;
}

export interface PrefixOptions {
  level?: number;
  /** enable long-distance matching (default true, as `zstd --long` / `--patch-from`) */
  long?: boolean;
}

/**
 * Compress `buf` using `prefix` as a raw-content reference (like `zstd --patch-from=prefix`): matches
 * may point into the prefix. The window is sized to cover prefix + data. Decode with
 * `zstdDecompressWithPrefix(frame, prefix)`; the decoder must hold the same prefix bytes.
 */
export function zstdCompressWithPrefix(buf: Uint8Array, prefix: Uint8Array, opts: PrefixOptions = {}): Uint8Array {
  const level = opts.level ?? ZSTD_DEFAULT_LEVEL;
  checkLevel(level);
  const windowLog = windowLogFor(prefix.byteLength + buf.byteLength);
  const cctx = new binding.CCtx();
  cctx.setParameter(binding.CParameter.compressionLevel, level);
  cctx.setParameter(binding.CParameter.windowLog, windowLog);
  cctx.setParameter(binding.CParameter.contentSizeFlag, 1);
  cctx.setParameter(binding.CParameter.checksumFlag, 1); // detects a wrong reference at decode time
  if (opts.long ?? true) cctx.setParameter(binding.CParameter.enableLongDistanceMatching, 1);
  if (prefix.byteLength > 0) cctx.loadDictionary(rawContentDict(prefix));
  const dst = Buffer.allocUnsafe(binding.compressBound(buf.byteLength));
  const n = cctx.compress2(dst, buf);
  return new Uint8Array(dst.buffer, dst.byteOffset, n);
}

/** Decode a frame made by `zstdCompressWithPrefix` with the same prefix. */
export function zstdDecompressWithPrefix(frame: Uint8Array, prefix: Uint8Array, expectedSize?: number): Uint8Array {
  const d = new Decompressor();
  d.setParameters({ windowLogMax: ZSTD_MAX_WINDOW_LOG });
  if (prefix.byteLength > 0) d.loadDictionary(rawContentDict(prefix));
  let out: Buffer;
  try {
    out = d.decompress(frame);
  } catch (e) {
    throw new McdnError('ZSTD_CORRUPT', 'integrity', `zstd data is corrupt or needs another reference: ${(e as Error).message}`, { cause: e });
  }
  if (expectedSize !== undefined && out.byteLength !== expectedSize) {
    throw new McdnError('ZSTD_SIZE_MISMATCH', 'integrity', `zstd data decoded to ${out.byteLength} bytes, expected ${expectedSize}`);
  }
  return asU8(out);
}

/**
 * libzstd loads a dictionary in "auto" mode: bytes starting with the zstd dictionary magic
 * (37 A4 30 EC) would be parsed as a trained dictionary. A model file never legitimately starts
 * so, but to keep arbitrary prefixes safe we refuse them rather than mis-decode.
 */
function rawContentDict(prefix: Uint8Array): Uint8Array {
  if (prefix.byteLength >= 4 && prefix[0] === 0x37 && prefix[1] === 0xa4 && prefix[2] === 0x30 && prefix[3] === 0xec) {
    throw new McdnError('ZSTD_PREFIX_IS_DICTIONARY', 'input', 'reference prefix starts with the zstd dictionary magic and cannot be used as raw content');
  }
  return prefix;
}

/** Streaming compressor (Transform): plain .zst output readable by `zstd -d`. */
export function createZstdCompressStream(level = ZSTD_DEFAULT_LEVEL): CompressStreamT {
  checkLevel(level);
  return new CompressStream({ compressionLevel: level, checksumFlag: true });
}

/** Streaming decompressor (Transform) for .zst input. */
export function createZstdDecompressStream(): DecompressStreamT {
  return new DecompressStream({ windowLogMax: ZSTD_MAX_WINDOW_LOG });
}

/**
 * Decompress one or more concatenated zstd frames into `dst`, which must be exactly the decoded size:
 * no allocation, for callers that reuse their output buffers (the delta decoder's byte planes).
 * Throws McdnError ZSTD_CORRUPT, or ZSTD_SIZE_MISMATCH when the data decodes to more or fewer bytes.
 */
export function zstdDecompressInto(buf: Uint8Array, dst: Uint8Array): void {
  dctx ??= new binding.DCtx();
  const n = wrapCorrupt(() => dctx!.decompress(dst, buf));
  if (n !== dst.byteLength) {
    throw new McdnError('ZSTD_SIZE_MISMATCH', 'integrity', `zstd data decoded to ${n} bytes, expected ${dst.byteLength}`, {
      details: { got: n, expected: dst.byteLength },
    });
  }
}
