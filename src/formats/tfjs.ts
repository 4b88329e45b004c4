/**
 * TensorFlow.js weights: model.json (graph-model and layers-model, `weightsManifest` groups of
 * `paths` + `weights`) and bare weights manifests (a JSON array of groups, face-api style). Each
 * group's shards are concatenated and its weights laid out back to back; a weight's byte size is
 * numel × width of its stored dtype (the quantization dtype — uint8, uint16, float16 — when
 * quantized); string weights are length-prefixed (u32 LE + bytes per element) and are measured from
 * the shard bytes. Tensors crossing a shard boundary become one TensorInfo per piece (marked in
 * `extra`). The core (`parseTfjsManifest`, `placeTfjsWeights`) is pure; thin adapters stat and read
 * shards. The writer produces model.json (or a bare manifest) + shards via temp files and renames.
 */
import { q } from './quote.ts';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fromSystemError, inputError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { openSource, type NamedSource } from './source.ts';
import { numel, type DType, type ModelLayout, type TensorInfo } from './types.ts';
import { f16ToF32, readTensorAsF32 } from './numeric.ts';

/** Largest manifest / model.json we read. */
export const MAX_TFJS_JSON_BYTES = 256 * 1024 * 1024;
/** How many .json files we look at when searching a directory for the manifest of a shard. */
export const MAX_TFJS_DIR_SCAN = 64;
/** Longest single string element in a string weight. */
export const MAX_TFJS_STRING = 64 * 1024 * 1024;

export type TfjsDType = 'float32' | 'int32' | 'bool' | 'complex64' | 'string' | 'float16' | 'uint8' | 'int8' | 'uint16' | 'int16';
export interface TfjsQuantization {
  dtype: 'uint8' | 'uint16' | 'float16';
  scale?: number;
  min?: number;
  original_dtype?: string;
}
export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: TfjsDType;
  quantization?: TfjsQuantization;
}
export interface TfjsGroup {
  /** shard paths as written in the manifest */
  paths: string[];
  /** absolute shard paths */
  files: string[];
  weights: TfjsWeightSpec[];
}
export interface TfjsManifest {
  kind: 'graph-model' | 'layers-model' | 'weights-manifest';
  groups: TfjsGroup[];
  /** model.json keys other than weightsManifest (format, modelTopology, signature…) */
  model?: Record<string, unknown>;
}

const WIDTH: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8, float16: 2, uint8: 1, int8: 1, uint16: 2, int16: 2 };
const TO_DTYPE: Record<string, DType> = { float32: 'F32', int32: 'I32', bool: 'BOOL', complex64: 'C64', float16: 'F16', uint8: 'U8', int8: 'I8', uint16: 'U16', int16: 'I16', string: 'STRING' };

/** The dtype the bytes are stored in (quantization dtype when quantized). */
export function storedDType(w: TfjsWeightSpec): string {
  return w.quantization?.dtype ?? w.dtype;
}

/** Byte size of a non-string weight. */
export function weightByteLength(w: TfjsWeightSpec): number {
  return numel(w.shape) * WIDTH[storedDType(w)]!;
}

export function isTfjsJsonName(path: string): boolean {
  return path.toLowerCase().endsWith('.json');
}

