/**
 * GGUF (llama.cpp) v2/v3 reader and writer. Layout: "GGUF", u32 version, u64 tensor count, u64
 * metadata count, metadata key/values (typed, arrays included), tensor infos (name, dims in ggml
 * order ne0..neN, ggml type, u64 offset relative to the data section), padding to
 * `general.alignment` (default 32), tensor data (each tensor aligned). Little-endian only.
 * The reader takes a RandomAccessSource and reads only the header (buffered ranged reads); every
 * count and length is checked against named limits and the file size. Shapes in TensorInfo are
 * row-major (outermost first, i.e. reversed ne); `extra.ne` keeps ggml's order. The writer streams
 * to a temp file and renames. No other formats or areas are touched.
 */
import { q } from './quote.ts';
import { inputError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { ggmlTypeByDType, ggmlTypeById } from './ggml-types.ts';
import { bytesSource, openSource } from './source.ts';
import type { DType, ModelLayout, RandomAccessSource, TensorInfo } from './types.ts';

export const GGUF_MAGIC = new Uint8Array([0x47, 0x47, 0x55, 0x46]); // "GGUF"
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** Longest string (key or value) we accept. */
export const MAX_GGUF_STRING = 64 * 1024 * 1024;
/** Most dims a tensor may have (ggml uses 4). */
export const MAX_GGUF_DIMS = 8;
/** Nesting of arrays inside arrays. */
export const MAX_GGUF_ARRAY_DEPTH = 4;
/** Longest header (metadata + tensor infos) we parse. */
export const MAX_GGUF_HEADER = 1 << 30;

export enum GgufType {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
}

export interface GgufArray {
  elemType: GgufType;
  values: GgufScalar[] | GgufArray[];
}
export type GgufScalar = number | bigint | boolean | string;
export interface GgufKV {
  key: string;
  type: GgufType;
  value: GgufScalar | GgufArray;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: ne[0] is the innermost (contiguous) dimension */
  ne: number[];
  type: number;
  dtype: DType;
  /** offset relative to the data section */
  relOffset: number;
  length: number;
}

export interface GgufFile {
  version: number;
  metadata: GgufKV[];
  tensors: GgufTensorInfo[];
  alignment: number;
  /** absolute offset of the data section */
  dataStart: number;
  /** bytes of header before padding (end of the last tensor info) */
  headerEnd: number;
  size: number;
}

const SCALAR_SIZE: Partial<Record<GgufType, number>> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** Buffered little-endian cursor over a RandomAccessSource. */
class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private base = 0;
  private dv = new DataView(this.buf.buffer);
  constructor(private src: RandomAccessSource, private path: string, private limit: number) {}

  private async ensure(n: number, what: string): Promise<void> {
    if (this.pos >= this.base && this.pos + n <= this.base + this.buf.length) return;
    if (this.pos + n > this.limit) {
      if (this.limit < this.src.size) throw inputError('GGUF_HEADER_TOO_LARGE', `${this.path}: GGUF header exceeds the ${MAX_GGUF_HEADER}-byte limit`);
      throw inputError('GGUF_TRUNCATED', `${this.path}: file ends inside the GGUF header (reading ${what} at byte ${this.pos})`, { offset: this.pos });
    }
    const len = Math.min(Math.max(n, 1 << 20), this.src.size - this.pos);
    this.buf = await this.src.read(this.pos, len);
    this.base = this.pos;
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
  async u32(what: string): Promise<number> {
    await this.ensure(4, what);
    const v = this.dv.getUint32(this.pos - this.base, true);
    this.pos += 4;
    return v;
  }
  async u64(what: string): Promise<number> {
    await this.ensure(8, what);
    const v = this.dv.getBigUint64(this.pos - this.base, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw inputError('GGUF_BAD_NUMBER', `${this.path}: ${what} ${v} at byte ${this.pos - 8} is out of range`);
    return Number(v);
  }
  async scalar(t: GgufType, what: string): Promise<GgufScalar> {
    const size = SCALAR_SIZE[t]!;
    await this.ensure(size, what);
    const o = this.pos - this.base;
    const dv = this.dv;
    this.pos += size;
    switch (t) {
      case GgufType.UINT8: return dv.getUint8(o);
      case GgufType.INT8: return dv.getInt8(o);
      case GgufType.UINT16: return dv.getUint16(o, true);
      case GgufType.INT16: return dv.getInt16(o, true);
      case GgufType.UINT32: return dv.getUint32(o, true);
      case GgufType.INT32: return dv.getInt32(o, true);
      case GgufType.FLOAT32: return dv.getFloat32(o, true);
      case GgufType.BOOL: {
        const b = dv.getUint8(o);
        if (b > 1) throw inputError('GGUF_BAD_BOOL', `${this.path}: ${what} bool value ${b} at byte ${this.pos - 1}`);
        return b === 1;
      }
      case GgufType.UINT64: return dv.getBigUint64(o, true);
      case GgufType.INT64: return dv.getBigInt64(o, true);
      case GgufType.FLOAT64: return dv.getFloat64(o, true);
      default: throw new Error('unreachable');
    }
  }
  async string(what: string): Promise<string> {
    const n = await this.u64(`${what} length`);
    if (n > MAX_GGUF_STRING) throw inputError('GGUF_STRING_TOO_LONG', `${this.path}: ${what} of ${n} bytes at byte ${this.pos - 8} exceeds the ${MAX_GGUF_STRING}-byte limit`);
    await this.ensure(n, what);
    const s = new TextDecoder().decode(this.buf.subarray(this.pos - this.base, this.pos - this.base + n));
    this.pos += n;
    return s;
  }
  remaining(): number {
    return this.limit - this.pos;
  }
}

async function readValue(c: Cursor, t: number, what: string, path: string, depth: number): Promise<GgufScalar | GgufArray> {
  if (t === GgufType.STRING) return c.string(what);
  if (t === GgufType.ARRAY) {
    if (depth >= MAX_GGUF_ARRAY_DEPTH) throw inputError('GGUF_ARRAY_TOO_DEEP', `${path}: ${what} nests arrays deeper than ${MAX_GGUF_ARRAY_DEPTH}`);
    const elemType = await c.u32(`${what} array type`);
    const count = await c.u64(`${what} array length`);
    const min = elemType === GgufType.STRING ? 8 : elemType === GgufType.ARRAY ? 12 : SCALAR_SIZE[elemType as GgufType];
    if (min === undefined) throw inputError('GGUF_BAD_VALUE_TYPE', `${path}: ${what} has unknown array element type ${elemType}`);
    if (count * min > c.remaining()) throw inputError('GGUF_TRUNCATED', `${path}: ${what} claims ${count} elements, more than the file can hold`);
    const values: (GgufScalar | GgufArray)[] = new Array(count);
    for (let i = 0; i < count; i++) values[i] = await readValue(c, elemType, what, path, depth + 1);
    return { elemType, values: values as GgufScalar[] | GgufArray[] };
  }
  if (SCALAR_SIZE[t as GgufType] === undefined) throw inputError('GGUF_BAD_VALUE_TYPE', `${path}: ${what} has unknown value type ${t}`);
  return c.scalar(t as GgufType, what);
}

/** Parse a GGUF header from a source (reads only the header). */
export async function parseGguf(src: RandomAccessSource, path = '<gguf>'): Promise<GgufFile> {
  const size = src.size;
  if (size < 24) throw inputError('GGUF_TOO_SMALL', `${path}: ${size} bytes is too small for a GGUF file`);
  const head = await src.read(0, 8);
  if (!(head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46)) throw inputError('GGUF_BAD_MAGIC', `${path}: not a GGUF file (magic is not "GGUF")`);
  const version = new DataView(head.buffer, head.byteOffset, 8).getUint32(4, true);
  if (version === 1) throw inputError('GGUF_UNSUPPORTED_VERSION', `${path}: GGUF version 1 is not supported (only 2 and 3)`);
  if (version !== 2 && version !== 3) {
    const be = ((version & 0xff) << 24) >>> 0 | (version >>> 24);
    if (be === 2 || be === 3) throw inputError('GGUF_BIG_ENDIAN', `${path}: big-endian GGUF files are not supported`);
    throw inputError('GGUF_UNSUPPORTED_VERSION', `${path}: unsupported GGUF version ${version}`);
  }
  const c = new Cursor(src, path, Math.min(size, MAX_GGUF_HEADER));
  c.pos = 8;
  const tensorCount = await c.u64('tensor count');
  const kvCount = await c.u64('metadata count');
  if (kvCount * 13 > c.remaining()) throw inputError('GGUF_BAD_COUNT', `${path}: metadata count ${kvCount} is more than the file can hold`);
  if (tensorCount * 24 > c.remaining()) throw inputError('GGUF_BAD_COUNT', `${path}: tensor count ${tensorCount} is more than the file can hold`);
  const metadata: GgufKV[] = [];
  const keys = new Set<string>();
  for (let i = 0; i < kvCount; i++) {
    const key = await c.string(`metadata key #${i}`);
    if (keys.has(key)) throw inputError('GGUF_DUPLICATE_KEY', `${path}: metadata key ${q(key)} appears twice`);
    keys.add(key);
    const type = await c.u32(`type of ${q(key)}`);
    const value = await readValue(c, type, `metadata ${q(key)}`, path, 0);
    metadata.push({ key, type, value });
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const al = metadata.find((m) => m.key === 'general.alignment');
  if (al) {
    if (al.type !== GgufType.UINT32 || typeof al.value !== 'number' || al.value === 0 || (al.value & (al.value - 1)) !== 0) {
      throw inputError('GGUF_BAD_ALIGNMENT', `${path}: general.alignment must be a non-zero power of two u32`);
    }
    alignment = al.value;
  }
  const infos: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = await c.string(`tensor name #${i}`);
    if (names.has(name)) throw inputError('GGUF_DUPLICATE_TENSOR', `${path}: tensor ${q(name)} appears twice`);
    names.add(name);
    const nd = await c.u32(`dims of ${q(name)}`);
    if (nd > MAX_GGUF_DIMS) throw inputError('GGUF_TOO_MANY_DIMS', `${path}: tensor ${q(name)} has ${nd} dims (max ${MAX_GGUF_DIMS})`);
    const ne: number[] = [];
    for (let d = 0; d < nd; d++) ne.push(await c.u64(`dim ${d} of ${q(name)}`));
    const type = await c.u32(`type of ${q(name)}`);
    const relOffset = await c.u64(`offset of ${q(name)}`);
    const gt = ggmlTypeById(type);
    if (!gt) throw inputError('GGUF_UNKNOWN_TENSOR_TYPE', `${path}: tensor ${q(name)} has unknown ggml type ${type}`);
    let n = 1;
    for (const d of ne) n *= d;
    if (!Number.isSafeInteger(n)) throw inputError('GGUF_BAD_SHAPE', `${path}: tensor ${q(name)} has too many elements`);
    if (gt.elements > 1 && (ne[0] ?? 1) % gt.elements !== 0) throw inputError('GGUF_BAD_SHAPE', `${path}: tensor ${q(name)} row of ${ne[0]} elements is not a multiple of the ${gt.dtype} block size ${gt.elements}`);
    const length = (n / gt.elements) * gt.bytes;
    if (relOffset % alignment !== 0) throw inputError('GGUF_MISALIGNED_TENSOR', `${path}: tensor ${q(name)} offset ${relOffset} is not a multiple of the alignment ${alignment}`);
    infos.push({ name, ne, type, dtype: gt.dtype, relOffset, length });
  }
  const headerEnd = c.pos;
  const dataStart = Math.ceil(headerEnd / alignment) * alignment;
  const sorted = [...infos].sort((a, b) => a.relOffset - b.relOffset);
  let end = 0;
  for (const t of sorted) {
    if (t.relOffset < end) throw inputError('GGUF_OVERLAPPING_TENSORS', `${path}: tensor ${q(t.name)} overlaps the previous tensor's data`);
    end = t.relOffset + t.length;
  }
  if (dataStart + end > size) throw inputError('GGUF_DATA_TRUNCATED', `${path}: tensor data needs ${dataStart + end} bytes but the file has ${size}`, { need: dataStart + end, have: size });
  return { version, metadata, tensors: infos, alignment, dataStart, headerEnd, size };
}

/** A plain-JSON view of a metadata value (bigint -> number when safe, else string; long arrays summarized by the caller). */
export function ggufPlainValue(v: GgufScalar | GgufArray): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'object') return (v.values as (GgufScalar | GgufArray)[]).map(ggufPlainValue);
  return v;
}

