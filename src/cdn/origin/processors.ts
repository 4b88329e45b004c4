/**
 * The work a publish does on each file, behind one small interface so the parts owned by other
 * areas plug in without touching the job runner: format detection (src/formats), packing into .mcz
 * (src/codec `packFile`) and delta patches (src/delta `makePatch`).
 * `loadProcessors()` binds whichever of those modules are present and exports the function (they
 * land in parallel); a missing one means that artifact is simply not produced (the manifest then
 * omits `packed` / `patches`). Precompressed HTTP variants (zstd, br, gzip) are produced here with
 * the codec's streaming zstd and node:zlib.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
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
  /** write the `coding` variant of `inPath` to `outPath`; returns its size */
  encode(inPath: string, outPath: string, coding: ContentCoding, size: number): Promise<number>;
  /** short format name of a file: onnx, safetensors, gguf, tfjs-json, tfjs-bin, json, text, unknown */
  detectFormat(path: string, name: string): Promise<string>;
  /** pack `inPath` into an .mcz container at `outPath`; undefined when the codec is not available */
  pack?: (inPath: string, outPath: string) => Promise<PackOutcome>;
  /** make a patch old → new at `outPath` ('auto' method); undefined when delta is not available */
  makePatch?: (oldPath: string, newPath: string, outPath: string) => Promise<PatchOutcome>;
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
  const [codec, delta, formats] = await Promise.all([
    optionalModule('../../codec/index.ts'),
    optionalModule('../../delta/index.ts'),
    optionalModule('../../formats/index.ts'),
  ]);
  const p: Processors = {
    async encode(inPath, outPath, coding, size) {
      await pipeline(createReadStream(inPath, { highWaterMark: 1 << 20 }), createEncoder(coding, size), createWriteStream(outPath));
      return (await stat(outPath)).size;
    },
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
  return p;
}

/** Processors running on a dedicated worker thread (see processor-worker.ts); `close()` ends it. */
export async function startProcessorWorker(): Promise<Processors & { close(): Promise<void> }> {
  const { Worker } = await import('node:worker_threads');
  const { McdnError } = await import('../../errors.ts');
  type Msg = { ready?: string[]; id?: number; ok?: boolean; result?: unknown; error?: { code: string; category: string; message: string } };
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let next = 1;
  let closed = false;

  /** Start a worker; resolves with it and the operations it offers. */
  const spawn = () =>
    new Promise<{ worker: InstanceType<typeof Worker>; ops: string[] }>((resolve, reject) => {
      const worker = new Worker(new URL('./processor-worker.mjs', import.meta.url), { execArgv: [] });
      let started = false;
      worker.on('message', (m: Msg) => {
        if (m.ready) {
          started = true;
          worker.unref();
          resolve({ worker, ops: m.ready });
          return;
        }
        const p = pending.get(m.id!);
        if (!p) return;
        pending.delete(m.id!);
        if (m.ok) p.resolve(m.result);
        else p.reject(new McdnError(m.error!.code, m.error!.category as 'internal', m.error!.message));
        if (pending.size === 0) worker.unref();
      });
      const failAll = (e: Error) => {
        if (!started) reject(e);
        for (const p of pending.values()) p.reject(e);
        pending.clear();
        if (current?.worker === worker) current = undefined; // the next call starts a fresh worker
      };
      worker.on('error', failAll);
      worker.on('exit', () => failAll(new McdnError('PROCESSOR_STOPPED', closed ? 'cancelled' : 'internal', 'the publish processor worker stopped')));
    });

  let current: { worker: InstanceType<typeof Worker>; ops: string[] } | undefined = await spawn();
  const ops = current.ops;
  const call = async (op: string, ...args: unknown[]): Promise<unknown> => {
    if (closed) throw new McdnError('PROCESSOR_STOPPED', 'cancelled', 'the publish processor worker stopped');
    current ??= await spawn(); // a worker that crashed (e.g. out of memory) is replaced
    const w = current.worker;
    return new Promise<unknown>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      w.ref();
      w.postMessage({ id, op, args });
    });
  };
  const p: Processors & { close(): Promise<void> } = {
    encode: (i, o, c, s) => call('encode', i, o, c, s) as Promise<number>,
    detectFormat: (path, name) => call('detectFormat', path, name) as Promise<string>,
    async close() {
      closed = true;
      await current?.worker.terminate();
    },
  };
  if (ops.includes('pack')) p.pack = (i, o) => call('pack', i, o) as Promise<PackOutcome>;
  if (ops.includes('makePatch')) p.makePatch = (a, b, o) => call('makePatch', a, b, o) as Promise<PatchOutcome>;
  return p;
}
