/**
 * `readModelLayout(path)`: detect a model file's format by its content (and, for TensorFlow.js,
 * its name) and return the one tensor view (`ModelLayout`). Reads only headers by range; never loads
 * tensor data. Unknown files give `{format: 'unknown', tensors: []}`; a file whose name or content
 * claims a format but fails to parse throws that parser's McdnError.
 */
import { basename, extname } from 'node:path';
import { stat } from 'node:fs/promises';
import { fromSystemError, isMcdnError } from '../errors.ts';
import { openSource, type NamedSource } from './source.ts';
import type { ModelFormat, ModelLayout } from './types.ts';
import { MAX_HEADER_BYTES, readSafetensorsHeader, safetensorsToLayout } from './safetensors.ts';
import { looksLikeOnnx } from './onnx/scan.ts';
import { readOnnxLayout } from './onnx/index.ts';
import { GGUF_MAGIC, readGgufLayout } from './gguf.ts';
import { readTfjsLayout, readTfjsShardLayout, isTfjsJsonName } from './tfjs.ts';

/** Guess the format from the first bytes (and size) of a file. */
export function sniffFormat(head: Uint8Array, size: number): ModelFormat {
  if (head.length >= 4 && head[0] === GGUF_MAGIC[0] && head[1] === GGUF_MAGIC[1] && head[2] === GGUF_MAGIC[2] && head[3] === GGUF_MAGIC[3]) return 'gguf';
  if (head.length >= 9 && size >= 10) {
    const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    if (n >= 2n && n <= BigInt(Math.min(MAX_HEADER_BYTES, size - 8)) && head[8] === 0x7b /* { */) return 'safetensors';
  }
  if (looksLikeOnnx(head)) return 'onnx';
  if (head.length >= 1 && (head[0] === 0x7b || head[0] === 0x5b || head[0] === 0x20 || head[0] === 0x0a || head[0] === 0xef)) return 'tfjs'; // JSON-ish, checked by the tfjs reader
  return 'unknown';
}

/** model.json, *weights_manifest.json, *manifest.json: names tfjs gives its JSON. */
function looksLikeTfjsName(path: string): boolean {
  const b = basename(path).toLowerCase();
  return b === 'model.json' || b.endsWith('manifest.json');
}

const EXT_FORMAT: Record<string, ModelFormat> = { '.onnx': 'onnx', '.safetensors': 'safetensors', '.gguf': 'gguf' };

export async function readModelLayout(path: string): Promise<ModelLayout> {
  try {
    if ((await stat(path)).isDirectory()) return await readTfjsLayout(path);
  } catch (e) {
    throw fromSystemError(e, path);
  }
  const src = await openSource(path);
  try {
    return await layoutOf(path, src);
  } finally {
    await src.close();
  }
}

async function layoutOf(path: string, src: NamedSource): Promise<ModelLayout> {
  const head = await src.read(0, Math.min(16, src.size));
  const claimed = EXT_FORMAT[extname(path).toLowerCase()];
  const sniffed = sniffFormat(head, src.size);
  const format = claimed ?? sniffed;
  switch (format) {
    case 'safetensors':
      return safetensorsToLayout(await readSafetensorsHeader(src), src.size);
    case 'gguf':
      return readGgufLayout(src);
    case 'onnx':
      if (claimed) return readOnnxLayout(path, src);
      try {
        return await readOnnxLayout(path, src);
      } catch {
        break; // a few bytes that happen to look like a protobuf tag: not a model
      }
    case 'tfjs':
      if (isTfjsJsonName(path)) {
        try {
          return await readTfjsLayout(path);
        } catch (e) {
          // some other JSON (config.json, tokenizer.json): not a model, unless it is named like a tfjs manifest
          const notModel = isMcdnError(e) && (e.code === 'TFJS_NOT_A_MODEL' || e.code === 'TFJS_INVALID_JSON');
          if (!notModel || looksLikeTfjsName(path)) throw e;
        }
      }
      break;
    default:
      break;
  }
  const shard = await readTfjsShardLayout(path, src.size);
  if (shard) return shard;
  return { format: 'unknown', size: src.size, tensors: [], meta: {} };
}
