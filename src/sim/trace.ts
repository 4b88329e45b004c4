/**
 * Request-trace readers for the simulator, pure over bytes (no I/O): the AdaptSize text format
 * (`seq object_id size_bytes` per line), CSV with a header (timestamp, object, size[, region]) and
 * libCacheSim's oracleGeneral binary format (24-byte little-endian records
 * {uint32 timestamp, uint64 obj_id, uint32 obj_size, int64 next_access_vtime}). All produce one
 * columnar `Trace` with dense object indices, so the simulator and Belady work on typed arrays.
 * Malformed input → McdnError with a stable code and the line (or record) number. Must not touch
 * caches or files: the CLI reads the file and hands the bytes over.
 */
import { inputError } from '../errors.ts';

/** traces larger than this are refused (they are read into memory whole) */
export const MAX_TRACE_BYTES = 4 * 1024 ** 3;
/** at most this many requests per trace (typed arrays are sized up front from a line count) */
export const MAX_TRACE_REQUESTS = 200_000_000;
/** object sizes above this are refused as implausible (1 TB) */
export const MAX_OBJECT_SIZE = 1e12;
export const ORACLE_GENERAL_RECORD_BYTES = 24;

export type TraceFormat = 'adaptsize' | 'csv' | 'oracle-general';
export const TRACE_FORMATS: readonly TraceFormat[] = ['adaptsize', 'csv', 'oracle-general'];

export interface Trace {
  /** number of requests */
  readonly length: number;
  /** dense object index of each request (0..keys.length-1) */
  readonly obj: Int32Array;
  /** object size in bytes of each request */
  readonly size: Float64Array;
  /** timestamp of each request (seconds, or the sequence number when the format has none) */
  readonly time: Float64Array;
  /** region index of each request, when the trace names regions (csv `region` column) */
  readonly region?: Int32Array;
  readonly regionNames?: string[];
  /** object key by dense index (the trace's own id, as a string) */
  readonly keys: string[];
}

/** Mutable builder that interns object ids to dense indices. */
export class TraceBuilder {
  private obj: Int32Array;
  private size: Float64Array;
  private time: Float64Array;
  private region: Int32Array | undefined;
  private readonly index = new Map<string, number>();
  private readonly regionIndex = new Map<string, number>();
  readonly keys: string[] = [];
  readonly regionNames: string[] = [];
  length = 0;

  constructor(capacity = 1024, withRegions = false) {
    const c = Math.max(16, capacity);
    this.obj = new Int32Array(c);
    this.size = new Float64Array(c);
    this.time = new Float64Array(c);
    if (withRegions) this.region = new Int32Array(c);
  }

  push(key: string, size: number, time: number, region?: string): void {
    if (this.length === this.obj.length) this.grow();
    let id = this.index.get(key);
    if (id === undefined) {
      id = this.keys.length;
      this.index.set(key, id);
      this.keys.push(key);
    }
    const i = this.length++;
    this.obj[i] = id;
    this.size[i] = size;
    this.time[i] = time;
    if (this.region && region !== undefined) {
      let r = this.regionIndex.get(region);
      if (r === undefined) {
        r = this.regionNames.length;
        this.regionIndex.set(region, r);
        this.regionNames.push(region);
      }
      this.region[i] = r;
    }
  }

  private grow(): void {
    const c = this.obj.length * 2;
    const o = new Int32Array(c);
    o.set(this.obj);
    this.obj = o;
    const s = new Float64Array(c);
    s.set(this.size);
    this.size = s;
    const t = new Float64Array(c);
    t.set(this.time);
    this.time = t;
    if (this.region) {
      const r = new Int32Array(c);
      r.set(this.region);
      this.region = r;
    }
  }

  build(): Trace {
    const n = this.length;
    const t: Trace = {
      length: n,
      obj: this.obj.subarray(0, n),
      size: this.size.subarray(0, n),
      time: this.time.subarray(0, n),
      keys: this.keys,
      ...(this.region ? { region: this.region.subarray(0, n), regionNames: this.regionNames } : {}),
    };
    return t;
  }
}

function checkTotal(bytes: Uint8Array, name: string): void {
  if (bytes.length > MAX_TRACE_BYTES) {
    throw inputError('TRACE_TOO_LARGE', `${name}: trace is ${bytes.length} bytes, more than the limit of ${MAX_TRACE_BYTES}`, { size: bytes.length });
  }
  if (bytes.length === 0) throw inputError('TRACE_EMPTY', `${name}: trace is empty`);
}

function countLines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) n++;
  return n + 1;
}

const INT_RE = /^[0-9]+$/;
const NUM_RE = /^-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$/;

