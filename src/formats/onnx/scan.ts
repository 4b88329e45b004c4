/**
 * A wire-level protobuf scanner for ONNX ModelProto that finds every tensor payload's byte range
 * WITHOUT decoding the model: graph initializers (raw_data, or the packed typed fields — the range
 * is then the packed payload), tensors in node attributes (Constant `value`, which PaddleOCR uses
 * for weights), sparse tensors, subgraphs (If/Loop/Scan bodies), functions, training graphs, and
 * external data references. Pure: written as a generator that asks its driver for byte windows, so
 * the same code runs over a Uint8Array (`scanOnnx`) or ranged reads of a file (`scanOnnxSource`) and
 * never needs the tensor bytes themselves. Every length, count and nesting depth is checked against
 * named limits and the file size; malformed input throws McdnError with an ONNX_* code.
 */
import { q } from '../quote.ts';
import { inputError } from '../../errors.ts';
import type { RandomAccessSource } from '../types.ts';
import { onnxDataTypeToDType, onnxRawByteLength } from './dtypes.ts';

/** Subgraph nesting (graph -> node -> attribute -> graph …) we follow before giving up. */
export const MAX_GRAPH_DEPTH = 24;
/** Longest name/string field we read (longer ones are cut; they are never tensor data). */
export const MAX_NAME_BYTES = 64 * 1024;
/** Longest tensor rank we accept. */
export const MAX_TENSOR_RANK = 64;
/** Window size the file driver reads at a time. */
const CHUNK = 1 << 20;

export type OnnxDataEncoding = 'raw' | 'varint' | 'tagged' | 'strings' | 'external' | 'empty';

export interface ScannedTensor {
  name: string;
  dataType: number;
  dims: number[];
  /** absolute byte range of the payload in the .onnx file (for 'external': inside `external.location`) */
  offset: number;
  length: number;
  /** how the payload bytes encode the elements: raw = fixed-width little-endian (raw_data, packed float/double) */
  encoding: OnnxDataEncoding;
  /** which TensorProto field holds the payload (9 raw_data, 4 float_data, …) */
  field: number;
  kind: 'initializer' | 'attribute' | 'sparse';
  /** '' for the main graph, else a path such as `/Loop_0.body` */
  graph: string;
  node?: string;
  opType?: string;
  external?: { location: string; offset: number; length?: number };
  segment?: { begin: number; end: number };
  /** byte range of the whole TensorProto message */
  messageOffset: number;
  messageLength: number;
}

export interface OnnxScan {
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  graphName?: string;
  opsets: { domain: string; version: number }[];
  metadata: Record<string, string>;
  nodeCount: number;
  opTypes: Record<string, number>;
  functionCount: number;
  tensors: ScannedTensor[];
}

interface Need {
  pos: number;
  len: number;
}
type Gen<T> = Generator<Need, T, Uint8Array>;

interface Ctx {
  path: string;
  size: number;
  buf: Uint8Array;
  base: number;
  out: OnnxScan;
}

function truncated(c: Ctx, what: string, at: number): never {
  throw inputError('ONNX_TRUNCATED', `${c.path}: truncated or corrupt ONNX file: ${what} at byte ${at} runs past the end of its message (file is ${c.size} bytes)`, { offset: at });
}

function* need(c: Ctx, pos: number, n: number): Gen<void> {
  if (pos >= c.base && pos + n <= c.base + c.buf.length) return;
  if (pos + n > c.size) truncated(c, 'data', pos);
  const got = yield { pos, len: Math.max(n, CHUNK) };
  c.buf = got;
  c.base = pos;
}

/** Read a varint at pos (within [pos, end)); returns [value (as a float for > 2^53), next position]. */
function* varint(c: Ctx, pos: number, end: number): Gen<[number, number]> {
  const avail = Math.min(10, end - pos);
  if (avail <= 0) truncated(c, 'varint', pos);
  if (pos < c.base || pos + avail > c.base + c.buf.length) yield* need(c, pos, avail);
  let v = 0;
  let mul = 1;
  const b = c.buf;
  let i = pos - c.base;
  for (let k = 0; k < avail; k++) {
    const x = b[i + k]!;
    v += (x & 0x7f) * mul;
    if (x < 0x80) return [v, pos + k + 1];
    mul *= 128;
  }
  if (avail < 10) truncated(c, 'varint', pos);
  throw inputError('ONNX_BAD_VARINT', `${c.path}: varint at byte ${pos} is longer than 10 bytes`, { offset: pos });
}