export function ggufToLayout(g: GgufFile): ModelLayout {
  const tensors: TensorInfo[] = g.tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: [...t.ne].reverse(),
    offset: g.dataStart + t.relOffset,
    length: t.length,
    extra: { ne: t.ne, ggmlType: t.type },
  }));
  const metadata: Record<string, unknown> = Object.create(null) as Record<string, unknown>; // keys come from the file: __proto__ too
  for (const kv of g.metadata) {
    if (typeof kv.value === 'object' && kv.value.values.length > 16) metadata[kv.key] = `[${kv.value.values.length} × ${GgufType[kv.value.elemType] ?? kv.value.elemType}]`;
    else metadata[kv.key] = ggufPlainValue(kv.value);
  }
  const arch = g.metadata.find((m) => m.key === 'general.architecture')?.value;
  return {
    format: 'gguf',
    size: g.size,
    tensors,
    meta: { version: g.version, alignment: g.alignment, dataStart: g.dataStart, ...(typeof arch === 'string' ? { architecture: arch } : {}), metadata },
  };
}

export async function readGgufLayout(src: RandomAccessSource & { path?: string }): Promise<ModelLayout> {
  return ggufToLayout(await parseGguf(src, src.path ?? '<gguf>'));
}

export async function readGgufFile(path: string): Promise<GgufFile> {
  const src = await openSource(path);
  try {
    return await parseGguf(src, path);
  } finally {
    await src.close();
  }
}