function parseSize(tok: string, name: string, line: number): number {
  if (!INT_RE.test(tok)) throw inputError('TRACE_BAD_SIZE', `${name}:${line}: object size '${tok.slice(0, 40)}' is not a non-negative integer`, { line });
  const v = Number(tok);
  if (v > MAX_OBJECT_SIZE) throw inputError('TRACE_BAD_SIZE', `${name}:${line}: object size ${tok} exceeds the limit of ${MAX_OBJECT_SIZE} bytes`, { line });
  return v;
}

/** Iterate over text lines (latin1; traces are ASCII) with 1-based line numbers, skipping blank lines. */
function* lines(bytes: Uint8Array): Generator<[string, number]> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  let line = 0;
  while (start <= buf.length) {
    let end = buf.indexOf(10, start);
    if (end === -1) end = buf.length;
    line++;
    let e = end;
    if (e > start && buf[e - 1] === 13) e--;
    if (e > start) yield [buf.toString('latin1', start, e), line];
    start = end + 1;
  }
}

/** AdaptSize / webcachesim text format: `seq object_id size_bytes` (whitespace-separated). */
export function parseAdaptSize(bytes: Uint8Array, name = 'trace'): Trace {
  checkTotal(bytes, name);
  const b = new TraceBuilder(countLines(bytes));
  for (const [text, line] of lines(bytes)) {
    const t = text.trim();
    if (t === '' || t.startsWith('#')) continue;
    const parts = t.split(/\s+/);
    if (parts.length !== 3) {
      throw inputError('TRACE_BAD_LINE', `${name}:${line}: expected 3 fields 'seq object_id size_bytes', got ${parts.length}`, { line }, 'check --format');
    }
    const [seq, id, sz] = parts as [string, string, string];
    if (!NUM_RE.test(seq)) throw inputError('TRACE_BAD_LINE', `${name}:${line}: sequence/time '${seq.slice(0, 40)}' is not a number`, { line });
    if (b.length >= MAX_TRACE_REQUESTS) throw inputError('TRACE_TOO_LARGE', `${name}:${line}: more than ${MAX_TRACE_REQUESTS} requests`, { line });
    b.push(id, parseSize(sz, name, line), Number(seq));
  }
  if (b.length === 0) throw inputError('TRACE_EMPTY', `${name}: trace has no requests`);
  return b.build();
}

const CSV_COLUMNS = {
  time: ['timestamp', 'time', 'ts', 'clock_time', 't'],
  object: ['object', 'object_id', 'obj_id', 'key', 'id', 'blob', 'model'],
  size: ['size', 'size_bytes', 'obj_size', 'bytes'],
  region: ['region', 'edge', 'pop', 'site'],
} as const;

/** CSV with a header row naming the columns (time, object and size required; region optional). */
export function parseCsvTrace(bytes: Uint8Array, name = 'trace'): Trace {
  checkTotal(bytes, name);
  const it = lines(bytes);
  const first = it.next();
  if (first.done) throw inputError('TRACE_EMPTY', `${name}: trace is empty`);
  const [headerText, headerLine] = first.value;
  const header = headerText.split(',').map((h) => h.trim().toLowerCase().replace(/^"|"$/g, ''));
  const col = (names: readonly string[]) => header.findIndex((h) => names.includes(h));
  const ti = col(CSV_COLUMNS.time);
  const oi = col(CSV_COLUMNS.object);
  const si = col(CSV_COLUMNS.size);
  const ri = col(CSV_COLUMNS.region);
  for (const [what, idx] of [['object', oi], ['size', si]] as const) {
    if (idx < 0) {
      throw inputError('CSV_MISSING_COLUMN', `${name}:${headerLine}: CSV header has no ${what} column (accepted names: ${CSV_COLUMNS[what].join(', ')})`, { column: what, line: headerLine }, 'the first line must be a header such as timestamp,object,size,region');
    }
  }
  const b = new TraceBuilder(countLines(bytes), ri >= 0);
  for (const [text, line] of it) {
    if (text.trim() === '') continue;
    const f = text.split(',');
    if (f.length !== header.length) {
      throw inputError('TRACE_BAD_LINE', `${name}:${line}: expected ${header.length} comma-separated fields, got ${f.length}`, { line });
    }
    const key = f[oi]!.trim();
    if (key === '') throw inputError('TRACE_BAD_LINE', `${name}:${line}: empty object id`, { line });
    let time = b.length;
    if (ti >= 0) {
      const tt = f[ti]!.trim();
      if (!NUM_RE.test(tt)) throw inputError('TRACE_BAD_LINE', `${name}:${line}: timestamp '${tt.slice(0, 40)}' is not a number`, { line });
      time = Number(tt);
    }
    if (b.length >= MAX_TRACE_REQUESTS) throw inputError('TRACE_TOO_LARGE', `${name}:${line}: more than ${MAX_TRACE_REQUESTS} requests`, { line });
    b.push(key, parseSize(f[si]!.trim(), name, line), time, ri >= 0 ? f[ri]!.trim() : undefined);
  }
  if (b.length === 0) throw inputError('TRACE_EMPTY', `${name}: trace has no requests`);
  return b.build();
}

