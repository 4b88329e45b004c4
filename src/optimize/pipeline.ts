/**
 * `optimize`: the whole shrink pipeline for one model file — optional magnitude pruning, then
 * quantization, then packing into .mcz with the codec (src/codec packFile, whose sparse mode turns
 * the zeros of pruning into saved bytes). Intermediate files are temp files beside the output and
 * are always removed; only the .mcz (and, if asked, the optimized model) are left.
 */
import { rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { inputError } from '../errors.ts';
import { packFile } from '../codec/index.ts';
import { writeFileAtomic } from '../formats/atomic.ts';
import { readFile } from 'node:fs/promises';
import { detectModelFormat } from './io.ts';
import { quantizeFile, type QuantizeReport, type Scheme } from './quantize/index.ts';
import { pruneFile, type PrunePattern, type PruneScope } from './prune/index.ts';

export interface OptimizeOptions {
  quantize: Scheme | 'none';
  granularity: 'per-channel' | 'per-tensor' | 'per-block';
  prune?: { sparsity: number; scope: PruneScope; pattern: PrunePattern };
  exclude?: RegExp;
  minElements: number;
  /** int8 per-channel: turn off the default sensitivity rules (see quantize/sensitivity.ts) */
  plain?: boolean;
  level?: number;
  /** also keep the optimized (unpacked) model here */
  modelOut?: string;
  signal?: AbortSignal;
}

export interface OptimizeResult {
  input: string;
  output: string;
  format: string;
  sizeOriginal: number;
  /** after prune + quantize (before packing) */
  sizeOptimized: number;
  sizePacked: number;
  sourceDType: string;
  scheme: Scheme | 'none';
  pruned: { sparsity: number; zeros: number; elements: number } | null;
  quantized: { tensors: number; kept: number; method: string } | null;
  packMethods: Record<string, { chunks: number; raw: number; packed: number }>;
  modelOut?: string;
}

function dominantDType(report: QuantizeReport | null): string {
  if (!report) return 'FP32';
  const by = new Map<string, number>();
  for (const t of report.tensors) if (t.action !== 'kept') by.set(t.dtype, (by.get(t.dtype) ?? 0) + t.bytesBefore);
  const top = [...by.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32';
  return ({ F32: 'FP32', F16: 'FP16', BF16: 'BF16', F64: 'FP64' } as Record<string, string>)[top] ?? top;
}

export async function optimizeFile(inPath: string, outPath: string, opts: OptimizeOptions): Promise<OptimizeResult> {
  const format = await detectModelFormat(inPath);
  if (format === 'tfjs') throw inputError('OPTIMIZE_SINGLE_FILE', `${inPath}: optimize packs single-file models (ONNX, safetensors, GGUF); for TF.js use quantize/prune, then pack the shards`);
  if (opts.quantize === 'none' && !opts.prune) throw inputError('OPTIMIZE_NOTHING', 'optimize: nothing to do (give --quantize and/or --prune)');
  const ext = basename(inPath).match(/\.[a-z0-9]+$/i)?.[0] ?? '';
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmpPrune = join(dirname(outPath), `.${basename(outPath)}.pruned-${tag}${ext}`);
  const tmpQuant = join(dirname(outPath), `.${basename(outPath)}.quantized-${tag}${ext}`);
  const sizeOriginal = (await stat(inPath)).size;
  try {
    let current = inPath;
    let pruned: OptimizeResult['pruned'] = null;
    if (opts.prune) {
      const r = await pruneFile(current, tmpPrune, { ...opts.prune, minElements: opts.minElements, ...(opts.exclude ? { exclude: opts.exclude } : {}) });
      pruned = { sparsity: opts.prune.sparsity, zeros: r.zeros, elements: r.prunedTensorElements };
      current = tmpPrune;
    }
    opts.signal?.throwIfAborted();
    let report: QuantizeReport | null = null;
    if (opts.quantize !== 'none') {
      const r = await quantizeFile(current, tmpQuant, { scheme: opts.quantize, granularity: opts.granularity, minElements: opts.minElements, ...(opts.plain ? { plain: true } : {}), ...(opts.exclude ? { exclude: opts.exclude } : {}) });
      report = r.report;
      current = tmpQuant;
    }
    opts.signal?.throwIfAborted();
    const sizeOptimized = (await stat(current)).size;
    const packed = await packFile(current, outPath, { ...(opts.level !== undefined ? { level: opts.level } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    if (opts.modelOut) {
      const bytes = new Uint8Array(await readFile(current));
      await writeFileAtomic(opts.modelOut, async (w) => w.write(bytes));
    }
    const q = report ? report.tensors.filter((t) => t.action !== 'kept').length : 0;
    return {
      input: inPath,
      output: outPath,
      format,
      sizeOriginal,
      sizeOptimized,
      sizePacked: packed.packedSize,
      sourceDType: dominantDType(report),
      scheme: opts.quantize,
      pruned,
      quantized: report ? { tensors: q, kept: report.tensors.length - q, method: report.method } : null,
      packMethods: packed.methods,
      ...(opts.modelOut ? { modelOut: opts.modelOut } : {}),
    };
  } finally {
    await rm(tmpPrune, { force: true });
    await rm(tmpQuant, { force: true });
  }
}
