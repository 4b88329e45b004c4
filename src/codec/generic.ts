/**
 * Generic single-stream codecs for files that should stay decodable by standard tools: zstd
 * (`zstd -d`), gzip (`gunzip`) and brotli (`brotli -d`) — the precompressed variants a CDN serves
 * for Accept-Encoding. Streams the file through the codec into an atomic temp file; computes the
 * original's sha256 on the way. Touches only the input and the one output path.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants as zc, createBrotliCompress, createBrotliDecompress, createGunzip, createGzip } from 'node:zlib';
import { McdnError, fromSystemError } from '../errors.ts';
import { AtomicFile } from './atomic-file.ts';
import { createZstdCompressStream, createZstdDecompressStream, ZSTD_MAX_LEVEL, ZSTD_MIN_LEVEL } from './zstd.ts';
import type { PackResult } from './pack.ts';

export type GenericCodec = 'zstd' | 'gzip' | 'br';

/** Default and allowed levels per generic codec (defaults favour size: these are made once, served often). */
export const GENERIC_LEVELS: Record<GenericCodec, { default: number; min: number; max: number }> = {
  zstd: { default: 19, min: ZSTD_MIN_LEVEL, max: ZSTD_MAX_LEVEL },
  gzip: { default: 9, min: 1, max: 9 },
  br: { default: 11, min: 0, max: 11 },
};

export function genericCompressStream(codec: GenericCodec, level: number, sizeHint?: number): Transform {
  switch (codec) {
    case 'zstd':
      return createZstdCompressStream(level);
    case 'gzip':
      return createGzip({ level });
    case 'br':
      return createBrotliCompress({
        params: { [zc.BROTLI_PARAM_QUALITY]: level, [zc.BROTLI_PARAM_LGWIN]: 24, ...(sizeHint !== undefined ? { [zc.BROTLI_PARAM_SIZE_HINT]: sizeHint } : {}) },
      });
  }
}

export function genericDecompressStream(codec: GenericCodec): Transform {
  switch (codec) {
    case 'zstd':
      return createZstdDecompressStream();
    case 'gzip':
      return createGunzip();
    case 'br':
      return createBrotliDecompress();
  }
}

/** A pass-through that hashes and counts what flows through it. */
export class HashTap extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
    this.onBytes?.(this.bytes);
    cb(null, chunk);
  }
}

export async function packGeneric(
  inPath: string,
  outPath: string,
  codec: GenericCodec,
  level: number | undefined,
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal,
  durable = true,
): Promise<PackResult> {
  const lim = GENERIC_LEVELS[codec];
  if (!lim) throw new McdnError('BAD_CODEC', 'input', `unknown codec ${String(codec)}`, { remedy: 'use mcz, zstd, gzip or br' });
  const lvl = level ?? lim.default;
  if (!Number.isInteger(lvl) || lvl < lim.min || lvl > lim.max) {
    throw new McdnError('BAD_LEVEL', 'input', `level ${lvl} is out of range ${lim.min}..${lim.max} for ${codec}`);
  }
  let size: number;
  try {
    size = (await stat(inPath)).size;
  } catch (e) {
    throw fromSystemError(e, inPath);
  }
  const out = await AtomicFile.create(outPath);
  const tap = new HashTap((n) => onProgress?.(n, size));
  let packed = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      packed += chunk.byteLength;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(
      createReadStream(inPath),
      tap,
      genericCompressStream(codec, lvl, size),
      counter,
      createWriteStream(out.tmpPath, { flags: 'r+' }),
      ...(signal ? [{ signal }] : []),
    );
    await out.commit(durable);
  } catch (e) {
    await out.abort();
    if ((e as Error)?.name === 'AbortError') throw new McdnError('CANCELLED', 'cancelled', `${inPath}: cancelled`, { cause: e });
    throw e instanceof McdnError ? e : fromSystemError(e, inPath);
  }
  return { codec, format: 'unknown', originalSize: tap.bytes, packedSize: packed, sha256: tap.hash.digest('hex'), chunks: [], methods: {}, warnings: [] };
}

/** Guess a generic codec from magic bytes (zstd, gzip) or the file name (.br). */
export function sniffGeneric(head: Uint8Array, name: string): GenericCodec | undefined {
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (name.endsWith('.br')) return 'br';
  return undefined;
}
