/**
 * The work a publish does on each file, behind one small interface so the parts owned by other
 * areas plug in without touching the job runner: format detection (src/formats), packing into .mcz
 * (src/codec `packFile`), delta patches (src/delta `makePatch`) and INT8 optimization (src/optimize).
 * `loadProcessors()` binds whichever of those modules are present and exports the function (they
 * land in parallel); a missing one means that artifact is simply not produced (the manifest then
 * omits `packed` / `patches`). Precompressed HTTP variants (zstd, br, gzip) are produced here with
 * the codec's streaming zstd and node:zlib.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { constants as zc, createBrotliCompress, createGzip } from 'node:zlib';
import type { Transform } from 'node:stream';
import { createZstdCompressStream } from '../../codec/index.ts';
import type { ContentCoding } from '../http/encoding.ts';

export interface PackOutcome {
  packedSize: number;
}

export interface PatchOutcome {
  beneficial: boolean;
  method: string;
  size: number;
}

export interface Processors {
  /** short format name of a file: onnx, safetensors, gguf, tfjs-json, tfjs-bin, json, text, unknown */
  detectFormat(path: string, name: string): Promise<string>;
  /** pack `inPath` into an .mcz container at `outPath`; undefined when the codec is not available */
  pack?: (inPath: string, outPath: string) => Promise<PackOutcome>;
  /** make a patch old → new at `outPath` ('auto' method); undefined when delta is not available */
  makePatch?: (oldPath: string, newPath: string, outPath: string) => Promise<PatchOutcome>;
  /** INT8-quantize a model file (`--optimize int8`); undefined when src/optimize offers no such call */
  quantizeInt8?: (inPath: string, outPath: string) => Promise<void>;
}

/** Levels for the precompressed variants: a balance of publish time and bytes saved. */
export const ENCODING_LEVELS: Record<ContentCoding, number> = { zstd: 9, br: 6, gzip: 6 };

export function createEncoder(coding: ContentCoding, sizeHint: number): Transform {
  switch (coding) {
    case 'zstd':
      return createZstdCompressStream(ENCODING_LEVELS.zstd) as unknown as Transform;
    case 'br':
      return createBrotliCompress({
        params: { [zc.BROTLI_PARAM_QUALITY]: ENCODING_LEVELS.br, [zc.BROTLI_PARAM_SIZE_HINT]: Math.min(sizeHint, 2 ** 31 - 1), [zc.BROTLI_PARAM_LGWIN]: 22 },
        chunkSize: 1 << 16,
      });
    case 'gzip':
      return createGzip({ level: ENCODING_LEVELS.gzip, chunkSize: 1 << 16 });
  }
}

/** Stream `path` through an encoder; the caller consumes the returned readable side. */
export function encodeFileStream(path: string, coding: ContentCoding, size: number): Transform {
  const enc = createEncoder(coding, size);
  const src = createReadStream(path, { highWaterMark: 1 << 20 });
  src.on('error', (e) => enc.destroy(e));
  src.pipe(enc);
  return enc;
}

/** Bytes sampled (from a few places in the file) to decide whether precompressing is worth it. */
export const COMPRESSIBILITY_SAMPLE_BYTES = 1 << 20;
/** A variant is only produced when a fast gzip of the sample shrinks it below this ratio. */
export const COMPRESSIBILITY_MAX_RATIO = 0.97;

/** Quick test: does a fast gzip of samples of the file save at least 3 %? (skips random-like weights) */
export async function looksCompressible(path: string): Promise<boolean> {
  const { gzipSync } = await import('node:zlib');
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const n = Math.min(size, COMPRESSIBILITY_SAMPLE_BYTES);
    if (n === 0) return false;
    const part = Math.ceil(n / 4);
    const buf = Buffer.alloc(n);
    let off = 0;
    for (let i = 0; i < 4 && off < n; i++) {
      const pos = size <= n ? off : Math.floor(((size - part) * i) / 3);
      const { bytesRead } = await fh.read(buf, off, Math.min(part, n - off), pos);
      off += bytesRead;
    }
    return gzipSync(buf.subarray(0, off), { level: 1 }).length < off * COMPRESSIBILITY_MAX_RATIO;
  } finally {
    await fh.close();
  }
}

/** Format detection by content (magic bytes) and name; refined by src/formats when it offers readModelLayout. */
export async function sniffFormat(path: string, name: string): Promise<string> {
  const fh = await open(path, 'r');
  let head: Buffer;
  try {
    head = Buffer.alloc(16);
    const { bytesRead } = await fh.read(head, 0, 16, 0);
    head = head.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const base = basename(name).toLowerCase();
  if (head.subarray(0, 4).toString('latin1') === 'GGUF') return 'gguf';
  if (head.length >= 9) {
    const n = head.readBigUInt64LE(0);
    if (n > 1n && n < 100_000_000n && head[8] === 0x7b) return 'safetensors';
  }
  if (base.endsWith('.onnx')) return 'onnx';
  if (base === 'model.json' || base.endsWith('weights_manifest.json')) return 'tfjs-json';
  if (base.endsWith('.json')) return 'json';
  if (/\.bin$|shard\d+(of\d+)?$/.test(base)) return 'tfjs-bin';
  if (/\.(txt|md|model|vocab|merges)$/.test(base)) return 'text';
  return 'unknown';
}

/** Import a sibling area's module if it exists (they land in parallel); undefined if it is absent. */
async function optionalModule(rel: string): Promise<Record<string, unknown> | undefined> {
  const url = new URL(rel, import.meta.url).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ENOENT') return undefined;
    throw e;
  }
}

type AnyFn = (...a: unknown[]) => Promise<unknown>;

/** Bind the processors that the codec, delta, formats and optimize areas currently export. */
export async function loadProcessors(): Promise<Processors> {
  const [codec, delta, formats, optimize] = await Promise.all([
    optionalModule('../../codec/index.ts'),
    optionalModule('../../delta/index.ts'),
    optionalModule('../../formats/index.ts'),
    optionalModule('../../optimize/index.ts'),
  ]);
  const p: Processors = {
    async detectFormat(path, name) {
      const sniffed = await sniffFormat(path, name);
      const read = formats?.['readModelLayout'] as AnyFn | undefined;
      if (read && (sniffed === 'unknown' || sniffed === 'onnx' || sniffed === 'tfjs-bin')) {
        try {
          const layout = (await read(path)) as { format?: string };
          if (layout?.format && layout.format !== 'unknown') return layout.format;
        } catch {
          /* not a model the formats layer knows: keep the sniffed name */
        }
      }
      return sniffed;
    },
  };
  const packFile = codec?.['packFile'] as AnyFn | undefined;
  if (packFile) {
    p.pack = async (inPath, outPath) => {
      const r = (await packFile(inPath, outPath)) as { packedSize: number };
      return { packedSize: r.packedSize };
    };
  }
  const makePatch = delta?.['makePatch'] as AnyFn | undefined;
  if (makePatch) {
    p.makePatch = async (oldPath, newPath, outPath) => {
      const r = (await makePatch(oldPath, newPath, outPath, { method: 'auto' })) as { beneficial?: boolean; method?: string; size?: number };
      return { beneficial: r.beneficial !== false, method: String(r.method ?? 'auto'), size: Number(r.size ?? 0) };
    };
  }
  const quantize = (optimize?.['quantizeFile'] ?? optimize?.['quantizeModelFile']) as AnyFn | undefined;
  if (quantize) {
    p.quantizeInt8 = async (inPath, outPath) => {
      await quantize(inPath, outPath, { mode: 'int8' });
    };
  }
  return p;
}