/** Parse GGUF bytes in memory. */
export function parseGgufBytes(bytes: Uint8Array, path = '<gguf>'): Promise<GgufFile> {
  return parseGguf(bytesSource(bytes, path), path);
}

// ------------------------------------------------------------------------------------------------
// writer

export interface GgufWriteTensor {
  name: string;
  dtype: DType;
  /** row-major shape (outermost first); written as ggml ne (reversed) */
  shape: number[];
  data: Uint8Array;
}

class ByteSink {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(4096);
  private dv = new DataView(this.cur.buffer);
  private n = 0;
  length = 0;
  private room(k: number) {
    if (this.n + k > this.cur.length) {
      this.chunks.push(this.cur.subarray(0, this.n));
      this.cur = new Uint8Array(Math.max(4096, k));
      this.dv = new DataView(this.cur.buffer);
      this.n = 0;
    }
  }
  u8(v: number) { this.room(1); this.dv.setUint8(this.n, v); this.n += 1; this.length += 1; }
  i8(v: number) { this.room(1); this.dv.setInt8(this.n, v); this.n += 1; this.length += 1; }
  u16(v: number) { this.room(2); this.dv.setUint16(this.n, v, true); this.n += 2; this.length += 2; }
  i16(v: number) { this.room(2); this.dv.setInt16(this.n, v, true); this.n += 2; this.length += 2; }
  u32(v: number) { this.room(4); this.dv.setUint32(this.n, v, true); this.n += 4; this.length += 4; }
  i32(v: number) { this.room(4); this.dv.setInt32(this.n, v, true); this.n += 4; this.length += 4; }
  f32(v: number) { this.room(4); this.dv.setFloat32(this.n, v, true); this.n += 4; this.length += 4; }
  f64(v: number) { this.room(8); this.dv.setFloat64(this.n, v, true); this.n += 8; this.length += 8; }
  u64(v: number | bigint) { this.room(8); this.dv.setBigUint64(this.n, BigInt(v), true); this.n += 8; this.length += 8; }
  i64(v: number | bigint) { this.room(8); this.dv.setBigInt64(this.n, BigInt(v), true); this.n += 8; this.length += 8; }
  bytes(b: Uint8Array) { this.room(b.length); this.cur.set(b, this.n); this.n += b.length; this.length += b.length; }
  str(s: string) { const b = new TextEncoder().encode(s); this.u64(b.length); this.bytes(b); }
  finish(): Uint8Array {
    this.chunks.push(this.cur.subarray(0, this.n));
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const c of this.chunks) { out.set(c, p); p += c.length; }
    return out;
  }
}

