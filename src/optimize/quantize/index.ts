/**
 * `quantizeFile`: detect the input's format, quantize (ONNX, safetensors, GGUF, TF.js), check that
 * the result is usable (ONNX: onnxruntime loads it) and write it atomically; returns sizes and the
 * per-tensor report. `dequantizeFile` reverses safetensors int8. Reading/writing of formats is
 * src/formats'; the numeric work is int8.ts and the per-format modules here.
 */
import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { inputError } from '../../errors.ts';
import { encodeOnnxModel } from '../../formats/onnx/model.ts';
import { readSafetensorsFile, writeSafetensors } from '../../formats/safetensors.ts';
import { readGgufFile, writeGguf, type GgufWriteTensor } from '../../formats/gguf.ts';
import { findTfjsJson, readTfjsWeights, writeTfjsModel } from '../../formats/tfjs.ts';
import { openSource } from '../../formats/source.ts';
import { checkOnnxRuntime, detectModelFormat, loadOnnxInline, writeBytesAtomic } from '../io.ts';
import { quantizeOnnxModel } from './onnx.ts';
import { calibratedQuantizeOnnx, type CalibrationOptions, type CalibrationResult } from './calibrate.ts';
import { dequantizeSafetensors, quantizeSafetensors } from './safetensors.ts';
import { quantizeGgufTensors } from './gguf.ts';
import { quantizeTfjsWeights } from './tfjs.ts';
import type { QuantizeOptions, QuantizeReport } from './types.ts';

export * from './types.ts';
export { quantizeOnnxModel } from './onnx.ts';
export type { CalibrationOptions, CalibrationResult } from './calibrate.ts';

export interface QuantizeFileResult {
  input: string;
  output: string;
  format: string;
  /** bytes of the input model (all files for TF.js) */
  sizeBefore: number;
  sizeAfter: number;
  /** files written */
  files: string[];
  report: QuantizeReport;
  quantized: number;
  kept: number;
  /** accuracy-guided run (--calibrate): agreements and the tensors left in float */
  calibration?: CalibrationResult;
}

/** Sum of bytes of the files that make up a model (TF.js: JSON + shards). */
async function inputSize(path: string, format: string): Promise<number> {
  if (format !== 'tfjs') return (await stat(path)).size;
  const { json, shardSizes } = await readTfjsWeights(await tfjsJsonPath(path));
  return Buffer.byteLength(json) + shardSizes.flat().reduce((a, b) => a + b, 0);
}

async function tfjsJsonPath(path: string): Promise<string> {
  return (await stat(path)).isDirectory() ? findTfjsJson(path) : path;
}

function summarize(input: string, output: string, format: string, sizeBefore: number, sizeAfter: number, files: string[], report: QuantizeReport): QuantizeFileResult {
  const quantized = report.tensors.filter((t) => t.action !== 'kept').length;
  return { input, output, format, sizeBefore, sizeAfter, files, report, quantized, kept: report.tensors.length - quantized };
}

export async function quantizeFile(inPath: string, outPath: string, opts: QuantizeOptions, cal?: CalibrationOptions): Promise<QuantizeFileResult> {
  const format = await detectModelFormat(inPath);
  const sizeBefore = await inputSize(inPath, format);
  switch (format) {
    case 'onnx': {
      const model = await loadOnnxInline(inPath);
      await checkOnnxRuntime(encodeOnnxModel(model), inPath, 'input');
      let bytes: Uint8Array;
      let report: QuantizeReport;
      let calibration: CalibrationResult | undefined;
      if (cal && opts.scheme === 'int8') {
        ({ bytes, report, calibration } = await calibratedQuantizeOnnx(encodeOnnxModel(model), inPath, opts, cal));
      } else {
        const r = quantizeOnnxModel(model, opts);
        bytes = encodeOnnxModel(r.model);
        report = r.report;
      }
      await checkOnnxRuntime(bytes, outPath, 'output');
      const size = await writeBytesAtomic(outPath, bytes);
      return { ...summarize(inPath, outPath, format, sizeBefore, size, [outPath], report), ...(calibration ? { calibration } : {}) };
    }
    case 'safetensors': {
      const f = await readSafetensorsFile(inPath);
      const r = quantizeSafetensors(f.tensors, f.metadata, opts);
      const { size } = await writeSafetensors(outPath, r.tensors, r.metadata);
      return summarize(inPath, outPath, format, sizeBefore, size, [outPath], r.report);
    }
    case 'gguf': {
      const g = await readGgufFile(inPath);
      const src = await openSource(inPath);
      let tensors: GgufWriteTensor[];
      try {
        tensors = [];
        for (const t of g.tensors) tensors.push({ name: t.name, dtype: t.dtype, shape: [...t.ne].reverse(), data: await src.read(g.dataStart + t.relOffset, t.length) });
      } finally {
        await src.close();
      }
      const r = quantizeGgufTensors(tensors, g.metadata, opts);
      const { size } = await writeGguf(outPath, { metadata: r.metadata, tensors: r.tensors, version: g.version });
      return summarize(inPath, outPath, format, sizeBefore, size, [outPath], r.report);
    }
    case 'tfjs': {
      const jsonPath = await tfjsJsonPath(inPath);
      const { manifest, weights } = await readTfjsWeights(jsonPath);
      const r = quantizeTfjsWeights(weights, opts);
      // OUT is a directory, or the path of the JSON to write (its directory receives the shards)
      const isJson = extname(outPath).toLowerCase() === '.json';
      const dir = isJson ? dirname(outPath) : outPath;
      if (!isJson && dir === dirname(jsonPath)) {
        throw inputError('OUTPUT_IS_INPUT', `${outPath}: writing into the input model's directory would overwrite it`, {}, 'choose another output directory');
      }
      await mkdir(dir, { recursive: true });
      const written = await writeTfjsModel(dir, r.weights, {
        ...(manifest.model ? { model: manifest.model } : {}),
        jsonName: isJson ? basename(outPath) : basename(jsonPath),
      });
      let size = 0;
      for (const p of [written.json, ...written.shards]) size += (await stat(p)).size;
      return summarize(inPath, isJson ? outPath : join(dir, basename(jsonPath)), format, sizeBefore, size, [written.json, ...written.shards], r.report);
    }
  }
}

export interface DequantizeFileResult {
  input: string;
  output: string;
  sizeBefore: number;
  sizeAfter: number;
  restored: number;
  dtype: 'F32' | 'F16';
}

export async function dequantizeFile(inPath: string, outPath: string, dtype: 'F32' | 'F16'): Promise<DequantizeFileResult> {
  const format = await detectModelFormat(inPath);
  if (format !== 'safetensors') {
    throw inputError('DEQUANTIZE_UNSUPPORTED_FORMAT', `${inPath}: dequantize reads int8 safetensors (compressed-tensors layout); this is ${format}`, {}, format === 'onnx' ? 'quantized ONNX models run as they are' : undefined);
  }
  const f = await readSafetensorsFile(inPath);
  const r = dequantizeSafetensors(f.tensors, f.metadata, dtype, inPath);
  const { size } = await writeSafetensors(outPath, r.tensors, r.metadata);
  return { input: inPath, output: outPath, sizeBefore: (await stat(inPath)).size, sizeAfter: size, restored: r.restored, dtype };
}
