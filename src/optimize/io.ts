/**
 * File-level plumbing shared by quantize, dequantize and prune: detect the model format (via
 * src/formats), load an ONNX model with external data inlined, check that onnxruntime accepts a
 * model (input before any work, output before it is written), and write outputs atomically
 * (temp file in the destination directory + rename, via src/formats). Never edits an input file.
 */
import { stat } from 'node:fs/promises';
import { McdnError, fromSystemError, inputError } from '../errors.ts';
import { readModelLayout } from '../formats/layout.ts';
import { readOnnxModel } from '../formats/onnx/index.ts';
import { forEachOnnxTensor, type OnnxModel } from '../formats/onnx/model.ts';
import { writeFileAtomic } from '../formats/atomic.ts';
import type { ModelFormat } from '../formats/types.ts';
import { importOrt } from './eval/runner.ts';

export async function detectModelFormat(path: string): Promise<Exclude<ModelFormat, 'unknown'>> {
  try {
    await stat(path);
  } catch (e) {
    throw fromSystemError(e, path);
  }
  const layout = await readModelLayout(path);
  if (layout.format === 'unknown') {
    throw inputError('NOT_A_MODEL', `${path}: not a model file (expected ONNX, safetensors, GGUF or a TF.js model.json)`, { path });
  }
  return layout.format;
}

/** Read an ONNX model; tensors in external data files are loaded and will be written inline. */
export async function loadOnnxInline(path: string): Promise<OnnxModel> {
  const model = await readOnnxModel(path, { loadExternal: true });
  forEachOnnxTensor(model, (t) => {
    if (t.raw_data !== undefined && (t.data_location === 1 || t.external_data?.length)) {
      delete t.data_location;
      t.external_data = [];
    }
  });
  return model;
}

const ANSI = /\u001b\[[0-9;]*m/g;

/**
 * Create (and release) an onnxruntime session for `bytes`. `role` 'input' → the user's model is
 * rejected (input error); 'output' → our rewrite produced something the runtime refuses (internal).
 */
export async function checkOnnxRuntime(bytes: Uint8Array, label: string, role: 'input' | 'output'): Promise<void> {
  const ort = await importOrt();
  try {
    const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'basic', logSeverityLevel: 4, intraOpNumThreads: 1 });
    await s.release();
  } catch (e) {
    const msg = String((e as Error)?.message ?? e).replace(ANSI, '').split('\n')[0]!.slice(0, 300);
    if (role === 'input') {
      throw new McdnError('MODEL_REJECTED_BY_RUNTIME', 'input', `${label}: onnxruntime cannot load this model: ${msg}`, { cause: e, remedy: 'check that the file is a valid ONNX model' });
    }
    throw new McdnError('OUTPUT_REJECTED_BY_RUNTIME', 'internal', `${label}: the rewritten model does not load in onnxruntime: ${msg}; nothing was written`, { cause: e });
  }
}

export async function writeBytesAtomic(path: string, bytes: Uint8Array): Promise<number> {
  return writeFileAtomic(path, async (w) => w.write(bytes));
}

/** Sum of a directory-or-file's bytes (TF.js outputs are a model.json plus shards). */
export async function sizeOf(paths: string[]): Promise<number> {
  let n = 0;
  for (const p of paths) n += (await stat(p)).size;
  return n;
}