/** Validate a parsed model.json or manifest. `dir` resolves shard paths; pure otherwise. */
export function parseTfjsManifest(json: unknown, dir: string, path = '<tfjs>'): TfjsManifest {
  let groupsJson: unknown;
  let kind: TfjsManifest['kind'];
  let model: Record<string, unknown> | undefined;
  if (Array.isArray(json)) {
    kind = 'weights-manifest';
    groupsJson = json;
  } else if (json && typeof json === 'object' && 'weightsManifest' in json) {
    const { weightsManifest, ...rest } = json as Record<string, unknown>;
    groupsJson = weightsManifest;
    model = rest;
    const fmt = rest['format'];
    const topo = rest['modelTopology'] as Record<string, unknown> | undefined;
    kind = fmt === 'layers-model' || (fmt === undefined && topo && ('class_name' in topo || 'model_config' in topo)) ? 'layers-model' : 'graph-model';
  } else {
    throw inputError('TFJS_NOT_A_MODEL', `${path}: JSON is neither a TensorFlow.js model.json (no weightsManifest) nor a weights manifest array`);
  }
  if (!Array.isArray(groupsJson)) throw inputError('TFJS_BAD_MANIFEST', `${path}: weightsManifest is not an array`);
  const groups: TfjsGroup[] = groupsJson.map((g, gi) => {
    if (!g || typeof g !== 'object') throw inputError('TFJS_BAD_MANIFEST', `${path}: weights group ${gi} is not an object`);
    const { paths, weights } = g as { paths?: unknown; weights?: unknown };
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string' && p.length > 0)) throw inputError('TFJS_BAD_MANIFEST', `${path}: weights group ${gi} has no valid "paths" list`);
    if (!Array.isArray(weights)) throw inputError('TFJS_BAD_MANIFEST', `${path}: weights group ${gi} has no "weights" list`);
    const files = (paths as string[]).map((p) => {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p) || p.startsWith('/') || p.split(/[\\/]/).includes('..')) {
        throw inputError('TFJS_SHARD_PATH_ESCAPES', `${path}: shard path ${q(p)} is not a file next to the manifest`);
      }
      return resolve(dir, p);
    });
    const specs = weights.map((w, wi): TfjsWeightSpec => {
      const x = w as Record<string, unknown>;
      if (!x || typeof x !== 'object' || typeof x['name'] !== 'string') throw inputError('TFJS_BAD_WEIGHT', `${path}: weight ${wi} of group ${gi} has no name`);
      const name = x['name'];
      const shape = x['shape'];
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0) || !Number.isSafeInteger(numel(shape))) throw inputError('TFJS_BAD_WEIGHT', `${path}: weight ${q(name)} has an invalid shape ${JSON.stringify(shape)}`);
      const dtype = x['dtype'];
      if (typeof dtype !== 'string' || !(dtype in TO_DTYPE)) throw inputError('TFJS_UNKNOWN_DTYPE', `${path}: weight ${q(name)} has unknown dtype ${JSON.stringify(dtype)}`);
      const spec: TfjsWeightSpec = { name, shape: shape as number[], dtype: dtype as TfjsDType };
      const qz = x['quantization'] as Record<string, unknown> | undefined;
      if (qz !== undefined) {
        if (!qz || typeof qz !== 'object' || !['uint8', 'uint16', 'float16'].includes(qz['dtype'] as string)) throw inputError('TFJS_BAD_QUANTIZATION', `${path}: weight ${q(name)} has an invalid quantization ${q(JSON.stringify(qz) ?? '')}`);
        if (qz['dtype'] !== 'float16' && (typeof qz['scale'] !== 'number' || typeof qz['min'] !== 'number')) throw inputError('TFJS_BAD_QUANTIZATION', `${path}: weight ${q(name)} ${qz['dtype']} quantization needs numeric scale and min`);
        spec.quantization = qz as unknown as TfjsQuantization;
      }
      return spec;
    });
    return { paths: paths as string[], files, weights: specs };
  });
  return { kind, groups, ...(model ? { model } : {}) };
}

export interface TfjsPlacement {
  weight: TfjsWeightSpec;
  group: number;
  /** byte offset in the group's concatenated shards */
  groupOffset: number;
  length: number;
}

/**
 * Lay out each group's weights back to back; `stringLength(group, offset, weight)` measures string
 * weights (it reads the u32 length prefixes). Checks that the shards hold every byte.
 */
export async function placeTfjsWeights(
  m: TfjsManifest,
  shardSizes: number[][],
  stringLength: (group: number, offset: number, w: TfjsWeightSpec) => Promise<number>,
  path = '<tfjs>',
): Promise<TfjsPlacement[]> {
  const out: TfjsPlacement[] = [];
  for (let g = 0; g < m.groups.length; g++) {
    const total = shardSizes[g]!.reduce((a, b) => a + b, 0);
    let off = 0;
    for (const w of m.groups[g]!.weights) {
      const length = w.dtype === 'string' && !w.quantization ? await stringLength(g, off, w) : weightByteLength(w);
      if (off + length > total) throw inputError('TFJS_SHARDS_TOO_SMALL', `${path}: weight ${q(w.name)} needs bytes ${off}..${off + length} of group ${g}, whose shards hold ${total}`, { need: off + length, have: total });
      out.push({ weight: w, group: g, groupOffset: off, length });
      off += length;
    }
  }
  return out;
}