/** Next field: [fieldNo, wireType, valueStart, valueEnd, varintValue]. */
function* field(c: Ctx, pos: number, end: number): Gen<[number, number, number, number, number]> {
  const [tag, p] = yield* varint(c, pos, end);
  const fno = Math.floor(tag / 8);
  const wt = tag % 8;
  if (fno === 0 || tag > 0xffffffff) throw inputError('ONNX_BAD_FIELD', `${c.path}: invalid protobuf field number at byte ${pos}`, { offset: pos });
  switch (wt) {
    case 0: {
      const [v, q] = yield* varint(c, p, end);
      return [fno, wt, p, q, v];
    }
    case 1:
      if (p + 8 > end) truncated(c, `field ${fno}`, pos);
      return [fno, wt, p, p + 8, 0];
    case 5:
      if (p + 4 > end) truncated(c, `field ${fno}`, pos);
      return [fno, wt, p, p + 4, 0];
    case 2: {
      const [len, q] = yield* varint(c, p, end);
      if (q + len > end) truncated(c, `field ${fno} (${len} bytes)`, pos);
      return [fno, wt, q, q + len, len];
    }
    default:
      throw inputError('ONNX_BAD_WIRE_TYPE', `${c.path}: unsupported protobuf wire type ${wt} at byte ${pos}`, { offset: pos });
  }
}

function expectWire(c: Ctx, msg: string, fno: number, wt: number, want: number, pos: number): void {
  if (wt !== want) throw inputError('ONNX_BAD_WIRE_TYPE', `${c.path}: ${msg} field ${fno} has wire type ${wt}, expected ${want} (byte ${pos})`, { offset: pos });
}

function* str(c: Ctx, s: number, e: number): Gen<string> {
  const n = Math.min(e - s, MAX_NAME_BYTES);
  if (n === 0) return '';
  yield* need(c, s, n);
  return new TextDecoder().decode(c.buf.subarray(s - c.base, s - c.base + n));
}

function* entry(c: Ctx, s: number, e: number): Gen<[string, string]> {
  let k = '';
  let v = '';
  for (let p = s; p < e; ) {
    const [f, wt, vs, ve] = yield* field(c, p, e);
    if (f === 1 && wt === 2) k = yield* str(c, vs, ve);
    else if (f === 2 && wt === 2) v = yield* str(c, vs, ve);
    p = ve;
  }
  return [k, v];
}

interface RawTensor {
  dims: number[];
  dataType: number;
  name: string;
  dataLocation: number;
  external: Map<string, string>;
  segment?: { begin: number; end: number };
  /** per data field: [first start, last end, packed?] */
  data: Map<number, { start: number; end: number; packed: boolean; count: number }>;
  s: number;
  e: number;
}

const DATA_FIELDS = new Set([4, 5, 6, 7, 9, 10, 11]);

