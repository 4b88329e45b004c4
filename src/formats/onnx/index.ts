/**
 * ONNX entry points: layout (tensor byte ranges from the wire scanner, external data resolved to
 * absolute paths and checked), whole-model read/write with external data (models over 2 GB keep
 * their weights outside the protobuf), and re-exports of the decoder/encoder and tensor helpers.
 * File I/O is limited to the model file and the external data files it names.
 */
import { q } from '../quote.ts';
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, normalize, resolve, sep } from 'node:path';
import { fromSystemError, inputError } from '../../errors.ts';
import { writeFileAtomic } from '../atomic.ts';
import { openSource, type NamedSource } from '../source.ts';
import type { DType, ModelLayout, TensorInfo } from '../types.ts';
import { isOnnx4Bit, onnxDataTypeToDType, onnxRawByteLength } from './dtypes.ts';
import { decodeOnnxModel, encodeOnnxModel, externalDataInfo, forEachOnnxTensor, tensorShape, type OnnxModel, type OnnxTensor } from './model.ts';
import { scanOnnx, scanOnnxSource, type OnnxScan, type ScannedTensor } from './scan.ts';

export * from './model.ts';
export { scanOnnx, scanOnnxSource, looksLikeOnnx, MAX_GRAPH_DEPTH, MAX_NAME_BYTES, type OnnxScan, type ScannedTensor } from './scan.ts';
export { ONNX_DATA_TYPE, onnxDataTypeToDType, dtypeToOnnxDataType, onnxRawByteLength } from './dtypes.ts';
export { onnxRoot, onnxType } from './schema.ts';

/** Check an external-data location stays inside the model's directory (as onnxruntime requires). */
export function externalPath(modelPath: string, location: string): string {
  const norm = normalize(location);
  if (isAbsolute(location) || norm === '..' || norm.startsWith('..' + sep) || norm.split(/[\\/]/).includes('..')) {
    throw inputError('ONNX_EXTERNAL_PATH_ESCAPES', `${modelPath}: external data location ${q(location)} points outside the model's directory`);
  }
  return resolve(dirname(modelPath), norm);
}

function toTensorInfo(t: ScannedTensor, modelPath: string | undefined): TensorInfo {
  const logical = onnxDataTypeToDType(t.dataType);
  const plain = t.encoding === 'raw' || t.encoding === 'external' || t.encoding === 'empty';
  const exact = plain && logical !== undefined && logical !== 'STRING' && !isOnnx4Bit(t.dataType);
  const dtype: DType = exact ? logical : 'U8';
  const shape = exact ? (t.segment ? [t.segment.end - t.segment.begin] : t.dims) : [t.length];
  const extra: Record<string, unknown> = { kind: t.kind, encoding: t.encoding, onnxDataType: t.dataType };
  if (!exact) {
    extra['logicalDType'] = logical ?? `onnx:${t.dataType}`;
    extra['logicalShape'] = t.dims;
  }
  if (t.graph) extra['graph'] = t.graph;
  if (t.node !== undefined) extra['node'] = t.node;
  if (t.opType !== undefined) extra['opType'] = t.opType;
  if (t.segment) extra['segment'] = t.segment;
  if (t.encoding !== 'raw' && t.encoding !== 'external') extra['field'] = t.field;
  const info: TensorInfo = { name: t.name, dtype, shape, offset: t.offset, length: t.length, extra };
  if (t.external) {
    extra['location'] = t.external.location;
    info.file = modelPath ? externalPath(modelPath, t.external.location) : t.external.location;
  }
  return info;
}

export function onnxScanMeta(s: OnnxScan): Record<string, unknown> {
  const meta: Record<string, unknown> = {
    irVersion: s.irVersion,
    producer: [s.producerName, s.producerVersion].filter(Boolean).join(' ') || undefined,
    opset: s.opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version,
    opsets: s.opsets,
    graphName: s.graphName,
    nodeCount: s.nodeCount,
    opTypes: s.opTypes,
  };
  if (s.domain) meta['domain'] = s.domain;
  if (s.modelVersion) meta['modelVersion'] = s.modelVersion;
  if (s.functionCount) meta['functions'] = s.functionCount;
  if (Object.keys(s.metadata).length) meta['metadata'] = s.metadata;
  for (const k of Object.keys(meta)) if (meta[k] === undefined) delete meta[k];
  return meta;
}

/** Layout of an ONNX model held in memory (external tensors keep their relative location as `file`). */
export function onnxLayout(bytes: Uint8Array, path?: string): ModelLayout {
  const s = scanOnnx(bytes, path ?? '<onnx>');
  return { format: 'onnx', size: bytes.length, tensors: s.tensors.map((t) => toTensorInfo(t, path)), meta: onnxScanMeta(s) };
}