function writeValue(s: ByteSink, t: GgufType, v: GgufScalar | GgufArray, key: string): void {
  const bad = () => inputError('GGUF_BAD_VALUE', `GGUF write: metadata ${q(key)} value does not match its type ${GgufType[t] ?? t}`);
  switch (t) {
    case GgufType.STRING: if (typeof v !== 'string') throw bad(); s.str(v); return;
    case GgufType.BOOL: if (typeof v !== 'boolean') throw bad(); s.u8(v ? 1 : 0); return;
    case GgufType.ARRAY: {
      if (typeof v !== 'object') throw bad();
      s.u32(v.elemType);
      s.u64(v.values.length);
      for (const x of v.values) writeValue(s, v.elemType, x, key);
      return;
    }
    case GgufType.UINT64: if (typeof v !== 'bigint' && typeof v !== 'number') throw bad(); s.u64(v); return;
    case GgufType.INT64: if (typeof v !== 'bigint' && typeof v !== 'number') throw bad(); s.i64(v); return;
  }
  if (typeof v !== 'number') throw bad();
  switch (t) {
    case GgufType.UINT8: s.u8(v); return;
    case GgufType.INT8: s.i8(v); return;
    case GgufType.UINT16: s.u16(v); return;
    case GgufType.INT16: s.i16(v); return;
    case GgufType.UINT32: s.u32(v); return;
    case GgufType.INT32: s.i32(v); return;
    case GgufType.FLOAT32: s.f32(v); return;
    case GgufType.FLOAT64: s.f64(v); return;
    default: throw inputError('GGUF_BAD_VALUE_TYPE', `GGUF write: metadata ${q(key)} has unknown type ${t}`);
  }
}