function* tensorMsg(c: Ctx, s: number, e: number): Gen<RawTensor> {
  const t: RawTensor = { dims: [], dataType: 0, name: '', dataLocation: 0, external: new Map(), data: new Map(), s, e };
  for (let p = s; p < e; ) {
    const [f, wt, vs, ve, v] = yield* field(c, p, e);
    if (f === 1) {
      if (wt === 0) t.dims.push(v);
      else if (wt === 2) for (let q = vs; q < ve; ) { const [d, nq] = yield* varint(c, q, ve); t.dims.push(d); q = nq; }
      else expectWire(c, 'TensorProto.dims', f, wt, 0, p);
      if (t.dims.length > MAX_TENSOR_RANK) throw inputError('ONNX_TENSOR_RANK_TOO_LARGE', `${c.path}: tensor at byte ${s} has more than ${MAX_TENSOR_RANK} dims`);
    } else if (f === 2) {
      expectWire(c, 'TensorProto.data_type', f, wt, 0, p);
      t.dataType = v;
    } else if (f === 3) {
      expectWire(c, 'TensorProto.segment', f, wt, 2, p);
      let begin = 0;
      let end = 0;
      for (let q = vs; q < ve; ) {
        const [sf, swt, , sve, sv] = yield* field(c, q, ve);
        if (sf === 1 && swt === 0) begin = sv;
        if (sf === 2 && swt === 0) end = sv;
        q = sve;
      }
      t.segment = { begin, end };
    } else if (f === 8) {
      expectWire(c, 'TensorProto.name', f, wt, 2, p);
      t.name = yield* str(c, vs, ve);
    } else if (f === 13) {
      expectWire(c, 'TensorProto.external_data', f, wt, 2, p);
      const [k, val] = yield* entry(c, vs, ve);
      t.external.set(k, val);
    } else if (f === 14) {
      expectWire(c, 'TensorProto.data_location', f, wt, 0, p);
      t.dataLocation = v;
    } else if (DATA_FIELDS.has(f)) {
      if ((f === 9 || f === 6) && wt !== 2) expectWire(c, `TensorProto field`, f, wt, 2, p);
      const prev = t.data.get(f);
      const packed = wt === 2 && f !== 9 && f !== 6;
      if (!prev) t.data.set(f, { start: wt === 2 ? vs : p, end: ve, packed, count: 1 });
      else {
        if (f === 9) throw inputError('ONNX_DUPLICATE_RAW_DATA', `${c.path}: tensor at byte ${s} has raw_data twice`);
        prev.end = ve;
        prev.packed = false;
        prev.count++;
      }
    }
    p = ve;
  }
  return t;
}

function tensorName(raw: RawTensor, fallback: string): string {
  return raw.name || fallback;
}

