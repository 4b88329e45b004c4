/**
 * safetensors reader and writer. Layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * `{"__metadata__": {str: str}, name: {dtype, shape, data_offsets: [begin, end]}, ...}` (offsets relative
 * to the data section, contiguous, covering it exactly), then the data. The parser is pure (bytes in,
 * TensorInfo out, absolute offsets); the file adapters read only the header by range. The writer
 * streams to a temp file and renames. Nothing here touches other formats or other areas.
 */
import { q } from './quote.ts';
import { inputError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { tensorByteLength } from './numeric.ts';
import { openSource, type NamedSource } from './source.ts';
import { numel, type DType, type ModelLayout, type TensorInfo } from './types.ts';

/** Largest header we accept (the reference implementation uses the same 100 MB limit). */
export const MAX_HEADER_BYTES = 100_000_000;

export const SAFETENSORS_DTYPES: readonly DType[] = [
  'F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL', 'F8_E4M3', 'F8_E5M2', 'C64',
];
const DTYPE_SET = new Set<string>(SAFETENSORS_DTYPES);

export interface SafetensorsHeader {
  /** N: the JSON header's length in bytes (padding included) */
  headerLength: number;
  /** absolute offset of the data section (8 + N) */
  dataStart: number;
  metadata?: Record<string, string>;
  /** tensors sorted by offset, offsets absolute in the file */
  tensors: TensorInfo[];
  /** the exact JSON header bytes (for byte-for-byte rewrites) */
  rawHeader: Uint8Array;
}

export interface SafetensorsTensor {
  name: string;
  dtype: DType;
  shape: number[];
  data: Uint8Array;
}

function readLength(bytes: Uint8Array, path: string, fileSize: number): number {
  if (fileSize < 8 || bytes.length < 8) throw inputError('SAFETENSORS_TOO_SMALL', `${path}: ${fileSize} bytes is too small for a safetensors file (needs an 8-byte header length)`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw inputError('SAFETENSORS_HEADER_TOO_LARGE', `${path}: safetensors header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`, { size: Number(n) });
  const len = Number(n);
  if (8 + len > fileSize) throw inputError('SAFETENSORS_HEADER_TRUNCATED', `${path}: safetensors header claims ${len} bytes but the file has only ${fileSize - 8} after the length`, { size: len });
  return len;
}

/**
 * Parse and validate a safetensors header. `bytes` starts at the file's first byte and holds at least
 * the 8-byte length and the JSON header; `fileSize` (default `bytes.length`) is the whole file's size.
 */
export function parseSafetensors(bytes: Uint8Array, opts: { fileSize?: number; path?: string } = {}): SafetensorsHeader {
  const path = opts.path ?? '<safetensors>';
  const fileSize = opts.fileSize ?? bytes.length;
  const n = readLength(bytes, path, fileSize);
  if (bytes.length < 8 + n) throw inputError('SAFETENSORS_HEADER_TRUNCATED', `${path}: only ${bytes.length - 8} of ${n} header bytes available`);
  const rawHeader = bytes.subarray(8, 8 + n);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(rawHeader);
  } catch {
    throw inputError('SAFETENSORS_HEADER_NOT_UTF8', `${path}: safetensors header is not valid UTF-8`);
  }
  if (!text.startsWith('{')) throw inputError('SAFETENSORS_HEADER_NOT_OBJECT', `${path}: safetensors header does not start with '{'`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw inputError('SAFETENSORS_HEADER_INVALID_JSON', `${path}: safetensors header is not valid JSON (${(e as Error).message.replace(/\s+/g, ' ')})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw inputError('SAFETENSORS_HEADER_NOT_OBJECT', `${path}: safetensors header is not a JSON object`);
  const dataStart = 8 + n;
  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> | undefined;
  const tensors: (TensorInfo & { begin: number; end: number })[] = [];
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
        throw inputError('SAFETENSORS_BAD_METADATA', `${path}: __metadata__ must be an object of string values`);
      }
      metadata = { ...(v as Record<string, string>) };
      continue;
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw inputError('SAFETENSORS_BAD_TENSOR_ENTRY', `${path}: tensor ${q(name)} entry is not an object`);
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string' || !DTYPE_SET.has(e.dtype)) throw inputError('SAFETENSORS_UNKNOWN_DTYPE', `${path}: tensor ${q(name)} has unknown dtype ${JSON.stringify(e.dtype)}`);
    const dtype = e.dtype as DType;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw inputError('SAFETENSORS_BAD_SHAPE', `${path}: tensor ${q(name)} has an invalid shape ${JSON.stringify(e.shape)}`);
    const shape = e.shape as number[];
    if (!Number.isSafeInteger(numel(shape))) throw inputError('SAFETENSORS_BAD_SHAPE', `${path}: tensor ${q(name)} shape ${JSON.stringify(shape)} has too many elements`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      throw inputError('SAFETENSORS_BAD_OFFSETS', `${path}: tensor ${q(name)} has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const want = tensorByteLength(dtype, shape)!;
    if (end - begin !== want) throw inputError('SAFETENSORS_SIZE_MISMATCH', `${path}: tensor ${q(name)} spans ${end - begin} bytes but ${dtype}[${shape.join(',')}] needs ${want}`);
    tensors.push({ name, dtype, shape, offset: dataStart + begin, length: end - begin, begin, end });
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const t of tensors) {
    if (t.begin !== pos) {
      throw inputError('SAFETENSORS_OFFSETS_NOT_CONTIGUOUS', `${path}: tensor ${q(t.name)} starts at data offset ${t.begin}, expected ${pos} (${t.begin > pos ? 'gap' : 'overlap'})`);
    }
    pos = t.end;
  }
  if (pos > dataSize) throw inputError('SAFETENSORS_DATA_TRUNCATED', `${path}: tensor data needs ${pos} bytes but the file has ${dataSize} after the header (truncated?)`, { need: pos, have: dataSize });
  if (pos < dataSize) throw inputError('SAFETENSORS_TRAILING_BYTES', `${path}: ${dataSize - pos} bytes after the last tensor are not described by the header`);
  const out: SafetensorsHeader = {
    headerLength: n,
    dataStart,
    tensors: tensors.map(({ begin: _b, end: _e, ...t }) => t),
    rawHeader,
  };
  if (metadata) out.metadata = metadata;
  return out;
}

/** Read only the header of a safetensors source (two ranged reads). */
export async function readSafetensorsHeader(src: NamedSource): Promise<SafetensorsHeader> {
  const head = await src.read(0, Math.min(8, src.size));
  const n = readLength(head, src.path, src.size);
  const all = new Uint8Array(8 + n);
  all.set(head, 0);
  all.set(await src.read(8, n), 8);
  return parseSafetensors(all, { fileSize: src.size, path: src.path });
}

export function safetensorsToLayout(h: SafetensorsHeader, size: number): ModelLayout {
  return {
    format: 'safetensors',
    size,
    tensors: h.tensors,
    meta: { headerLength: h.headerLength, dataStart: h.dataStart, ...(h.metadata ? { metadata: h.metadata } : {}) },
  };
}

/** Load a whole (small) safetensors file: header, metadata and every tensor's bytes. */
export async function readSafetensorsFile(path: string): Promise<{ metadata?: Record<string, string>; tensors: SafetensorsTensor[]; rawHeader: Uint8Array }> {
  const src = await openSource(path);
  try {
    const h = await readSafetensorsHeader(src);
    const tensors: SafetensorsTensor[] = [];
    for (const t of h.tensors) tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, data: await src.read(t.offset, t.length) });
    return { ...(h.metadata ? { metadata: h.metadata } : {}), tensors, rawHeader: h.rawHeader };
  } finally {
    await src.close();
  }
}

