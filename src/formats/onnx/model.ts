/**
 * ONNX models as plain JS objects mirroring ModelProto: `decodeOnnxModel(bytes)` and
 * `encodeOnnxModel(model)` through protobufjs and our schema (onnx.proto). int64 fields become
 * numbers (bigint when beyond 2^53, so nothing is lost); bytes fields are zero-copy views into the
 * input (copy before mutating them in place). Presence of scalar fields is kept, so encoding an
 * unmodified model reproduces the input byte for byte; if an input carries fields our schema does
 * not know (protobufjs drops them) or a non-canonical encoding, encoding the unmodified model
 * returns the original bytes. Tensor helpers read raw_data or the typed fields. No file I/O here.
 */
import { q } from '../quote.ts';
import protobuf from 'protobufjs';
import { inputError, McdnError } from '../../errors.ts';
import { numel, type DType } from '../types.ts';
import { onnxType } from './schema.ts';
import { dtypeToOnnxDataType, isOnnx4Bit, onnxDataTypeToDType, onnxRawByteLength } from './dtypes.ts';

export type Int64 = number | bigint;

export interface OnnxStringEntry { key?: string; value?: string }
export interface OnnxOpsetId { domain?: string; version?: Int64 }
export interface OnnxTensor {
  dims: Int64[];
  data_type?: number;
  segment?: { begin?: Int64; end?: Int64 };
  float_data: number[];
  int32_data: number[];
  string_data: Uint8Array[];
  int64_data: Int64[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data: OnnxStringEntry[];
  data_location?: number;
  double_data: number[];
  uint64_data: Int64[];
  metadata_props: OnnxStringEntry[];
}
export interface OnnxSparseTensor { values?: OnnxTensor; indices?: OnnxTensor; dims: Int64[] }
/** TypeProto, loosely typed (tensor_type / sequence_type / map_type / optional_type / …). */
export type OnnxTypeProto = Record<string, unknown>;
export interface OnnxValueInfo { name?: string; type?: OnnxTypeProto; doc_string?: string; metadata_props: OnnxStringEntry[] }
export interface OnnxAttribute {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  sparse_tensor?: OnnxSparseTensor;
  tp?: OnnxTypeProto;
  floats: number[];
  ints: Int64[];
  strings: Uint8Array[];
  tensors: OnnxTensor[];
  graphs: OnnxGraph[];
  sparse_tensors: OnnxSparseTensor[];
  type_protos: OnnxTypeProto[];
}
export interface OnnxNode {
  input: string[];
  output: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute: OnnxAttribute[];
  doc_string?: string;
  metadata_props: OnnxStringEntry[];
}
export interface OnnxGraph {
  node: OnnxNode[];
  name?: string;
  initializer: OnnxTensor[];
  sparse_initializer: OnnxSparseTensor[];
  doc_string?: string;
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  value_info: OnnxValueInfo[];
  quantization_annotation: { tensor_name?: string; quant_parameter_tensor_names: OnnxStringEntry[] }[];
  metadata_props: OnnxStringEntry[];
}
export interface OnnxFunction {
  name?: string;
  input: string[];
  output: string[];
  attribute: string[];
  attribute_proto: OnnxAttribute[];
  node: OnnxNode[];
  doc_string?: string;
  opset_import: OnnxOpsetId[];
  domain?: string;
  overload?: string;
  value_info: OnnxValueInfo[];
  metadata_props: OnnxStringEntry[];
}
export interface OnnxModel {
  ir_version?: Int64;
  opset_import: OnnxOpsetId[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: OnnxGraph;
  metadata_props: OnnxStringEntry[];
  training_info: { initialization?: OnnxGraph; algorithm?: OnnxGraph; initialization_binding: OnnxStringEntry[]; update_binding: OnnxStringEntry[] }[];
  functions: OnnxFunction[];
}

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const ORIGINAL = Symbol('onnx.originalBytes');

type Plain = Record<string, unknown>;

function longToPlain(v: unknown): Int64 {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  const l = v as { low: number; high: number; unsigned?: boolean };
  const u = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
  const b = l.unsigned ? u : BigInt.asIntN(64, u);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

function toPlain(msg: Plain, type: protobuf.Type): Plain {
  const out: Plain = {};
  for (const f of type.fieldsArray) {
    const v = msg[f.name];
    if (f.repeated) {
      const arr = (v as unknown[] | undefined) ?? [];
      out[f.name] = arr.length ? arr.map((x) => convOut(f, x)) : [];
    } else if (v != null && Object.hasOwn(msg, f.name)) {
      out[f.name] = convOut(f, v);
    }
  }
  return out;
}

function convOut(f: protobuf.Field, x: unknown): unknown {
  if (f.resolvedType instanceof protobuf.Type) return toPlain(x as Plain, f.resolvedType);
  if (LONG_TYPES.has(f.type)) return longToPlain(x);
  if (f.type === 'bytes' && x instanceof Uint8Array) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength); // plain view, not a Buffer
  return x;
}

function fromPlain(obj: Plain, type: protobuf.Type): Plain {
  const out: Plain = {};
  for (const f of type.fieldsArray) {
    const v = obj[f.name];
    if (v === undefined || v === null) continue;
    if (f.repeated) {
      if (!Array.isArray(v)) throw inputError('ONNX_BAD_MODEL_OBJECT', `ONNX encode: field ${type.name}.${f.name} must be an array`);
      if (v.length) out[f.name] = v.map((x) => convIn(f, x));
    } else {
      out[f.name] = convIn(f, v);
    }
  }
  return out;
}

function convIn(f: protobuf.Field, x: unknown): unknown {
  if (f.resolvedType instanceof protobuf.Type) return fromPlain(x as Plain, f.resolvedType);
  if (typeof x === 'bigint') {
    const u = BigInt.asUintN(64, x);
    return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: f.type === 'uint64' || f.type === 'fixed64' };
  }
  return x;
}

/** Decode an ONNX ModelProto. Throws McdnError ONNX_DECODE_FAILED on malformed protobuf. */
export function decodeOnnxModel(bytes: Uint8Array, path = '<onnx>'): OnnxModel {
  const T = onnxType('ModelProto');
  let msg: Plain;
  try {
    msg = T.decode(bytes) as unknown as Plain;
  } catch (e) {
    throw onnxDecodeError(e, path);
  }
  const model = toPlain(msg, T) as unknown as OnnxModel;
  Object.defineProperty(model, ORIGINAL, { value: bytes, enumerable: false });
  return model;
}

function onnxDecodeError(e: unknown, path: string): McdnError {
  if (e instanceof McdnError) return e;
  const msg = (e as Error)?.message?.split('\n')[0] ?? String(e);
  return inputError('ONNX_DECODE_FAILED', `${path}: not a valid ONNX protobuf (${msg})`);
}

function encodePlain(model: OnnxModel): Uint8Array {
  const T = onnxType('ModelProto');
  try {
    const b = T.encode(fromPlain(model as unknown as Plain, T)).finish();
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength); // plain view, not a Buffer
  } catch (e) {
    if (e instanceof McdnError) throw e;
    throw inputError('ONNX_ENCODE_FAILED', `ONNX encode: ${(e as Error)?.message?.split('\n')[0] ?? String(e)}`);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

/** Encode a model; an unmodified decoded model gives back exactly the bytes it was decoded from. */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const out = encodePlain(model);
  const orig = (model as unknown as Record<symbol, Uint8Array | undefined>)[ORIGINAL];
  if (orig && !equalBytes(out, orig)) {
    // The input had unknown fields or a non-canonical encoding: if the model is semantically unchanged
    // (its encoding equals the original's canonical re-encoding), return the original bytes.
    const canonical = encodePlain(decodeOnnxModel(orig));
    if (equalBytes(canonical, out)) return orig;
  }
  return out;
}

/** A structural deep copy (bytes fields copied too) that no longer carries the original bytes. */
export function cloneOnnxModel(model: OnnxModel): OnnxModel {
  return structuredClone(model);
}

// ---------------------------------------------------------------------------------------------
// tensors

export interface OnnxTensorBytes {
  dtype: DType;
  /** the ONNX data_type number */
  dataType: number;
  shape: number[];
  /** little-endian fixed-width element bytes (as raw_data would hold them) */
  bytes: Uint8Array;
}

export function tensorShape(t: Pick<OnnxTensor, 'dims'>): number[] {
  return (t.dims ?? []).map((d) => Number(d));
}

/** Data lives in an external file (and has not been loaded into raw_data). */
export function isExternalTensor(t: OnnxTensor): boolean {
  return t.raw_data === undefined && (t.data_location === 1 || (t.external_data?.length ?? 0) > 0);
}

/** External data entries as a record (location, offset, length, checksum). */
export function externalDataInfo(t: OnnxTensor): { location: string; offset: number; length?: number } | undefined {
  if (!isExternalTensor(t)) return undefined;
  const kv = new Map((t.external_data ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = kv.get('location');
  const name = t.name ?? '<unnamed>';
  if (!location) throw inputError('ONNX_EXTERNAL_NO_LOCATION', `ONNX tensor ${q(name)}: external data without a location`);
  const num = (k: string): number | undefined => {
    const s = kv.get(k);
    if (s === undefined || s === '') return undefined;
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw inputError('ONNX_EXTERNAL_BAD_NUMBER', `ONNX tensor ${q(name)}: external data ${k} ${q(s)} is not a byte count`);
    return Number(s);
  };
  const length = num('length');
  return { location, offset: num('offset') ?? 0, ...(length !== undefined ? { length } : {}) };
}

/**
 * A tensor's element bytes (raw_data, or the typed field converted to fixed-width little-endian).
 * External tensors must be resolved first (see resolveExternalData in external.ts).
 */
export function onnxTensorData(t: OnnxTensor): OnnxTensorBytes {
  const name = t.name ?? '<unnamed>';
  const dataType = t.data_type ?? 0;
  const dtype = onnxDataTypeToDType(dataType);
  if (!dtype || dtype === 'STRING') throw inputError('ONNX_TENSOR_NOT_NUMERIC', `ONNX tensor ${q(name)}: data type ${dataType} has no fixed-width byte form`);
  if (isExternalTensor(t)) throw inputError('ONNX_EXTERNAL_UNRESOLVED', `ONNX tensor ${q(name)}: data is in an external file; resolve external data first`);
  const shape = tensorShape(t);
  const n = numel(shape);
  const want = onnxRawByteLength(dataType, n)!;
  if (t.raw_data !== undefined) {
    if (t.raw_data.length !== want) throw inputError('ONNX_TENSOR_SIZE_MISMATCH', `ONNX tensor ${q(name)}: raw_data has ${t.raw_data.length} bytes, ${want} expected for shape [${shape.join(',')}]`);
    return { dtype, dataType, shape, bytes: t.raw_data };
  }
  const out = new Uint8Array(want);
  const dv = new DataView(out.buffer);
  const count = (len: number, per = 1) => {
    if (len !== n * per && !(len === 0 && n === 0)) throw inputError('ONNX_TENSOR_SIZE_MISMATCH', `ONNX tensor ${q(name)}: ${len} typed values for ${n} elements`);
  };
  if (t.float_data?.length || dataType === 1 || dataType === 14) {
    const per = dataType === 14 ? 2 : 1;
    count(t.float_data.length, per);
    t.float_data.forEach((v, i) => dv.setFloat32(i * 4, v, true));
  } else if (t.double_data?.length || dataType === 11 || dataType === 15) {
    const per = dataType === 15 ? 2 : 1;
    count(t.double_data.length, per);
    t.double_data.forEach((v, i) => dv.setFloat64(i * 8, v, true));
  } else if (dataType === 7) {
    count(t.int64_data.length);
    t.int64_data.forEach((v, i) => dv.setBigInt64(i * 8, BigInt(v), true));
  } else if (dataType === 12 || dataType === 13) {
    count(t.uint64_data.length);
    t.uint64_data.forEach((v, i) => (dataType === 12 ? dv.setUint32(i * 4, Number(v), true) : dv.setBigUint64(i * 8, BigInt.asUintN(64, BigInt(v)), true)));
  } else if (isOnnx4Bit(dataType)) {
    // int32_data holds the packed bytes, one byte per int32 value
    count(t.int32_data.length * 2 >= n && t.int32_data.length === want ? n : -1);
    t.int32_data.forEach((v, i) => (out[i] = v & 0xff));
  } else {
    count(t.int32_data.length);
    const w = want / Math.max(n, 1);
    t.int32_data.forEach((v, i) => {
      if (w === 4) dv.setInt32(i * 4, v, true);
      else if (w === 2) dv.setUint16(i * 2, v & 0xffff, true);
      else out[i] = v & 0xff;
    });
  }
  return { dtype, dataType, shape, bytes: out };
}

/** A TensorProto holding `bytes` (little-endian element bytes) in raw_data. */
export function makeOnnxTensor(name: string, dtype: DType | number, shape: number[], bytes: Uint8Array): OnnxTensor {
  const dataType = typeof dtype === 'number' ? dtype : dtypeToOnnxDataType(dtype);
  if (dataType === undefined || dataType === 8) throw inputError('ONNX_TENSOR_NOT_NUMERIC', `ONNX tensor ${q(name)}: dtype ${dtype} cannot be stored in raw_data`);
  const want = onnxRawByteLength(dataType, numel(shape));
  if (want !== bytes.length) throw inputError('ONNX_TENSOR_SIZE_MISMATCH', `ONNX tensor ${q(name)}: ${bytes.length} bytes given, ${want} expected for shape [${shape.join(',')}]`);
  return {
    dims: [...shape],
    data_type: dataType,
    float_data: [],
    int32_data: [],
    string_data: [],
    int64_data: [],
    name,
    raw_data: bytes,
    external_data: [],
    double_data: [],
    uint64_data: [],
    metadata_props: [],
  };
}

/** Visit every TensorProto in a model: graph initializers, Constant/attribute tensors, subgraphs, functions, training graphs. */
export function forEachOnnxTensor(model: OnnxModel, fn: (t: OnnxTensor, where: { graphPath: string; kind: 'initializer' | 'attribute' | 'sparse'; node?: OnnxNode }) => void): void {
  const visitNodes = (nodes: OnnxNode[], path: string) => {
    for (const node of nodes ?? []) {
      for (const a of node.attribute ?? []) {
        if (a.t) fn(a.t, { graphPath: path, kind: 'attribute', node });
        for (const t of a.tensors ?? []) fn(t, { graphPath: path, kind: 'attribute', node });
        for (const s of [a.sparse_tensor, ...(a.sparse_tensors ?? [])]) {
          if (s?.values) fn(s.values, { graphPath: path, kind: 'sparse', node });
          if (s?.indices) fn(s.indices, { graphPath: path, kind: 'sparse', node });
        }
        if (a.g) visitGraph(a.g, `${path}/${node.name ?? node.op_type}.${a.name}`);
        (a.graphs ?? []).forEach((g, i) => visitGraph(g, `${path}/${node.name ?? node.op_type}.${a.name}[${i}]`));
      }
    }
  };
  const visitGraph = (g: OnnxGraph, path: string) => {
    for (const t of g.initializer ?? []) fn(t, { graphPath: path, kind: 'initializer' });
    for (const s of g.sparse_initializer ?? []) {
      if (s.values) fn(s.values, { graphPath: path, kind: 'sparse' });
      if (s.indices) fn(s.indices, { graphPath: path, kind: 'sparse' });
    }
    visitNodes(g.node, path);
  };
  if (model.graph) visitGraph(model.graph, '');
  (model.functions ?? []).forEach((f) => visitNodes(f.node, `function:${f.domain ?? ''}.${f.name ?? ''}`));
  (model.training_info ?? []).forEach((ti, i) => {
    if (ti.initialization) visitGraph(ti.initialization, `training[${i}].initialization`);
    if (ti.algorithm) visitGraph(ti.algorithm, `training[${i}].algorithm`);
  });
}