function finishTensor(c: Ctx, raw: RawTensor, where: { kind: ScannedTensor['kind']; graph: string; node?: string; opType?: string; fallbackName: string }): void {
  const name = tensorName(raw, where.fallbackName);
  for (const d of raw.dims) {
    if (!Number.isSafeInteger(d)) throw inputError('ONNX_BAD_DIMS', `${c.path}: tensor ${q(name)} has an invalid dimension ${d}`);
  }
  let n = 1;
  for (const d of raw.dims) n *= d;
  if (!Number.isSafeInteger(n)) throw inputError('ONNX_BAD_DIMS', `${c.path}: tensor ${q(name)} has too many elements`);
  let elems = n;
  if (raw.segment) {
    const { begin, end } = raw.segment;
    if (!(Number.isSafeInteger(begin) && Number.isSafeInteger(end) && begin <= end && end <= n)) throw inputError('ONNX_BAD_SEGMENT', `${c.path}: tensor ${q(name)} has an invalid segment [${begin}, ${end})`);
    elems = end - begin;
  }
  const base: Omit<ScannedTensor, 'offset' | 'length' | 'encoding' | 'field'> = {
    name,
    dataType: raw.dataType,
    dims: raw.dims,
    kind: where.kind,
    graph: where.graph,
    ...(where.node !== undefined ? { node: where.node } : {}),
    ...(where.opType !== undefined ? { opType: where.opType } : {}),
    ...(raw.segment ? { segment: raw.segment } : {}),
    messageOffset: raw.s,
    messageLength: raw.e - raw.s,
  };
  const expected = onnxRawByteLength(raw.dataType, elems);
  if (raw.dataLocation === 1 || (raw.external.size > 0 && !raw.data.has(9))) {
    const location = raw.external.get('location');
    if (!location) throw inputError('ONNX_EXTERNAL_NO_LOCATION', `${c.path}: tensor ${q(name)} has external data without a location`);
    const num = (k: string): number | undefined => {
      const s = raw.external.get(k);
      if (s === undefined || s === '') return undefined;
      if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw inputError('ONNX_EXTERNAL_BAD_NUMBER', `${c.path}: tensor ${q(name)} external data ${k} "${s.slice(0, 40)}" is not a byte count`);
      return Number(s);
    };
    const offset = num('offset') ?? 0;
    const len = num('length');
    const length = len ?? expected;
    if (length === undefined) throw inputError('ONNX_EXTERNAL_NO_LENGTH', `${c.path}: tensor ${q(name)} has external data of unknown length`);
    if (len !== undefined && expected !== undefined && len !== expected) throw inputError('ONNX_TENSOR_SIZE_MISMATCH', `${c.path}: tensor ${q(name)} external length ${len} but its shape needs ${expected} bytes`);
    c.out.tensors.push({ ...base, offset, length, encoding: 'external', field: 13, external: { location, offset, ...(len !== undefined ? { length: len } : {}) } });
    return;
  }
  if (raw.data.size > 1) throw inputError('ONNX_TENSOR_MULTIPLE_DATA', `${c.path}: tensor ${q(name)} stores data in more than one field`);
  const [f, d] = [...raw.data.entries()][0] ?? [0, undefined];
  if (!d) {
    if (elems !== 0) throw inputError('ONNX_TENSOR_NO_DATA', `${c.path}: tensor ${q(name)} has ${elems} elements but no data`);
    c.out.tensors.push({ ...base, offset: raw.e, length: 0, encoding: 'empty', field: 0 });
    return;
  }
  const length = d.end - d.start;
  let encoding: OnnxDataEncoding;
  if (f === 9) {
    encoding = 'raw';
    if (expected !== undefined && length !== expected) throw inputError('ONNX_TENSOR_SIZE_MISMATCH', `${c.path}: tensor ${q(name)} raw_data has ${length} bytes, ${expected} expected for shape [${raw.dims.join(',')}]`);
  } else if (f === 6) {
    encoding = 'strings';
  } else if (!d.packed) {
    encoding = 'tagged';
  } else if (f === 4 || f === 10) {
    const w = f === 4 ? 4 : 8;
    const per = raw.dataType === 14 || raw.dataType === 15 ? 2 : 1;
    if (length !== elems * w * per) throw inputError('ONNX_TENSOR_SIZE_MISMATCH', `${c.path}: tensor ${q(name)} ${f === 4 ? 'float_data' : 'double_data'} has ${length / w} values for ${elems} elements`);
    encoding = 'raw';
  } else {
    encoding = 'varint';
  }
  c.out.tensors.push({ ...base, offset: d.start, length, encoding, field: f });
}

function* sparse(c: Ctx, s: number, e: number, where: { graph: string; node?: string; opType?: string; fallbackName: string }): Gen<void> {
  for (let p = s; p < e; ) {
    const [f, wt, vs, ve] = yield* field(c, p, e);
    if ((f === 1 || f === 2) && wt === 2) {
      const raw = yield* tensorMsg(c, vs, ve);
      finishTensor(c, raw, { ...where, kind: 'sparse', fallbackName: `${where.fallbackName}.${f === 1 ? 'values' : 'indices'}` });
    }
    p = ve;
  }
}

function* attribute(c: Ctx, s: number, e: number, graph: string, depth: number, node: { name: string; opType: string }, pending: RawPending[]): Gen<void> {
  let name = '';
  const tensors: { raw: RawTensor; idx: number }[] = [];
  let idx = 0;
  for (let p = s; p < e; ) {
    const [f, wt, vs, ve] = yield* field(c, p, e);
    if (f === 1 && wt === 2) name = yield* str(c, vs, ve);
    else if ((f === 5 || f === 10) && wt === 2) tensors.push({ raw: yield* tensorMsg(c, vs, ve), idx: f === 10 ? idx++ : -1 });
    else if ((f === 6 || f === 11) && wt === 2) yield* graphMsg(c, vs, ve, `${graph}/${node.name || node.opType}.${name || 'graph'}`, depth + 1);
    else if ((f === 22 || f === 23) && wt === 2) yield* sparse(c, vs, ve, { graph, node: node.name, opType: node.opType, fallbackName: `${node.name || node.opType}.${name}` });
    p = ve;
  }
  for (const t of tensors) pending.push({ raw: t.raw, attr: name, idx: t.idx });
}