/**
 * Build the JSON header (padded with spaces so the data section starts 8-byte aligned), compact
 * serialization as the reference implementation writes it: `__metadata__` first, then tensors in
 * the given order with contiguous offsets.
 */
export function encodeSafetensorsHeader(tensors: { name: string; dtype: DType; shape: number[]; length: number }[], metadata?: Record<string, string>): Uint8Array {
  // no prototype: a tensor named __proto__ must become a key like any other, not replace the prototype
  const obj: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (metadata) obj['__metadata__'] = metadata;
  let pos = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__' || seen.has(t.name)) throw inputError('SAFETENSORS_DUPLICATE_NAME', `safetensors: tensor name ${q(t.name)} is used twice or reserved`);
    seen.add(t.name);
    if (!DTYPE_SET.has(t.dtype)) throw inputError('SAFETENSORS_UNKNOWN_DTYPE', `safetensors: tensor ${q(t.name)} dtype ${t.dtype} cannot be stored in safetensors`);
    const want = tensorByteLength(t.dtype, t.shape);
    if (want !== t.length) throw inputError('SAFETENSORS_SIZE_MISMATCH', `safetensors: tensor ${q(t.name)} has ${t.length} bytes but ${t.dtype}[${t.shape.join(',')}] needs ${want}`);
    obj[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [pos, pos + t.length] };
    pos += t.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(obj));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) {
    const p = new Uint8Array(json.length + pad).fill(0x20);
    p.set(json);
    json = p;
  }
  if (json.length > MAX_HEADER_BYTES) throw inputError('SAFETENSORS_HEADER_TOO_LARGE', `safetensors: header of ${json.length} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  return json;
}

function lengthPrefix(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

function sameStringMap(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** Does `raw` describe exactly these tensors (same order of data) and metadata? */
function headerMatches(raw: Uint8Array, tensors: SafetensorsTensor[], metadata?: Record<string, string>): boolean {
  const total = tensors.reduce((s, t) => s + t.data.length, 0);
  let h: SafetensorsHeader;
  try {
    const buf = new Uint8Array(8 + raw.length);
    buf.set(lengthPrefix(raw.length));
    buf.set(raw, 8);
    h = parseSafetensors(buf, { fileSize: 8 + raw.length + total });
  } catch {
    return false;
  }
  if (h.tensors.length !== tensors.length) return false;
  if (!sameStringMap(h.metadata, metadata)) return false;
  let pos = h.dataStart;
  return h.tensors.every((t, i) => {
    const s = tensors[i]!;
    const ok = t.name === s.name && t.dtype === s.dtype && t.offset === pos && t.length === s.data.length && t.shape.length === s.shape.length && t.shape.every((d, j) => d === s.shape[j]);
    pos += s.data.length;
    return ok;
  });
}

/**
 * Write a safetensors file (temp file in the destination directory, then rename). Data is laid out
 * in the order given. If `opts.rawHeader` (from `parseSafetensors`) describes exactly these tensors
 * and metadata, those header bytes are written verbatim, so rewriting an unmodified file reproduces
 * it byte for byte even when its header was serialized by another writer.
 */
export async function writeSafetensors(
  path: string,
  tensors: SafetensorsTensor[],
  metadata?: Record<string, string>,
  opts: { rawHeader?: Uint8Array } = {},
): Promise<{ size: number }> {
  const header = opts.rawHeader && headerMatches(opts.rawHeader, tensors, metadata)
    ? opts.rawHeader
    : encodeSafetensorsHeader(tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, length: t.data.length })), metadata);
  const size = await writeFileAtomic(path, async (w) => {
    await w.write(lengthPrefix(header.length));
    await w.write(header);
    for (const t of tensors) await w.write(t.data);
  });
  return { size };
}

/** In-memory serialization (tests, small files). */
export function serializeSafetensors(tensors: SafetensorsTensor[], metadata?: Record<string, string>): Uint8Array {
  const header = encodeSafetensorsHeader(tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, length: t.data.length })), metadata);
  const total = 8 + header.length + tensors.reduce((s, t) => s + t.data.length, 0);
  const out = new Uint8Array(total);
  out.set(lengthPrefix(header.length));
  out.set(header, 8);
  let pos = 8 + header.length;
  for (const t of tensors) {
    out.set(t.data, pos);
    pos += t.data.length;
  }
  return out;
}
