/**
 * `pruneFile`: magnitude pruning of weight matrices and conv kernels in ONNX (Conv/ConvTranspose/
 * MatMul/Gemm/LSTM/GRU/RNN weights, incl. Constant nodes and subgraphs), safetensors, GGUF (float
 * tensors) and TF.js (float32/float16 weights) files; biases, norms, embeddings, small and excluded
 * tensors are kept and reported. The output has the same format and layout (zeros written in place)
 * so it runs unchanged; ONNX outputs are checked in onnxruntime before they are written.
 */
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { inputError } from '../../errors.ts';
import { encodeOnnxModel } from '../../formats/onnx/model.ts';
import { readSafetensorsFile, writeSafetensors } from '../../formats/safetensors.ts';
import { readGgufFile, writeGguf, type GgufWriteTensor } from '../../formats/gguf.ts';
import { findTfjsJson, readTfjsWeights, writeTfjsModel } from '../../formats/tfjs.ts';
import { readTensorAsF32 } from '../../formats/numeric.ts';
import { openSource } from '../../formats/source.ts';
import type { DType } from '../../formats/types.ts';
import { onnxRawByteLength } from '../../formats/onnx/dtypes.ts';
import { checkOnnxRuntime, detectModelFormat, loadOnnxInline, writeBytesAtomic } from '../io.ts';
import { buildConsumerIndex, commonRole, constantShape, findConstants } from '../onnx/weights.ts';
import { encodeLike, isFloatDataType, onnxDTypeName, readConstantF32, setTensorBytes } from '../onnx/rewrite.ts';
import { castBf16, castF16 } from '../quantize/int8.ts';
import { keepReason } from '../quantize/eligible.ts';
import { tfjsWeightToF32 } from '../quantize/tfjs.ts';
import { checkSparsity, prune2of4, pruneGlobal, prunePerTensor, zeroCount, type PrunePattern, type PruneScope } from './magnitude.ts';

export { checkSparsity } from './magnitude.ts';
export type { PruneScope, PrunePattern } from './magnitude.ts';

export interface PruneOptions {
  sparsity: number;
  scope: PruneScope;
  pattern: PrunePattern;
  exclude?: RegExp;
  minElements: number;
}

export interface PruneTensorReport {
  name: string;
  graph?: string;
  shape: number[];
  dtype: string;
  action: 'pruned' | 'kept';
  reason?: string;
  /** fraction of zeros before and after */
  sparsityBefore: number;
  sparsityAfter?: number;
  /** 2:4 groups run along this axis */
  groupAxis?: number;
}

export interface PruneResult {
  input: string;
  output: string;
  format: string;
  sizeBefore: number;
  sizeAfter: number;
  files: string[];
  options: Omit<PruneOptions, 'exclude'> & { exclude?: string };
  /** elements in pruned tensors, and zeros among them after pruning */
  prunedTensorElements: number;
  zeros: number;
  tensors: PruneTensorReport[];
}

/** One prunable tensor, whatever the format: its values and how to store the pruned values back. */
interface Candidate {
  report: PruneTensorReport;
  data: Float32Array;
  /** reduction axis for 2:4 groups */
  axis: number;
  store(pruned: Float32Array): void;
}

const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function encodeDType(dtype: DType, v: Float32Array): Uint8Array {
  if (dtype === 'F32') return u8(v).slice();
  if (dtype === 'F16') return u8(castF16(v).bits);
  if (dtype === 'BF16') return u8(castBf16(v).bits);
  throw inputError('PRUNE_DTYPE', `cannot store pruned values as ${dtype}`);
}

function applyPruning(cands: Candidate[], opts: PruneOptions): void {
  if (opts.pattern === '2:4') {
    for (const c of cands) c.store(prune2of4(c.data, c.report.shape, c.axis));
    return;
  }
  if (opts.scope === 'global') {
    const out = pruneGlobal(cands.map((c) => c.data), opts.sparsity);
    cands.forEach((c, i) => c.store(out[i]!));
    return;
  }
  for (const c of cands) c.store(prunePerTensor(c.data, opts.sparsity));
}