/** Split placements into per-shard TensorInfos (one per piece when a tensor crosses shards). */
export function tfjsTensorInfos(m: TfjsManifest, shardSizes: number[][], places: TfjsPlacement[]): TensorInfo[] {
  const infos: TensorInfo[] = [];
  for (const p of places) {
    const files = m.groups[p.group]!.files;
    const sizes = shardSizes[p.group]!;
    const stored = storedDType(p.weight);
    const dtype = TO_DTYPE[stored]!;
    const width = WIDTH[stored] ?? 1;
    const baseExtra: Record<string, unknown> = { tfjsDType: p.weight.dtype, ...(p.weight.quantization ? { quantization: p.weight.quantization } : {}) };
    // find the pieces
    let shardStart = 0;
    const pieces: { shard: number; offset: number; length: number; tensorOffset: number }[] = [];
    for (let s = 0; s < sizes.length && pieces.reduce((a, x) => a + x.length, 0) < p.length; s++) {
      const shardEnd = shardStart + sizes[s]!;
      const a = Math.max(p.groupOffset, shardStart);
      const b = Math.min(p.groupOffset + p.length, shardEnd);
      if (b > a || (p.length === 0 && p.groupOffset >= shardStart && p.groupOffset <= shardEnd && pieces.length === 0)) {
        pieces.push({ shard: s, offset: a - shardStart, length: Math.max(0, b - a), tensorOffset: a - p.groupOffset });
      }
      shardStart = shardEnd;
    }
    if (pieces.length === 0) pieces.push({ shard: Math.max(0, sizes.length - 1), offset: sizes[sizes.length - 1] ?? 0, length: 0, tensorOffset: 0 });
    if (pieces.length === 1) {
      const x = pieces[0]!;
      infos.push({ name: p.weight.name, dtype, shape: p.weight.shape, offset: x.offset, length: x.length, file: files[x.shard]!, extra: { ...baseExtra, shard: x.shard } });
      continue;
    }
    pieces.forEach((x, i) => {
      const whole = x.tensorOffset % width === 0 && x.length % width === 0 && dtype !== 'STRING';
      infos.push({
        name: p.weight.name,
        dtype: whole ? dtype : 'U8',
        shape: whole ? [x.length / width] : [x.length],
        offset: x.offset,
        length: x.length,
        file: files[x.shard]!,
        extra: { ...baseExtra, shard: x.shard, piece: i, pieces: pieces.length, pieceOffset: x.tensorOffset, tensorLength: p.length, tensorShape: p.weight.shape, tensorDType: dtype },
      });
    });
  }
  return infos;
}

async function readJson(path: string): Promise<unknown> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw fromSystemError(e, path);
  }
  if (st.size > MAX_TFJS_JSON_BYTES) throw inputError('TFJS_JSON_TOO_LARGE', `${path}: ${st.size} bytes exceeds the ${MAX_TFJS_JSON_BYTES}-byte limit for a model.json`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw fromSystemError(e, path);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw inputError('TFJS_INVALID_JSON', `${path}: not valid JSON (${(e as Error).message.replace(/\s+/g, ' ')})`);
  }
}

/** Find the model.json / manifest in a directory. */
export async function findTfjsJson(dir: string): Promise<string> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter(isTfjsJsonName).sort();
  } catch (e) {
    throw fromSystemError(e, dir);
  }
  const prefer = ['model.json', ...names.filter((n) => n.endsWith('weights_manifest.json')), ...names];
  for (const n of prefer.filter((n) => names.includes(n)).slice(0, MAX_TFJS_DIR_SCAN)) {
    try {
      const j = await readJson(join(dir, n));
      parseTfjsManifest(j, dir, join(dir, n));
      return join(dir, n);
    } catch {
      // not a manifest; try the next
    }
  }
  throw inputError('TFJS_NO_MANIFEST', `${dir}: no TensorFlow.js model.json or weights manifest in this directory`);
}