interface RawPending {
  raw: RawTensor;
  attr: string;
  idx: number;
}

function* nodeMsg(c: Ctx, s: number, e: number, graph: string, depth: number): Gen<void> {
  let name = '';
  let opType = '';
  let firstOutput: string | undefined;
  const attrs: [number, number][] = [];
  for (let p = s; p < e; ) {
    const [f, wt, vs, ve] = yield* field(c, p, e);
    if (f === 2 && wt === 2 && firstOutput === undefined) firstOutput = yield* str(c, vs, ve);
    else if (f === 3 && wt === 2) name = yield* str(c, vs, ve);
    else if (f === 4 && wt === 2) opType = yield* str(c, vs, ve);
    else if (f === 5) {
      expectWire(c, 'NodeProto.attribute', f, wt, 2, p);
      attrs.push([vs, ve]);
    }
    p = ve;
  }
  c.out.nodeCount++;
  if (opType) c.out.opTypes[opType] = (c.out.opTypes[opType] ?? 0) + 1;
  const pending: RawPending[] = [];
  for (const [vs, ve] of attrs) yield* attribute(c, vs, ve, graph, depth, { name, opType }, pending);
  for (const t of pending) {
    const base = opType === 'Constant' && firstOutput && t.idx < 0 ? firstOutput : `${name || opType || 'node'}.${t.attr}${t.idx >= 0 ? `[${t.idx}]` : ''}`;
    finishTensor(c, t.raw, { kind: 'attribute', graph, node: name, opType, fallbackName: base });
  }
}

function* graphMsg(c: Ctx, s: number, e: number, path: string, depth: number): Gen<void> {
  if (depth > MAX_GRAPH_DEPTH) throw inputError('ONNX_TOO_DEEP', `${c.path}: subgraphs nested deeper than ${MAX_GRAPH_DEPTH} levels`);
  for (let p = s; p < e; ) {
    const [f, wt, vs, ve] = yield* field(c, p, e);
    if (f === 1) {
      expectWire(c, 'GraphProto.node', f, wt, 2, p);
      yield* nodeMsg(c, vs, ve, path, depth);
    } else if (f === 2 && wt === 2 && depth === 0 && path === '') {
      c.out.graphName = yield* str(c, vs, ve);
    } else if (f === 5) {
      expectWire(c, 'GraphProto.initializer', f, wt, 2, p);
      const raw = yield* tensorMsg(c, vs, ve);
      finishTensor(c, raw, { kind: 'initializer', graph: path, fallbackName: `${path || 'graph'}.initializer@${vs}` });
    } else if (f === 15 && wt === 2) {
      yield* sparse(c, vs, ve, { graph: path, fallbackName: `${path || 'graph'}.sparse_initializer@${vs}` });
    }
    p = ve;
  }
}

function* functionMsg(c: Ctx, s: number, e: number): Gen<void> {
  let name = '';
  const nodes: [number, number][] = [];
  for (let p = s; p < e; ) {
    const [f, wt, vs, ve] = yield* field(c, p, e);
    if (f === 1 && wt === 2) name = yield* str(c, vs, ve);
    else if (f === 7 && wt === 2) nodes.push([vs, ve]);
    p = ve;
  }
  c.out.functionCount++;
  for (const [vs, ve] of nodes) yield* nodeMsg(c, vs, ve, `function:${name}`, 1);
}