/** libCacheSim oracleGeneral: 24-byte LE records {u32 timestamp, u64 obj_id, u32 obj_size, i64 next_access_vtime}. */
export function parseOracleGeneral(bytes: Uint8Array, name = 'trace'): Trace {
  checkTotal(bytes, name);
  if (bytes.length % ORACLE_GENERAL_RECORD_BYTES !== 0) {
    const rec = Math.floor(bytes.length / ORACLE_GENERAL_RECORD_BYTES) + 1;
    throw inputError('TRACE_TRUNCATED', `${name}: oracleGeneral trace is ${bytes.length} bytes, not a multiple of ${ORACLE_GENERAL_RECORD_BYTES}; record ${rec} is truncated`, { record: rec });
  }
  const n = bytes.length / ORACLE_GENERAL_RECORD_BYTES;
  if (n > MAX_TRACE_REQUESTS) throw inputError('TRACE_TOO_LARGE', `${name}: more than ${MAX_TRACE_REQUESTS} requests`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b = new TraceBuilder(n);
  for (let i = 0; i < n; i++) {
    const o = i * ORACLE_GENERAL_RECORD_BYTES;
    const ts = dv.getUint32(o, true);
    const lo = dv.getUint32(o + 4, true);
    const hi = dv.getUint32(o + 8, true);
    const size = dv.getUint32(o + 12, true);
    // u64 id as a decimal string when it fits in 2^53, otherwise hex of both halves (still unique)
    const key = hi < 0x200000 ? String(hi * 0x100000000 + lo) : `${hi.toString(16)}:${lo.toString(16)}`;
    b.push(key, size, ts);
  }
  return b.build();
}

/** Encode a trace as oracleGeneral bytes (next_access_vtime filled in), for tests and conversions. */
export function encodeOracleGeneral(t: Trace, nextUse?: Float64Array): Uint8Array {
  const out = new Uint8Array(t.length * ORACLE_GENERAL_RECORD_BYTES);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < t.length; i++) {
    const o = i * ORACLE_GENERAL_RECORD_BYTES;
    const id = Number(t.keys[t.obj[i]!]);
    const idn = Number.isSafeInteger(id) && id >= 0 ? id : t.obj[i]!;
    dv.setUint32(o, Math.min(0xffffffff, Math.max(0, Math.floor(t.time[i]!))), true);
    dv.setUint32(o + 4, idn % 0x100000000, true);
    dv.setUint32(o + 8, Math.floor(idn / 0x100000000), true);
    dv.setUint32(o + 12, Math.min(0xffffffff, t.size[i]!), true);
    const nu = nextUse ? nextUse[i]! : Infinity;
    dv.setBigInt64(o + 16, Number.isFinite(nu) ? BigInt(nu) : -1n, true);
  }
  return out;
}

/** Guess the format from the file name and the first bytes. */
export function detectFormat(name: string, head: Uint8Array): TraceFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.includes('oraclegeneral') || lower.endsWith('.bin')) return 'oracle-general';
  const n = Math.min(head.length, 512);
  for (let i = 0; i < n; i++) {
    const c = head[i]!;
    if (c === 0 || (c < 9 && c !== 0) || (c > 13 && c < 32)) return 'oracle-general';
  }
  const firstLine = Buffer.from(head.subarray(0, n)).toString('latin1').split('\n')[0] ?? '';
  if (firstLine.includes(',')) return 'csv';
  return 'adaptsize';
}

export function parseTrace(bytes: Uint8Array, format: TraceFormat, name = 'trace'): Trace {
  switch (format) {
    case 'adaptsize':
      return parseAdaptSize(bytes, name);
    case 'csv':
      return parseCsvTrace(bytes, name);
    case 'oracle-general':
      return parseOracleGeneral(bytes, name);
  }
}

/** Sum of the sizes of distinct objects (last seen size of each). */
export function uniqueBytes(t: Trace): number {
  const seen = new Float64Array(t.keys.length).fill(-1);
  for (let i = 0; i < t.length; i++) seen[t.obj[i]!] = t.size[i]!;
  let s = 0;
  for (const v of seen) if (v > 0) s += v;
  return s;
}

/** For each request, the index of the next request for the same object (Infinity if none). */
export function nextUseIndex(t: Trace): Float64Array {
  const next = new Float64Array(t.length);
  const last = new Float64Array(t.keys.length).fill(Infinity);
  for (let i = t.length - 1; i >= 0; i--) {
    const o = t.obj[i]!;
    next[i] = last[o]!;
    last[o] = i;
  }
  return next;
}