/** Serialize the header (through the padding before the data section) and the data offsets. */
export function encodeGgufHeader(metadata: GgufKV[], tensors: { name: string; dtype: DType; shape: number[]; length: number }[], version = 3): { header: Uint8Array; offsets: number[]; alignment: number } {
  if (version !== 2 && version !== 3) throw inputError('GGUF_UNSUPPORTED_VERSION', `GGUF write: version ${version} is not supported`);
  const al = metadata.find((m) => m.key === 'general.alignment');
  const alignment = al && typeof al.value === 'number' ? al.value : GGUF_DEFAULT_ALIGNMENT;
  if (alignment <= 0 || (alignment & (alignment - 1)) !== 0) throw inputError('GGUF_BAD_ALIGNMENT', `GGUF write: general.alignment ${alignment} is not a power of two`);
  const s = new ByteSink();
  s.bytes(GGUF_MAGIC);
  s.u32(version);
  s.u64(tensors.length);
  s.u64(metadata.length);
  for (const kv of metadata) {
    s.str(kv.key);
    s.u32(kv.type);
    writeValue(s, kv.type, kv.value, kv.key);
  }
  const offsets: number[] = [];
  let off = 0;
  for (const t of tensors) {
    const gt = ggmlTypeByDType(t.dtype);
    if (!gt) throw inputError('GGUF_UNKNOWN_TENSOR_TYPE', `GGUF write: tensor ${q(t.name)} dtype ${t.dtype} has no ggml type`);
    const ne = [...t.shape].reverse();
    const n = ne.reduce((a, b) => a * b, 1);
    if (gt.elements > 1 && (ne[0] ?? 1) % gt.elements !== 0) throw inputError('GGUF_BAD_SHAPE', `GGUF write: tensor ${q(t.name)} innermost dim ${ne[0]} is not a multiple of ${gt.elements}`);
    const want = (n / gt.elements) * gt.bytes;
    if (want !== t.length) throw inputError('GGUF_SIZE_MISMATCH', `GGUF write: tensor ${q(t.name)} has ${t.length} bytes, ${t.dtype}[${t.shape.join(',')}] needs ${want}`);
    s.str(t.name);
    s.u32(ne.length);
    for (const d of ne) s.u64(d);
    s.u32(gt.id);
    s.u64(off);
    offsets.push(off);
    off += Math.ceil(t.length / alignment) * alignment;
  }
  const pad = (alignment - (s.length % alignment)) % alignment;
  s.bytes(new Uint8Array(pad));
  return { header: s.finish(), offsets, alignment };
}

/** Write a GGUF file (temp + rename): header, then each tensor's data padded to the alignment. */
export async function writeGguf(path: string, model: { metadata: GgufKV[]; tensors: GgufWriteTensor[]; version?: number }): Promise<{ size: number }> {
  const { header, alignment } = encodeGgufHeader(model.metadata, model.tensors.map((t) => ({ ...t, length: t.data.length })), model.version ?? 3);
  const size = await writeFileAtomic(path, async (w) => {
    await w.write(header);
    for (const t of model.tensors) {
      await w.write(t.data);
      const pad = (alignment - (t.data.length % alignment)) % alignment;
      if (pad) await w.write(new Uint8Array(pad));
    }
  });
  return { size };
}

/** In-memory serialization (tests, small files). */
export function serializeGguf(model: { metadata: GgufKV[]; tensors: GgufWriteTensor[]; version?: number }): Uint8Array {
  const { header, alignment } = encodeGgufHeader(model.metadata, model.tensors.map((t) => ({ ...t, length: t.data.length })), model.version ?? 3);
  let total = header.length;
  for (const t of model.tensors) total += Math.ceil(t.data.length / alignment) * alignment;
  const out = new Uint8Array(total);
  out.set(header);
  let p = header.length;
  for (const t of model.tensors) {
    out.set(t.data, p);
    p += Math.ceil(t.data.length / alignment) * alignment;
  }
  return out;
}