async function shardSizesOf(m: TfjsManifest, path: string): Promise<number[][]> {
  const out: number[][] = [];
  for (const g of m.groups) {
    const sizes: number[] = [];
    for (const f of g.files) {
      try {
        sizes.push((await stat(f)).size);
      } catch (e) {
        throw inputError('TFJS_SHARD_MISSING', `${path}: weight shard ${f} cannot be read (${fromSystemError(e, f).message})`);
      }
    }
    out.push(sizes);
  }
  return out;
}

/** Reads string weights' u32 length prefixes across a group's shards. */
function stringMeasurer(m: TfjsManifest, sizes: number[][], path: string) {
  const open = new Map<string, NamedSource>();
  const readAt = async (g: number, off: number, n: number): Promise<Uint8Array> => {
    const out = new Uint8Array(n);
    let got = 0;
    let start = 0;
    for (let s = 0; s < sizes[g]!.length && got < n; s++) {
      const end = start + sizes[g]![s]!;
      const a = off + got;
      if (a < end) {
        const k = Math.min(n - got, end - a);
        const f = m.groups[g]!.files[s]!;
        let src = open.get(f);
        if (!src) open.set(f, (src = await openSource(f)));
        out.set(await src.read(a - start, k), got);
        got += k;
      }
      start = end;
    }
    if (got < n) throw inputError('TFJS_SHARDS_TOO_SMALL', `${path}: string weight data runs past the end of group ${g}'s shards`);
    return out;
  };
  return {
    async measure(g: number, off: number, w: TfjsWeightSpec): Promise<number> {
      let p = off;
      for (let i = 0, n = numel(w.shape); i < n; i++) {
        const b = await readAt(g, p, 4);
        const len = new DataView(b.buffer).getUint32(0, true);
        if (len > MAX_TFJS_STRING) throw inputError('TFJS_BAD_STRING', `${path}: string weight ${q(w.name)} element ${i} claims ${len} bytes`);
        p += 4 + len;
      }
      return p - off;
    },
    async close() {
      for (const s of open.values()) await s.close();
    },
  };
}

async function loadManifest(jsonPath: string): Promise<{ m: TfjsManifest; sizes: number[][]; tensors: TensorInfo[] }> {
  const m = parseTfjsManifest(await readJson(jsonPath), dirname(jsonPath), jsonPath);
  const sizes = await shardSizesOf(m, jsonPath);
  const meas = stringMeasurer(m, sizes, jsonPath);
  try {
    const places = await placeTfjsWeights(m, sizes, (g, o, w) => meas.measure(g, o, w), jsonPath);
    return { m, sizes, tensors: tfjsTensorInfos(m, sizes, places) };
  } finally {
    await meas.close();
  }
}

function tfjsMeta(m: TfjsManifest, sizes: number[][], jsonPath: string): Record<string, unknown> {
  const quant: Record<string, number> = Object.create(null) as Record<string, number>; // keys come from the file
  for (const g of m.groups) for (const w of g.weights) if (w.quantization) quant[w.quantization.dtype] = (quant[w.quantization.dtype] ?? 0) + 1;
  const meta: Record<string, unknown> = {
    modelType: m.kind === 'graph-model' ? 'graph' : m.kind === 'layers-model' ? 'layers' : 'weights-manifest',
    manifest: jsonPath,
    shards: m.groups.flatMap((g, gi) => g.files.map((f, i) => ({ path: f, size: sizes[gi]![i] }))),
    weightCount: m.groups.reduce((a, g) => a + g.weights.length, 0),
  };
  if (Object.keys(quant).length) meta['quantization'] = quant;
  for (const k of ['format', 'generatedBy', 'convertedBy']) if (typeof m.model?.[k] === 'string') meta[k] = m.model[k];
  return meta;
}

/** Layout of a tfjs model.json / manifest (or a directory holding one): tensors point into the shards. */
export async function readTfjsLayout(path: string): Promise<ModelLayout> {
  let jsonPath = path;
  try {
    if ((await stat(path)).isDirectory()) jsonPath = await findTfjsJson(path);
  } catch (e) {
    throw fromSystemError(e, path);
  }
  const { m, sizes, tensors } = await loadManifest(jsonPath);
  const size = (await stat(jsonPath)).size;
  return { format: 'tfjs', size, tensors, meta: tfjsMeta(m, sizes, jsonPath) };
}