function* modelMsg(c: Ctx): Gen<void> {
  const e = c.size;
  let sawGraph = false;
  for (let p = 0; p < e; ) {
    const [f, wt, vs, ve, v] = yield* field(c, p, e);
    switch (f) {
      case 1:
        expectWire(c, 'ModelProto.ir_version', f, wt, 0, p);
        c.out.irVersion = v;
        break;
      case 2:
        expectWire(c, 'ModelProto.producer_name', f, wt, 2, p);
        c.out.producerName = yield* str(c, vs, ve);
        break;
      case 3:
        expectWire(c, 'ModelProto.producer_version', f, wt, 2, p);
        c.out.producerVersion = yield* str(c, vs, ve);
        break;
      case 4:
        expectWire(c, 'ModelProto.domain', f, wt, 2, p);
        c.out.domain = yield* str(c, vs, ve);
        break;
      case 5:
        expectWire(c, 'ModelProto.model_version', f, wt, 0, p);
        c.out.modelVersion = v;
        break;
      case 6:
        expectWire(c, 'ModelProto.doc_string', f, wt, 2, p);
        break;
      case 7:
        expectWire(c, 'ModelProto.graph', f, wt, 2, p);
        sawGraph = true;
        yield* graphMsg(c, vs, ve, '', 0);
        break;
      case 8: {
        expectWire(c, 'ModelProto.opset_import', f, wt, 2, p);
        let domain = '';
        let version = 0;
        for (let q = vs; q < ve; ) {
          const [of, owt, ovs, ove, ov] = yield* field(c, q, ve);
          if (of === 1 && owt === 2) domain = yield* str(c, ovs, ove);
          if (of === 2 && owt === 0) version = ov;
          q = ove;
        }
        c.out.opsets.push({ domain, version });
        break;
      }
      case 14: {
        expectWire(c, 'ModelProto.metadata_props', f, wt, 2, p);
        const [k, val] = yield* entry(c, vs, ve);
        c.out.metadata[k] = val;
        break;
      }
      case 20:
        expectWire(c, 'ModelProto.training_info', f, wt, 2, p);
        for (let q = vs; q < ve; ) {
          const [tf, twt, tvs, tve] = yield* field(c, q, ve);
          if ((tf === 1 || tf === 2) && twt === 2) yield* graphMsg(c, tvs, tve, `training.${tf === 1 ? 'initialization' : 'algorithm'}`, 1);
          q = tve;
        }
        break;
      case 25:
        expectWire(c, 'ModelProto.functions', f, wt, 2, p);
        yield* functionMsg(c, vs, ve);
        break;
      default:
        break;
    }
    p = ve;
  }
  if (!sawGraph) throw inputError('ONNX_NO_GRAPH', `${c.path}: ONNX model has no graph`);
}

function newCtx(path: string, size: number): Ctx {
  return {
    path,
    size,
    buf: new Uint8Array(0),
    base: 0,
    out: { opsets: [], metadata: {}, nodeCount: 0, opTypes: {}, functionCount: 0, tensors: [] },
  };
}

/** Scan an ONNX model held in memory. */
export function scanOnnx(bytes: Uint8Array, path = '<onnx>'): OnnxScan {
  if (bytes.length === 0) throw inputError('ONNX_EMPTY', `${path}: empty file`);
  const c = newCtx(path, bytes.length);
  const g = modelMsg(c);
  let r = g.next();
  while (!r.done) r = g.next(bytes.subarray(r.value.pos));
  return c.out;
}

/** Scan an ONNX model by ranged reads (the file is never loaded whole; tensor payloads are skipped). */
export async function scanOnnxSource(src: RandomAccessSource, path = '<onnx>'): Promise<OnnxScan> {
  if (src.size === 0) throw inputError('ONNX_EMPTY', `${path}: empty file`);
  const c = newCtx(path, src.size);
  const g = modelMsg(c);
  let r = g.next();
  while (!r.done) {
    const { pos, len } = r.value;
    r = g.next(await src.read(pos, Math.min(len, src.size - pos)));
  }
  return c.out;
}

/** Quick content sniff: does the file start like a ModelProto (a known top-level field with the right wire type)? */
export function looksLikeOnnx(head: Uint8Array): boolean {
  if (head.length < 2) return false;
  const b = head[0]!;
  if ([0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72].includes(b)) return true;
  return (b === 0xa2 || b === 0xca) && head[1] === 0x01;
}

/** DType for a scanned tensor (undefined when ONNX's type has no DType). */
export function scannedDType(t: ScannedTensor) {
  return onnxDataTypeToDType(t.dataType);
}