/** Layout of an ONNX file by ranged reads; external data files are resolved, stat'ed and bounds-checked. */
export async function readOnnxLayout(path: string, src?: NamedSource): Promise<ModelLayout> {
  const own = !src;
  const s0 = src ?? (await openSource(path));
  try {
    const s = await scanOnnxSource(s0, path);
    const tensors = s.tensors.map((t) => toTensorInfo(t, path));
    const sizes = new Map<string, number>();
    for (const t of tensors) {
      if (!t.file) continue;
      let size = sizes.get(t.file);
      if (size === undefined) {
        try {
          size = (await stat(t.file)).size;
        } catch (e) {
          const err = fromSystemError(e, t.file);
          throw inputError('ONNX_EXTERNAL_MISSING', `${path}: external data file ${t.file} for tensor ${q(t.name ?? '')} cannot be read (${err.message})`);
        }
        sizes.set(t.file, size);
      }
      if (t.offset + t.length > size) throw inputError('ONNX_EXTERNAL_OUT_OF_BOUNDS', `${path}: tensor ${q(t.name ?? '')} needs bytes ${t.offset}..${t.offset + t.length} of ${t.file}, which has ${size}`);
    }
    return { format: 'onnx', size: s0.size, tensors, meta: { ...onnxScanMeta(s), ...(sizes.size ? { externalFiles: [...sizes.keys()] } : {}) } };
  } finally {
    if (own) await s0.close();
  }
}

/**
 * Read and decode an ONNX file. With `loadExternal`, tensors stored in external files get their bytes
 * in raw_data (the external_data entries are kept so the model can be written back the same way).
 */
export async function readOnnxModel(path: string, opts: { loadExternal?: boolean } = {}): Promise<OnnxModel> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw fromSystemError(e, path);
  }
  const model = decodeOnnxModel(bytes, path);
  if (opts.loadExternal) await resolveExternalData(model, path);
  return model;
}

/** Fill raw_data of every external tensor from its file (ranged reads, one handle per file). */
export async function resolveExternalData(model: OnnxModel, modelPath: string): Promise<void> {
  const todo: { t: OnnxTensor; file: string; offset: number; length: number }[] = [];
  forEachOnnxTensor(model, (t) => {
    const ext = externalDataInfo(t);
    if (!ext) return;
    const n = tensorShape(t).reduce((a, b) => a * b, 1);
    const length = ext.length ?? onnxRawByteLength(t.data_type ?? 0, n);
    if (length === undefined) throw inputError('ONNX_EXTERNAL_NO_LENGTH', `${modelPath}: tensor ${q(t.name ?? '')} has external data of unknown length`);
    todo.push({ t, file: externalPath(modelPath, ext.location), offset: ext.offset, length });
  });
  const sources = new Map<string, NamedSource>();
  try {
    for (const x of todo) {
      let s = sources.get(x.file);
      if (!s) {
        s = await openSource(x.file);
        sources.set(x.file, s);
      }
      if (x.offset + x.length > s.size) throw inputError('ONNX_EXTERNAL_OUT_OF_BOUNDS', `${modelPath}: tensor ${q(x.t.name ?? '')} needs bytes ${x.offset}..${x.offset + x.length} of ${x.file}, which has ${s.size}`);
      x.t.raw_data = await s.read(x.offset, x.length);
    }
  } finally {
    for (const s of sources.values()) await s.close();
  }
}

/** Copy a model's object tree, sharing (not copying) byte arrays. */
function cloneTree<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneTree) as T;
  if (v instanceof Uint8Array || v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = cloneTree(x);
  return out as T;
}

export interface WriteOnnxOptions {
  /** move tensor data to an external file next to the model (required for models over 2 GB) */
  externalData?: {
    /** file name relative to the model's directory, e.g. "model.onnx.data" */
    location: string;
    /** tensors smaller than this stay inline (default 1024 bytes) */
    minBytes?: number;
  };
}

/**
 * Write an ONNX model (temp file + rename). An unmodified decoded model is written byte for byte.
 * With `externalData`, every raw tensor of at least `minBytes` goes to the data file (offsets aligned
 * to 4096 for tensors of 1 MiB and more, 64 otherwise) and the model references it by location/offset/length.
 */
export async function writeOnnxModel(path: string, model: OnnxModel, opts: WriteOnnxOptions = {}): Promise<{ size: number; externalSize?: number }> {
  if (!opts.externalData) {
    // tensors loaded from external files (resolveExternalData) are written inline
    let loaded = false;
    forEachOnnxTensor(model, (t) => {
      if (t.raw_data !== undefined && (t.data_location === 1 || t.external_data?.length)) loaded = true;
    });
    let m = model;
    if (loaded) {
      m = cloneTree(model);
      forEachOnnxTensor(m, (t) => {
        if (t.raw_data === undefined) return;
        delete t.data_location;
        t.external_data = [];
      });
    }
    return { size: await writeFileAtomic(path, async (w) => w.write(encodeOnnxModel(m))) };
  }
  const { location } = opts.externalData;
  const minBytes = opts.externalData.minBytes ?? 1024;
  const dataPath = externalPath(path, location);
  const copy = cloneTree(model);
  const moves: { t: OnnxTensor; bytes: Uint8Array }[] = [];
  forEachOnnxTensor(copy, (t) => {
    if (t.raw_data === undefined) return;
    if (t.raw_data.length >= minBytes) moves.push({ t, bytes: t.raw_data });
    else {
      delete t.data_location;
      t.external_data = [];
    }
  });
  const externalSize = await writeFileAtomic(dataPath, async (w) => {
    for (const m of moves) {
      const align = m.bytes.length >= 1 << 20 ? 4096 : 64;
      const pad = (align - (w.position % align)) % align;
      if (pad) await w.write(new Uint8Array(pad));
      const offset = w.position;
      await w.write(m.bytes);
      delete m.t.raw_data;
      m.t.data_location = 1;
      m.t.external_data = [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(m.bytes.length) },
      ];
    }
  });
  const bytes = encodeOnnxModel(copy);
  const size = await writeFileAtomic(path, async (w) => w.write(bytes));
  return { size, externalSize };
}