/**
 * If `path` is a weight shard listed by a manifest in its directory, the layout of that shard alone
 * (offsets inside the shard; pieces of tensors that cross into other shards are marked). Else undefined.
 */
export async function readTfjsShardLayout(path: string, size: number): Promise<ModelLayout | undefined> {
  const dir = dirname(path);
  const abs = resolve(path);
  let names: string[];
  try {
    names = (await readdir(dir)).filter(isTfjsJsonName).sort().slice(0, MAX_TFJS_DIR_SCAN);
  } catch {
    return undefined;
  }
  for (const n of names) {
    const jp = join(dir, n);
    let m: TfjsManifest;
    try {
      m = parseTfjsManifest(await readJson(jp), dir, jp);
    } catch {
      continue;
    }
    if (!m.groups.some((g) => g.files.includes(abs))) continue;
    const { sizes, tensors } = await loadManifest(jp);
    const mine = tensors.filter((t) => t.file === abs).map(({ file: _f, ...t }) => t);
    return { format: 'tfjs', size, tensors: mine, meta: { ...tfjsMeta(m, sizes, jp), shardOf: jp, shard: basename(path) } };
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------
// writer

export interface TfjsWriteWeight {
  name: string;
  shape: number[];
  dtype: TfjsDType;
  quantization?: TfjsQuantization;
  /** stored bytes (quantized bytes when quantized; u32-length-prefixed elements for strings) */
  data: Uint8Array;
}

export interface TfjsWriteOptions {
  /** the model.json object without weightsManifest (format, modelTopology, signature…); omit for a bare manifest */
  model?: Record<string, unknown>;
  /** file name of the JSON (default model.json, or weights_manifest.json for a bare manifest) */
  jsonName?: string;
  /** shard file name prefix (default "group1-shard") */
  shardPrefix?: string;
  /** max bytes per shard (default 4 MiB, as tfjs converters do) */
  shardBytes?: number;
  /** exact shard sizes to reproduce an existing split (overrides shardBytes) */
  shardSizes?: number[];
  /** exact shard file names (with shardSizes) */
  shardNames?: string[];
  /** original JSON text: written verbatim when it describes exactly the same manifest and model */
  originalJson?: string;
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
}

/** Write a tfjs model (model.json + shards, or a bare manifest + shards) into `dir`. */
export async function writeTfjsModel(dir: string, weights: TfjsWriteWeight[], opts: TfjsWriteOptions = {}): Promise<{ json: string; shards: string[] }> {
  for (const w of weights) {
    if (w.dtype !== 'string' || w.quantization) {
      const want = weightByteLength(w);
      if (w.data.length !== want) throw inputError('TFJS_SIZE_MISMATCH', `tfjs write: weight ${q(w.name)} has ${w.data.length} bytes, ${want} expected`);
    }
  }
  const total = weights.reduce((a, w) => a + w.data.length, 0);
  const sizes: number[] = [];
  if (opts.shardSizes) {
    if (opts.shardSizes.reduce((a, b) => a + b, 0) !== total) throw inputError('TFJS_SIZE_MISMATCH', `tfjs write: shard sizes do not add up to the ${total} weight bytes`);
    sizes.push(...opts.shardSizes);
  } else {
    const per = opts.shardBytes ?? 4 * 1024 * 1024;
    for (let left = total; left > 0 || sizes.length === 0; left -= per) sizes.push(Math.min(per, Math.max(left, 0)));
  }
  const prefix = opts.shardPrefix ?? 'group1-shard';
  const names = opts.shardNames ?? sizes.map((_, i) => `${prefix}${i + 1}of${sizes.length}.bin`);
  if (names.length !== sizes.length) throw inputError('TFJS_SIZE_MISMATCH', 'tfjs write: shardNames and shardSizes differ in length');
  // stream the concatenated weights into the shards
  let wi = 0;
  let wo = 0;
  for (let s = 0; s < sizes.length; s++) {
    await writeFileAtomic(join(dir, names[s]!), async (out) => {
      let need = sizes[s]!;
      while (need > 0) {
        const w = weights[wi]!;
        const k = Math.min(need, w.data.length - wo);
        await out.write(w.data.subarray(wo, wo + k));
        need -= k;
        wo += k;
        if (wo === w.data.length) {
          wi++;
          wo = 0;
        }
      }
    });
    while (wi < weights.length && weights[wi]!.data.length === 0) wi++;
  }
  const manifest = [{ paths: names, weights: weights.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype, ...(w.quantization ? { quantization: w.quantization } : {}) })) }];
  const doc = opts.model ? { ...opts.model, weightsManifest: manifest } : manifest;
  const jsonName = opts.jsonName ?? (opts.model ? 'model.json' : 'weights_manifest.json');
  let text = JSON.stringify(doc);
  if (opts.originalJson !== undefined) {
    try {
      const orig = JSON.parse(opts.originalJson);
      if (canonical(orig) === canonical(doc)) text = opts.originalJson;
    } catch {
      // not JSON: ignore
    }
  }
  const json = join(dir, jsonName);
  await writeFileAtomic(json, async (w) => w.write(new TextEncoder().encode(text)));
  return { json, shards: names.map((n) => join(dir, n)) };
}