function finish(cands: Candidate[], kept: PruneTensorReport[], pruned: Map<Candidate, Float32Array>): { tensors: PruneTensorReport[]; elements: number; zeros: number } {
  let elements = 0;
  let zeros = 0;
  for (const c of cands) {
    const p = pruned.get(c)!;
    const z = zeroCount(p);
    c.report.sparsityAfter = p.length ? z / p.length : 0;
    elements += p.length;
    zeros += z;
  }
  return { tensors: [...cands.map((c) => c.report), ...kept], elements, zeros };
}

function candidate(report: Omit<PruneTensorReport, 'action' | 'sparsityBefore'>, data: Float32Array, axis: number, store: (v: Float32Array) => void, seen: Map<Candidate, Float32Array>, pattern: PrunePattern): Candidate {
  const c: Candidate = {
    report: { ...report, action: 'pruned', sparsityBefore: data.length ? zeroCount(data) / data.length : 0, ...(pattern === '2:4' ? { groupAxis: axis } : {}) },
    data,
    axis,
    store: (v) => {
      seen.set(c, v);
      store(v);
    },
  };
  return c;
}

async function tfjsJsonPath(path: string): Promise<string> {
  return (await stat(path)).isDirectory() ? findTfjsJson(path) : path;
}

export async function pruneFile(inPath: string, outPath: string, opts: PruneOptions): Promise<PruneResult> {
  checkSparsity(opts.sparsity);
  if (opts.pattern === '2:4' && opts.sparsity !== 0.5) {
    throw inputError('BAD_SPARSITY', `--pattern 2:4 always prunes 50 %; --sparsity ${opts.sparsity} contradicts it`, {}, 'omit --sparsity or use 0.5');
  }
  const format = await detectModelFormat(inPath);
  const cands: Candidate[] = [];
  const kept: PruneTensorReport[] = [];
  const pruned = new Map<Candidate, Float32Array>();
  const keep = (r: Omit<PruneTensorReport, 'action' | 'sparsityBefore'>, reason: string) => kept.push({ ...r, action: 'kept', reason, sparsityBefore: 0 });
  const rule = { minElements: opts.minElements, ...(opts.exclude ? { exclude: opts.exclude } : {}), dtypes: ['F32', 'F16', 'BF16'] as DType[] };
  /** safetensors / GGUF tensors: kept with a reason, or a candidate whose data is re-encoded in place */
  const considerTensors = <T extends { name: string; shape: number[]; dtype: DType; data: Uint8Array }>(tensors: T[], axisOf: (t: T) => number) => {
    for (const t of tensors) {
      const r = { name: t.name, shape: t.shape, dtype: t.dtype };
      const why = keepReason(t.name, t.dtype, t.shape, rule);
      if (why) {
        keep(r, why);
        continue;
      }
      cands.push(candidate(r, readTensorAsF32(t, t.data), axisOf(t), (v) => (t.data = encodeDType(t.dtype, v)), pruned, opts.pattern));
    }
  };
  let sizeBefore = 0;
  let files: string[] = [outPath];
  let output = outPath;
  let write: () => Promise<number>;

  switch (format) {
    case 'onnx': {
      sizeBefore = (await stat(inPath)).size;
      const model = await loadOnnxInline(inPath);
      await checkOnnxRuntime(encodeOnnxModel(model), inPath, 'input');
      const consumers = buildConsumerIndex(model);
      for (const c of findConstants(model)) {
        const shape = constantShape(c);
        const n = shape.reduce((a, b) => a * b, 1);
        const dt = c.tensor.data_type ?? 0;
        const r = { name: c.name, ...(c.graphPath ? { graph: c.graphPath } : {}), shape, dtype: onnxDTypeName(dt) };
        if (!isFloatDataType(dt)) {
          if ((onnxRawByteLength(dt, n) ?? 0) >= 4 * opts.minElements) keep(r, `not a float tensor (${onnxDTypeName(dt)})`);
          continue;
        }
        if (n < opts.minElements) {
          keep(r, `small (${n} < --min-elements ${opts.minElements})`);
          continue;
        }
        if (opts.exclude?.test(c.name)) {
          keep(r, 'excluded by --exclude');
          continue;
        }
        if (c.isGraphIO) {
          keep(r, 'graph input/output');
          continue;
        }
        const role = commonRole(c, shape.length, consumers);
        if ('reason' in role) {
          keep(r, role.reason);
          continue;
        }
        if (role.role.kind !== 'weight') {
          keep(r, 'embedding table (not pruned)');
          continue;
        }
        const axis = role.role.reduceAxis ?? shape.length - 1;
        cands.push(candidate(r, readConstantF32(c.tensor), axis, (v) => setTensorBytes(c.tensor, encodeLike(dt, v, (x) => castF16(x).bits, (x) => castBf16(x).bits)), pruned, opts.pattern));
      }
      applyPruning(cands, opts);
      write = async () => {
        const bytes = encodeOnnxModel(model);
        await checkOnnxRuntime(bytes, outPath, 'output');
        return writeBytesAtomic(outPath, bytes);
      };
      break;
    }
    case 'safetensors': {
      sizeBefore = (await stat(inPath)).size;
      const f = await readSafetensorsFile(inPath);
      const tensors = f.tensors.map((t) => ({ ...t }));
      considerTensors(tensors, () => 1);
      applyPruning(cands, opts);
      write = async () => (await writeSafetensors(outPath, tensors, f.metadata)).size;
      break;
    }
    case 'gguf': {
      sizeBefore = (await stat(inPath)).size;
      const g = await readGgufFile(inPath);
      const src = await openSource(inPath);
      const tensors: GgufWriteTensor[] = [];
      try {
        for (const t of g.tensors) tensors.push({ name: t.name, dtype: t.dtype, shape: [...t.ne].reverse(), data: await src.read(g.dataStart + t.relOffset, t.length) });
      } finally {
        await src.close();
      }
      considerTensors(tensors, (t) => t.shape.length - 1);
      applyPruning(cands, opts);
      write = async () => (await writeGguf(outPath, { metadata: g.metadata, tensors, version: g.version })).size;
      break;
    }
    case 'tfjs': {
      const jsonPath = await tfjsJsonPath(inPath);
      const { manifest, weights, shardSizes, json } = await readTfjsWeights(jsonPath);
      sizeBefore = Buffer.byteLength(json) + shardSizes.flat().reduce((a, b) => a + b, 0);
      for (const w of weights) {
        const stored = w.quantization?.dtype ?? w.dtype;
        const r = { name: w.name, shape: w.shape, dtype: stored };
        if (w.dtype !== 'float32' || (stored !== 'float32' && stored !== 'float16')) {
          keep(r, stored === 'uint8' || stored === 'uint16' ? `stored as ${stored} affine (zero not exact)` : `dtype ${w.dtype} (not float32)`);
          continue;
        }
        const why = keepReason(w.name, 'F32', w.shape, { ...rule, dtypes: ['F32'] });
        if (why) {
          keep(r, why);
          continue;
        }
        // TF kernels are [..., in, out]: 2:4 groups run along the input axis
        cands.push(candidate(r, tfjsWeightToF32(w)!, Math.max(0, w.shape.length - 2), (v) => (w.data = stored === 'float16' ? u8(castF16(v).bits) : u8(v).slice()), pruned, opts.pattern));
      }
      applyPruning(cands, opts);
      const isJson = extname(outPath).toLowerCase() === '.json';
      const dir = isJson ? dirname(outPath) : outPath;
      if (!isJson && dir === dirname(jsonPath)) throw inputError('OUTPUT_IS_INPUT', `${outPath}: writing into the input model's directory would overwrite it`, {}, 'choose another output directory');
      output = isJson ? outPath : join(dir, basename(jsonPath));
      write = async () => {
        await mkdir(dir, { recursive: true });
        const wr = await writeTfjsModel(dir, weights, { ...(manifest.model ? { model: manifest.model } : {}), jsonName: basename(output) });
        files = [wr.json, ...wr.shards];
        let n = 0;
        for (const p of files) n += (await stat(p)).size;
        return n;
      };
      break;
    }
  }
  if (cands.length === 0) {
    throw inputError('NOTHING_TO_PRUNE', `${inPath}: no weight matrix or conv kernel qualifies for pruning`, { kept: kept.length }, 'check --exclude and --min-elements');
  }
  const sizeAfter = await write();
  const fin = finish(cands, kept, pruned);
  return {
    input: inPath,
    output,
    format,
    sizeBefore,
    sizeAfter,
    files,
    options: { sparsity: opts.pattern === '2:4' ? 0.5 : opts.sparsity, scope: opts.scope, pattern: opts.pattern, minElements: opts.minElements, ...(opts.exclude ? { exclude: opts.exclude.source } : {}) },
    prunedTensorElements: fin.elements,
    zeros: fin.zeros,
    tensors: fin.tensors,
  };
}