/** Read every weight's stored bytes (joining pieces across shards) — for small models and rewrites. */
export async function readTfjsWeights(jsonPath: string): Promise<{ manifest: TfjsManifest; weights: TfjsWriteWeight[]; shardSizes: number[][]; json: string }> {
  const json = await readFile(jsonPath, 'utf8').catch((e) => {
    throw fromSystemError(e, jsonPath);
  });
  const { m, sizes, tensors } = await loadManifest(jsonPath);
  const byWeight = new Map<string, Uint8Array[]>();
  const order: { name: string; spec: TfjsWeightSpec }[] = m.groups.flatMap((g) => g.weights.map((w) => ({ name: w.name, spec: w })));
  const srcs = new Map<string, NamedSource>();
  try {
    for (const t of tensors) {
      let s = srcs.get(t.file!);
      if (!s) srcs.set(t.file!, (s = await openSource(t.file!)));
      const parts = byWeight.get(t.name) ?? [];
      parts.push(await s.read(t.offset, t.length));
      byWeight.set(t.name, parts);
    }
  } finally {
    for (const s of srcs.values()) await s.close();
  }
  const weights = order.map(({ name, spec }) => {
    const parts = byWeight.get(name) ?? [];
    const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    byWeight.set(name, []); // duplicate names: each occurrence consumes its pieces once
    return { ...spec, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  });
  return { manifest: m, weights, shardSizes: sizes, json };
}

/**
 * A weight's values as float32, decoding its stored bytes as tfjs does (io.decodeWeights):
 * uint8/uint16 quantization → q × scale + min (rounded when the original dtype is int32),
 * float16 → f16, otherwise the plain dtype.
 */
export function readTfjsWeightAsF32(w: Pick<TfjsWeightSpec, 'name' | 'shape' | 'dtype' | 'quantization'>, data: Uint8Array): Float32Array {
  const n = numel(w.shape);
  const qz = w.quantization;
  if (!qz) {
    if (w.dtype === 'string') throw inputError('DTYPE_NOT_NUMERIC', `tfjs weight ${q(w.name)}: string weights have no float values`);
    return readTensorAsF32({ name: w.name, dtype: TO_DTYPE[w.dtype]!, shape: w.shape }, data);
  }
  const need = n * WIDTH[qz.dtype]!;
  if (data.length < need) throw inputError('TENSOR_DATA_TRUNCATED', `tfjs weight ${q(w.name)}: ${data.length} bytes, ${need} expected`);
  if (qz.dtype === 'float16') {
    const u16 = new Uint16Array(n);
    const dv = new DataView(data.buffer, data.byteOffset, need);
    for (let i = 0; i < n; i++) u16[i] = dv.getUint16(i * 2, true);
    return f16ToF32(u16);
  }
  const scale = qz.scale ?? 1;
  const min = qz.min ?? 0;
  const round = w.dtype === 'int32';
  const out = new Float32Array(n);
  const dv = new DataView(data.buffer, data.byteOffset, need);
  for (let i = 0; i < n; i++) {
    const v = (qz.dtype === 'uint8' ? dv.getUint8(i) : dv.getUint16(i * 2, true)) * scale + min;
    out[i] = round ? Math.round(v) : v;
  }
  return out;
}
