/**
 * The tensor patch method (docs/spec/patch.md §Tensor payload). The new file is described as a list
 * of segments in file order: L (literal container bytes), C (copy a range of the old file), D (a
 * residual against an old tensor of the same dtype and size: XOR or zigzag difference of the bit
 * patterns) and N (a new tensor's bytes). Literals are one zstd frame that may reference the old
 * file's container bytes (the `ref` ranges); D and N bytes go into per-(kind, width) streams cut in
 * blocks, each block split into byte planes, each plane zstd-coded or stored. Encoder and decoder are
 * pure: the encoder takes bytes and tensor lists, the decoder reads the old file through a
 * RandomAccessSource and hands NEW's bytes, in order, to a sink. No file I/O, no format parsing.
 */
import { createHash } from 'node:crypto';
import { McdnError } from '../errors.ts';
import type { RandomAccessSource, TensorInfo } from '../formats/types.ts';
import { DTYPE_BYTES } from '../formats/types.ts';
import { splitPlanes } from '../codec/planes.ts';
import { zstdCompress, zstdCompressWithPrefix, zstdDecompress, zstdDecompressInto, zstdDecompressWithPrefix } from '../codec/zstd.ts';
import type { BufferSet } from './buffers.ts';
import { checkFrameSize } from './zstd-guard.ts';
import { CASTS, castFor } from './cast.ts';
import { acceptsUnaligned, estimatePlanesBytes, forwardResidual, inverseResidualRun, joinRunFast, opAllowed, planeEntropyBits, type PlaneRun, type ResidualOp } from './residual.ts';

/** Largest raw size of one block of a residual stream (a multiple of every width): the decoder's limit. */
export const BLOCK_RAW_BYTES = 8 << 20;
/**
 * Raw bytes per block the encoder cuts by default (a multiple of every width, at most
 * BLOCK_RAW_BYTES). A decoder holds one block's zstd-coded planes at a time, so this sets its working
 * memory: 512 KiB blocks need 0.5 MiB of plane buffers where 8 MiB blocks needed 8 MiB, whose first
 * touch cost a fresh process ~7 ms of CPU (10.8 MB ppocr pairs: cold apply 74 → 67 ms of process CPU,
 * warm 40 → 37). Patches come out no larger: the per-block choice of plane level adapts more finely
 * (σ=1e-3 pair 48.76 % → 48.68 % of NEW, σ=1e-2 58.90 % → 58.77 %).
 */
export const ENCODE_BLOCK_RAW_BYTES = 512 << 10;
/** Largest decoded plan we accept. */
export const MAX_PLAN_BYTES = 64 << 20;
/** Largest number of segments a plan may list. */
export const MAX_SEGMENTS = 4_000_000;
/** Bytes handled at once when copying or reconstructing a long segment. */
export const PIECE_BYTES = 1 << 20;
/** A plane whose order-0 entropy exceeds this many bits per byte is stored, not zstd-coded. */
export const STORE_ENTROPY_BITS = 7.97;

/**
 * zstd level for one residual plane, from its order-0 entropy (bits per byte). Measured on ppocr
 * continued-training residuals: above ~6 bits zstd is Huffman-bound and level 3 codes within 0.2 %
 * of level 19 at 1/50 of the time; nearly-constant planes (< 0.5 bits) gain ~0.5 % of the plane
 * from level 19 over 9 at 40x the time; in between, high levels pay (σ=1e-2 exponent-side plane:
 * 44.7 % at level 3, 37.3 % at 19). An encoder choice only — decoders do not care.
 */
export function planeLevel(entropyBits: number, level: number): number {
  if (entropyBits >= 6) return Math.min(level, 3);
  if (entropyBits < 0.5) return Math.min(level, 9);
  return level;
}

export type Segment =
  | ['L', number]
  | ['C', number, number]
  | ['D', number, number, number, ResidualOp]
  | ['P', number, number, number, string, ResidualOp]
  | ['N', number, number];

export type PlaneCoding = ['z' | 'r', number];
export type BlockEntry = [string, number, PlaneCoding[]];

export interface TensorPlan {
  v: 1;
  ref: [number, number][];
  lit: [number, number];
  seg: Segment[];
  blk: BlockEntry[];
}

export interface TensorEncodeOptions {
  /** zstd level for the literal frame, the plan and the residual planes (default 19) */
  level?: number;
  /** raw bytes per residual block (default ENCODE_BLOCK_RAW_BYTES; a multiple of 8, at most BLOCK_RAW_BYTES) */
  blockBytes?: number;
}

export interface TensorEncodeStats {
  copied: number;
  delta: number;
  added: number;
  literal: number;
}

const WIDTHS = new Set([1, 2, 4, 8]);

function widthOf(t: TensorInfo): number {
  const w = DTYPE_BYTES[t.dtype];
  return w !== undefined && WIDTHS.has(w) && t.length % w === 0 ? w : 1;
}

/** Tensors that lie inside the file, sorted by offset, without overlaps or empties. */
export function usableTensors(tensors: readonly TensorInfo[], size: number): TensorInfo[] {
  const ok = tensors
    .filter((t) => t.file === undefined && Number.isInteger(t.offset) && Number.isInteger(t.length) && t.offset >= 0 && t.length > 0 && t.offset + t.length <= size)
    .sort((a, b) => a.offset - b.offset);
  const out: TensorInfo[] = [];
  let end = 0;
  for (const t of ok) {
    if (t.offset < end) continue;
    out.push(t);
    end = t.offset + t.length;
  }
  return out;
}

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

/** Accumulates one residual stream's bytes and cuts it into coded blocks. */
class StreamWriter {
  private parts: Uint8Array[] = [];
  private len = 0;
  constructor(
    readonly key: string,
    readonly w: number,
    private readonly blockBytes: number,
    private readonly emit: (key: string, w: number, raw: Uint8Array) => void,
  ) {}
  push(b: Uint8Array): void {
    let off = 0;
    while (off < b.length) {
      const take = Math.min(b.length - off, this.blockBytes - this.len);
      this.parts.push(b.subarray(off, off + take));
      this.len += take;
      off += take;
      if (this.len === this.blockBytes) this.flush();
    }
  }
  flush(): void {
    if (this.len === 0) return;
    const raw = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    this.len = 0;
    this.emit(this.key, this.w, new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
  }
}

/** The cheapest of XOR, difference (against `pred`) and no residual (op null: code as new). */
function cheapest(w: number, pred: Uint8Array, bytes: Uint8Array): { op: ResidualOp | null; res: Uint8Array } {
  const candidates: { op: ResidualOp | null; res: Uint8Array; cost: number }[] = [];
  for (const op of ['x', 's'] as const) {
    if (!opAllowed(op, w)) continue;
    const res = forwardResidual(op, w, pred, bytes);
    candidates.push({ op, res, cost: estimatePlanesBytes(res, w) });
  }
  candidates.push({ op: null, res: bytes, cost: estimatePlanesBytes(bytes, w) });
  candidates.sort((a, b) => a.cost - b.cost);
  return candidates[0];
}

/** Encode the tensor payload that turns `old` into `nw`. Tensor lists come from readModelLayout. */
export function encodeTensorPayload(
  old: Uint8Array,
  nw: Uint8Array,
  oldTensors: readonly TensorInfo[],
  newTensors: readonly TensorInfo[],
  opts: TensorEncodeOptions = {},
): { payload: Uint8Array; stats: TensorEncodeStats } {
  const level = opts.level ?? 19;
  const blockBytes = opts.blockBytes ?? ENCODE_BLOCK_RAW_BYTES;
  if (!Number.isSafeInteger(blockBytes) || blockBytes <= 0 || blockBytes % 8 !== 0 || blockBytes > BLOCK_RAW_BYTES) {
    throw new McdnError('PATCH_BAD_BLOCK_SIZE', 'input', `residual block size ${blockBytes} must be a positive multiple of 8 up to ${BLOCK_RAW_BYTES}`);
  }
  const olds = usableTensors(oldTensors, old.length);
  const news = usableTensors(newTensors, nw.length);
  const byName = new Map<string, TensorInfo>();
  const byHash = new Map<string, TensorInfo>();
  for (const t of olds) {
    if (!byName.has(t.name)) byName.set(t.name, t);
  }
  const oldHash = (t: TensorInfo) => sha(old.subarray(t.offset, t.offset + t.length));
  let hashed = false;
  const stats: TensorEncodeStats = { copied: 0, delta: 0, added: 0, literal: 0 };

  const seg: Segment[] = [];
  const litParts: Uint8Array[] = [];
  const blk: BlockEntry[] = [];
  const blockData: Uint8Array[] = [];
  const emitBlock = (key: string, w: number, raw: Uint8Array) => {
    const planes = splitPlanes(raw, w);
    const n = raw.length / w;
    const codings: PlaneCoding[] = [];
    for (let k = 0; k < w; k++) {
      const p = planes.subarray(k * n, (k + 1) * n);
      const h = planeEntropyBits(p, 1, 0) / Math.max(1, n);
      let coded: Uint8Array | null = null;
      if (h < STORE_ENTROPY_BITS) {
        coded = zstdCompress(p, planeLevel(h, level));
        if (coded.length >= p.length) coded = null;
      }
      if (coded) {
        codings.push(['z', coded.length]);
        blockData.push(coded);
      } else {
        codings.push(['r', p.length]);
        blockData.push(p);
      }
    }
    blk.push([key, raw.length, codings]);
  };
  const streams = new Map<string, StreamWriter>();
  const stream = (key: string, w: number) => {
    let s = streams.get(key);
    if (!s) streams.set(key, (s = new StreamWriter(key, w, blockBytes, emitBlock)));
    return s;
  };
  const pushSeg = (s: Segment) => {
    const last = seg[seg.length - 1];
    if (s[0] === 'L' && last?.[0] === 'L') last[1] += s[1];
    else if (s[0] === 'C' && last?.[0] === 'C' && last[1] + last[2] === s[1]) last[2] += s[2];
    else seg.push(s);
  };
  const literal = (from: number, to: number) => {
    if (to <= from) return;
    litParts.push(nw.subarray(from, to));
    stats.literal += to - from;
    pushSeg(['L', to - from]);
  };

  let cursor = 0;
  for (const t of news) {
    literal(cursor, t.offset);
    cursor = t.offset + t.length;
    const bytes = nw.subarray(t.offset, cursor);
    const w = widthOf(t);
    const o = byName.get(t.name);
    if (o && o.dtype === t.dtype && o.length === t.length) {
      const ob = old.subarray(o.offset, o.offset + o.length);
      if (equalBytes(ob, bytes)) {
        pushSeg(['C', o.offset, t.length]);
        stats.copied += t.length;
        continue;
      }
      // choose the cheapest of XOR, difference and coding the tensor as new
      const best = cheapest(w, ob, bytes);
      if (best.op) {
        pushSeg(['D', o.offset, t.length, w, best.op]);
        stream(`d${w}`, w).push(best.res);
        stats.delta += t.length;
        continue;
      }
    } else {
      // the same tensor re-encoded to another float type: predict NEW by converting OLD
      const cast = o ? castFor(o.dtype, t.dtype) : undefined;
      if (o && cast && o.length / CASTS[cast].fromWidth === t.length / CASTS[cast].toWidth && o.length % CASTS[cast].fromWidth === 0) {
        const cw = CASTS[cast].toWidth;
        const best = cheapest(cw, CASTS[cast].convert(old.subarray(o.offset, o.offset + o.length)), bytes);
        if (best.op) {
          pushSeg(['P', o.offset, o.length, t.length, cast, best.op]);
          stream(`d${cw}`, cw).push(best.res);
          stats.delta += t.length;
          continue;
        }
      }
      if (!hashed) {
        for (const x of olds) {
          const h = oldHash(x);
          if (!byHash.has(h)) byHash.set(h, x);
        }
        hashed = true;
      }
      const same = byHash.get(sha(bytes));
      if (same) {
        pushSeg(['C', same.offset, t.length]);
        stats.copied += t.length;
        continue;
      }
    }
    pushSeg(['N', t.length, w]);
    stream(`n${w}`, w).push(bytes);
    stats.added += t.length;
  }
  literal(cursor, nw.length);
  for (const s of streams.values()) s.flush();

  // the literal frame may reference the old file's container bytes
  const ref: [number, number][] = [];
  let oc = 0;
  for (const t of olds) {
    if (t.offset > oc) ref.push([oc, t.offset - oc]);
    oc = t.offset + t.length;
  }
  if (old.length > oc) ref.push([oc, old.length - oc]);
  let refBytes = concatRanges(old, ref);
  if (refIsDictionaryMagic(refBytes)) {
    ref.length = 0;
    refBytes = new Uint8Array(0);
  }
  const lit = Buffer.concat(litParts);
  const litFrame = lit.length === 0 ? new Uint8Array(0) : zstdCompressWithPrefix(lit, refBytes, { level });

  const plan: TensorPlan = { v: 1, ref, lit: [lit.length, litFrame.length], seg, blk };
  const planRaw = new TextEncoder().encode(JSON.stringify(plan));
  const planFrame = zstdCompress(planRaw, level);
  const head = new Uint8Array(8);
  new DataView(head.buffer).setUint32(0, planFrame.length, true);
  new DataView(head.buffer).setUint32(4, planRaw.length, true);
  const payload = Buffer.concat([head, planFrame, litFrame, ...blockData]);
  return { payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength), stats };
}

/** zstd would parse a reference starting with its dictionary magic as a trained dictionary. */
function refIsDictionaryMagic(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x37 && b[1] === 0xa4 && b[2] === 0x30 && b[3] === 0xec;
}

function concatRanges(b: Uint8Array, ranges: readonly [number, number][]): Uint8Array {
  let n = 0;
  for (const [, len] of ranges) n += len;
  const out = new Uint8Array(n);
  let at = 0;
  for (const [off, len] of ranges) {
    out.set(b.subarray(off, off + len), at);
    at += len;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// decoding

function bad(what: string, msg: string, details: Record<string, unknown> = {}): McdnError {
  return new McdnError('PATCH_CORRUPT', 'input', `${what}: ${msg}`, { details, remedy: 'the patch file is damaged or truncated; fetch it again' });
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Validate a decoded plan against the old and new sizes; returns it typed. */
export function validatePlan(x: unknown, oldSize: number, newSize: number, what: string): TensorPlan {
  const p = x as TensorPlan;
  if (!p || typeof p !== 'object' || p.v !== 1 || !Array.isArray(p.ref) || !Array.isArray(p.lit) || !Array.isArray(p.seg) || !Array.isArray(p.blk)) {
    throw bad(what, 'tensor plan has the wrong shape');
  }
  if (p.seg.length > MAX_SEGMENTS) throw bad(what, `tensor plan lists ${p.seg.length} segments (limit ${MAX_SEGMENTS})`);
  for (const r of p.ref) {
    if (!Array.isArray(r) || r.length !== 2 || !isCount(r[0]) || !isCount(r[1]) || r[0] + r[1] > oldSize) throw bad(what, 'reference range outside the old file');
  }
  if (p.lit.length !== 2 || !isCount(p.lit[0]) || !isCount(p.lit[1])) throw bad(what, 'bad literal sizes');
  let total = 0;
  let litTotal = 0;
  const need = new Map<string, number>();
  for (const s of p.seg) {
    if (!Array.isArray(s)) throw bad(what, 'bad segment');
    switch (s[0]) {
      case 'L':
        if (s.length !== 2 || !isCount(s[1])) throw bad(what, 'bad literal segment');
        litTotal += s[1];
        total += s[1];
        break;
      case 'C':
        if (s.length !== 3 || !isCount(s[1]) || !isCount(s[2]) || s[1] + s[2] > oldSize) throw bad(what, 'copy segment outside the old file');
        total += s[2];
        break;
      case 'D': {
        if (s.length !== 5 || !isCount(s[1]) || !isCount(s[2]) || s[1] + s[2] > oldSize) throw bad(what, 'delta segment outside the old file');
        if (!WIDTHS.has(s[3]) || s[2] % s[3] !== 0 || !opAllowed(s[4], s[3])) throw bad(what, 'delta segment has a bad width or operation');
        const key = `d${s[3]}`;
        need.set(key, (need.get(key) ?? 0) + s[2]);
        total += s[2];
        break;
      }
      case 'P': {
        if (s.length !== 6 || !isCount(s[1]) || !isCount(s[2]) || !isCount(s[3]) || s[1] + s[2] > oldSize) throw bad(what, 'cast segment outside the old file');
        const k = typeof s[4] === 'string' && Object.hasOwn(CASTS, s[4]) ? CASTS[s[4]] : undefined;
        if (!k || s[2] % k.fromWidth !== 0 || s[3] % k.toWidth !== 0 || s[2] / k.fromWidth !== s[3] / k.toWidth || !opAllowed(s[5], k.toWidth)) throw bad(what, 'cast segment has a bad cast, size or operation');
        const key = `d${k.toWidth}`;
        need.set(key, (need.get(key) ?? 0) + s[3]);
        total += s[3];
        break;
      }
      case 'N': {
        if (s.length !== 3 || !isCount(s[1]) || !WIDTHS.has(s[2]) || s[1] % s[2] !== 0) throw bad(what, 'bad new-tensor segment');
        const key = `n${s[2]}`;
        need.set(key, (need.get(key) ?? 0) + s[1]);
        total += s[1];
        break;
      }
      default:
        throw bad(what, 'unknown segment kind');
    }
  }
  if (total !== newSize) throw bad(what, `segments cover ${total} bytes, the new file has ${newSize}`);
  if (litTotal !== p.lit[0]) throw bad(what, 'literal segments do not match the literal stream size');
  const have = new Map<string, number>();
  for (const b of p.blk) {
    if (!Array.isArray(b) || b.length !== 3 || typeof b[0] !== 'string' || !/^[dn][1248]$/.test(b[0]) || !isCount(b[1]) || !Array.isArray(b[2])) throw bad(what, 'bad block entry');
    const w = Number(b[0].slice(1));
    if (b[1] % w !== 0 || b[1] === 0 || b[1] > BLOCK_RAW_BYTES || b[2].length !== w) throw bad(what, 'bad block size');
    for (const c of b[2]) {
      if (!Array.isArray(c) || c.length !== 2 || (c[0] !== 'z' && c[0] !== 'r') || !isCount(c[1])) throw bad(what, 'bad plane entry');
      if (c[0] === 'r' && c[1] !== b[1] / w) throw bad(what, 'stored plane has the wrong size');
    }
    have.set(b[0], (have.get(b[0]) ?? 0) + b[1]);
  }
  for (const k of new Set([...need.keys(), ...have.keys()])) {
    if ((need.get(k) ?? 0) !== (have.get(k) ?? 0)) throw bad(what, `stream ${k} holds ${have.get(k) ?? 0} bytes, segments need ${need.get(k) ?? 0}`);
  }
  return p;
}

/** Name in a BufferSet of the buffer plane k of stream `key` decodes into ('z') or is copied to ('r'). */
function planeBufferName(kind: 'z' | 'r', key: string, k: number): string {
  return `${kind}${key}.${k}`;
}

/**
 * The zstd-coded planes' buffers a decode of `plan` will take from its BufferSet: [name, bytes] with
 * the largest size each needs, so a caller can allocate (and prefault) them ahead of decoding.
 */
export function planeBuffersOf(plan: TensorPlan): [string, number][] {
  const need = new Map<string, number>();
  for (const [key, raw, codings] of plan.blk) {
    const n = raw / Number(key.slice(1));
    codings.forEach(([kind], k) => {
      if (kind !== 'z') return;
      const name = planeBufferName('z', key, k);
      need.set(name, Math.max(need.get(name) ?? 0, n));
    });
  }
  return [...need];
}

/** Sequential reader over one residual stream's blocks, handing out runs of plane bytes. */
class StreamReader {
  private planes: Uint8Array[] = [];
  private n = 0;
  private pos = 0;
  private next = 0;
  constructor(
    private readonly key: string,
    private readonly blocks: { raw: number; planes: { coding: PlaneCoding; data: Uint8Array }[] }[],
    private readonly w: number,
    private readonly what: string,
    private readonly buffers: BufferSet | undefined,
  ) {}
  /** A buffer for plane k of the current block: from the set (reused block after block) or fresh. */
  private planeBuffer(k: number, n: number, kind: 'z' | 'r'): Uint8Array {
    return this.buffers ? this.buffers.get(planeBufferName(kind, this.key, k), n) : new Uint8Array(n);
  }
  private load(): void {
    const b = this.blocks[this.next++];
    if (!b) throw bad(this.what, 'residual stream ended early');
    const n = b.raw / this.w;
    // zstd planes decode into (reused) plane buffers; stored planes are read in place unless they sit
    // at an offset that is not a multiple of 4 (then copied once, so the decoder can read 4 bytes at a
    // time). All planes are plain Uint8Array views (one element kind keeps the hot loops monomorphic).
    this.planes = b.planes.map(({ coding, data }, k) => {
      let p = data;
      if (coding[0] === 'r') {
        if (p.byteOffset % 4 !== 0) {
          const c = this.planeBuffer(k, p.length, 'r');
          c.set(p);
          p = c;
        }
      } else {
        checkFrameSize(data, n, this.what);
        p = this.planeBuffer(k, n, 'z');
        zstdDecompressInto(data, p);
      }
      return new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
    });
    this.n = n;
    this.pos = 0;
  }
  /** The next run of at most `maxElems` elements (never crossing a block boundary). */
  run(maxElems: number): PlaneRun {
    if (this.pos === this.n) this.load();
    const count = Math.min(maxElems, this.n - this.pos);
    const r = { planes: this.planes, start: this.pos, count };
    this.pos += count;
    return r;
  }
}

/** Parse the payload's plan (for inspection and for decoding). */
export function readTensorPlan(payload: Uint8Array, oldSize: number, newSize: number, what: string): { plan: TensorPlan; dataOffset: number } {
  if (payload.length < 8) throw bad(what, 'tensor payload truncated');
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const planComp = dv.getUint32(0, true);
  const planRawLen = dv.getUint32(4, true);
  if (planRawLen > MAX_PLAN_BYTES) throw bad(what, `tensor plan of ${planRawLen} bytes exceeds the ${MAX_PLAN_BYTES}-byte limit`);
  if (8 + planComp > payload.length) throw bad(what, 'tensor plan truncated');
  let json: unknown;
  try {
    checkFrameSize(payload.subarray(8, 8 + planComp), planRawLen, what);
    const raw = zstdDecompress(payload.subarray(8, 8 + planComp), planRawLen);
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    if (e instanceof McdnError && e.code !== 'ZSTD_CORRUPT' && e.code !== 'ZSTD_SIZE_MISMATCH' && e.code !== 'PATCH_CORRUPT') throw e;
    throw bad(what, 'tensor plan is unreadable');
  }
  return { plan: validatePlan(json, oldSize, newSize, what), dataOffset: 8 + planComp };
}

/**
 * Space in the sink's own buffer for the next `n` bytes of NEW (or undefined): the decoder may build
 * those bytes there and then hand exactly that view to the sink, which then need not copy it.
 */
export type Reserve = (n: number) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

/**
 * OLD as the decoder reads it. A source may reuse one buffer for all its `read`s (the decoder uses each
 * result before its next read) and may offer `readInto`, which reads straight into the caller's buffer.
 */
export interface OldSource extends RandomAccessSource {
  /** may complete synchronously (no promise) when the bytes are at hand */
  readInto?(dst: Uint8Array, offset: number): Promise<void> | void;
}

export interface DecodeOptions {
  /** lets the decoder build NEW's bytes directly in the sink's buffer */
  reserve?: Reserve;
  /** working buffers reused across blocks (and across applies); fresh ones when absent */
  buffers?: BufferSet;
  /** the payload's plan, already read (readTensorPlan with the same sizes), and its `ref` bytes if gathered */
  prepared?: PreparedPlan;
}

export interface PreparedPlan {
  plan: TensorPlan;
  dataOffset: number;
  /** OLD's bytes at the plan's `ref` ranges, concatenated, gathered for every range byte at or after `from` */
  ref?: { ref: Uint8Array; from: number };
}

/**
 * A collector for the plan's `ref` ranges (OLD's container bytes the literal frame references) fed
 * with OLD's bytes in file order, e.g. by the pass that hashes OLD — so the decoder need not read
 * them by range afterwards. `feed(at, chunk)` is called with consecutive chunks, starting anywhere;
 * `done()` returns the buffer of the concatenated ranges, complete for every range byte at or after
 * `from` (the first chunk's offset: the decoder reads the bytes before it), or undefined if the feed
 * was not contiguous to the end of OLD. Undefined (no collector) when the ranges are not in
 * ascending order of offset.
 */
export function refCollector(plan: TensorPlan, into: Uint8Array): { feed: (at: number, chunk: Uint8Array) => void; done: (oldSize: number) => { ref: Uint8Array; from: number } | undefined } | undefined {
  const ranges = plan.ref;
  const pos: number[] = [];
  let total = 0;
  for (let i = 0; i < ranges.length; i++) {
    if (i > 0 && ranges[i][0] < ranges[i - 1][0]) return undefined;
    pos.push(total);
    total += ranges[i][1];
  }
  if (into.length !== total) return undefined;
  let first = 0; // ranges before it end at or before every chunk still to come
  let from = -1;
  let next = -1; // where the next chunk must start
  let broken = false;
  return {
    feed(at, chunk) {
      if (from < 0) from = next = at;
      if (at !== next) broken = true;
      next = at + chunk.length;
      const end = next;
      while (first < ranges.length && ranges[first][0] + ranges[first][1] <= at) first++;
      for (let j = first; j < ranges.length && ranges[j][0] < end; j++) {
        const [off, len] = ranges[j];
        const lo = Math.max(off, at);
        const hi = Math.min(off + len, end);
        if (hi > lo) into.set(chunk.subarray(lo - at, hi - at), pos[j] + (lo - off));
      }
    },
    done: (oldSize) => (from >= 0 && !broken && next === oldSize ? { ref: into, from } : undefined),
  };
}

type BlockList = { raw: number; planes: { coding: PlaneCoding; data: Uint8Array }[] }[];

/**
 * Decode a tensor payload: reads OLD through `old`, hands NEW's bytes in order to `sink`. A chunk is
 * only valid until the sink's promise resolves (reconstructed tensors reuse one scratch buffer), so a
 * sink that keeps bytes must copy them. Throws McdnError PATCH_CORRUPT (or a zstd error) on any
 * inconsistency.
 */
export async function decodeTensorPayload(
  payload: Uint8Array,
  old: OldSource,
  newSize: number,
  sink: (chunk: Uint8Array) => Promise<void> | void,
  what = 'patch',
  opts: DecodeOptions = {},
): Promise<void> {
  const { plan, dataOffset } = opts.prepared ?? readTensorPlan(payload, old.size, newSize, what);
  let at = dataOffset;
  const slice = (n: number) => {
    if (at + n > payload.length) throw bad(what, 'payload truncated');
    const s = payload.subarray(at, at + n);
    at += n;
    return s;
  };
  const litFrame = slice(plan.lit[1]);
  const blocksByKey = new Map<string, BlockList>();
  for (const [key, raw, codings] of plan.blk) {
    const planes = codings.map((coding) => ({ coding, data: slice(coding[1]) }));
    let list = blocksByKey.get(key);
    if (!list) blocksByKey.set(key, (list = []));
    list.push({ raw, planes });
  }
  if (at !== payload.length) throw bad(what, `${payload.length - at} unexpected bytes after the last block`);
  const d = new SegmentDecoder(old, sink, what, blocksByKey, opts);
  await d.literals(plan, litFrame, opts.prepared?.ref);
  for (const s of plan.seg) {
    switch (s[0]) {
      case 'L': {
        const p = d.literal(s[1]);
        if (p) await p;
        break;
      }
      case 'C':
        await d.copy(s[1], s[2]);
        break;
      case 'D':
        await d.delta(s[1], s[2], s[3], s[4]);
        break;
      case 'P':
        await d.cast(s[1], s[3], s[4], s[5]);
        break;
      case 'N':
        await d.added(s[1], s[2]);
        break;
    }
  }
}

/**
 * The work of each segment kind, as small methods (one big async loop body costs V8 tens of ms of
 * optimizing-compiler time on a background thread). D, P and N pieces (at most PIECE_BYTES each) are
 * rebuilt straight into the sink's own buffer when it offers one (at any offset where the SIMD
 * kernels run, else aligned for the element width), otherwise into one scratch buffer.
 */
class SegmentDecoder {
  private lit: Uint8Array = new Uint8Array(0);
  private litPos = 0;
  private scratch: Uint8Array | undefined; // taken on first use only
  private readonly readers = new Map<string, StreamReader>();

  constructor(
    private readonly old: OldSource,
    private readonly sink: (chunk: Uint8Array) => Promise<void> | void,
    private readonly what: string,
    private readonly blocksByKey: Map<string, BlockList>,
    private readonly opts: DecodeOptions,
  ) {}

  private buf(key: string, n: number): Uint8Array {
    return this.opts.buffers ? this.opts.buffers.get(key, n) : new Uint8Array(n);
  }

  // The helpers below return a promise only when they must wait (a window load, a buffer flush), and
  // callers await only then: most pieces complete synchronously, without a promise or a suspension.

  private readInto(dst: Uint8Array, off: number): Promise<void> | void {
    if (this.old.readInto) return this.old.readInto(dst, off);
    return this.old.read(off, dst.length).then((b) => dst.set(b));
  }

  private destFrom(r: Uint8Array | undefined, n: number, w: number): Uint8Array {
    if (r && r.length >= n && (r.byteOffset % w === 0 || acceptsUnaligned(w))) return r.subarray(0, n);
    return (this.scratch ??= this.buf('scratch', PIECE_BYTES)).subarray(0, n);
  }

  private dest(n: number, w: number): Promise<Uint8Array> | Uint8Array {
    const r = this.opts.reserve?.(n);
    return r instanceof Promise ? r.then((x) => this.destFrom(x, n, w)) : this.destFrom(r, n, w);
  }

  private reader(key: string, w: number): StreamReader {
    let r = this.readers.get(key);
    if (!r) this.readers.set(key, (r = new StreamReader(key, this.blocksByKey.get(key) ?? [], w, this.what, this.opts.buffers)));
    return r;
  }

  /** Decode the literal frame against OLD's container bytes (the plan's `ref` ranges). */
  async literals(plan: TensorPlan, litFrame: Uint8Array, gathered?: { ref: Uint8Array; from: number }): Promise<void> {
    if (plan.lit[0] === 0) return;
    let ref = gathered?.ref;
    const from = gathered?.from ?? Infinity; // range bytes at or after it are already gathered
    if (!ref) {
      let refLen = 0;
      for (const [, len] of plan.ref) refLen += len;
      ref = this.buf('ref', refLen);
    }
    let pos = 0;
    for (const [off, len] of plan.ref) {
      if (off >= from) break; // ranges ascend when gathered
      const n = Math.min(len, from - off);
      const p = this.readInto(ref.subarray(pos, pos + n), off);
      if (p) await p;
      pos += len;
    }
    checkFrameSize(litFrame, plan.lit[0], this.what);
    this.lit = zstdDecompressWithPrefix(litFrame, ref, plan.lit[0]);
  }

  literal(n: number): Promise<void> | void {
    const c = this.lit.subarray(this.litPos, this.litPos + n);
    this.litPos += n;
    return this.sink(c);
  }

  async copy(off: number, len: number): Promise<void> {
    const reserve = this.opts.reserve;
    for (let done = 0; done < len; ) {
      const n = Math.min(PIECE_BYTES, len - done);
      // straight from OLD into the sink's buffer when it offers one
      let r = reserve?.(n);
      if (r instanceof Promise) r = await r;
      let p: Promise<void> | void;
      if (r && r.length >= n) {
        const d = r.subarray(0, n);
        if ((p = this.readInto(d, off + done))) await p;
        p = this.sink(d);
      } else {
        p = this.sink(await this.old.read(off + done, n));
      }
      if (p) await p;
      done += n;
    }
  }

  async delta(off: number, len: number, w: number, op: ResidualOp): Promise<void> {
    const r = this.reader(`d${w}`, w);
    for (let done = 0; done < len; ) {
      const run = r.run(Math.min(PIECE_BYTES, len - done) / w);
      const n = run.count * w;
      // OLD is read into the destination and NEW rebuilt over it in place
      let d = this.dest(n, w);
      if (d instanceof Promise) d = await d;
      let p = this.readInto(d, off + done);
      if (p) await p;
      if ((p = this.sink(inverseResidualRun(op, w, d, run, d)))) await p;
      done += n;
    }
  }

  async cast(off: number, newLen: number, cast: string, op: ResidualOp): Promise<void> {
    const k = CASTS[cast];
    const r = this.reader(`d${k.toWidth}`, k.toWidth);
    for (let done = 0; done < newLen; ) {
      const run = r.run(Math.min(PIECE_BYTES, newLen - done) / k.toWidth);
      const pred = k.convert(await this.old.read(off + (done / k.toWidth) * k.fromWidth, run.count * k.fromWidth));
      let d = this.dest(run.count * k.toWidth, k.toWidth);
      if (d instanceof Promise) d = await d;
      const p = this.sink(inverseResidualRun(op, k.toWidth, pred, run, d));
      if (p) await p;
      done += run.count * k.toWidth;
    }
  }

  async added(len: number, w: number): Promise<void> {
    const r = this.reader(`n${w}`, w);
    for (let done = 0; done < len; ) {
      const run = r.run(Math.min(PIECE_BYTES, len - done) / w);
      let d = this.dest(run.count * w, w);
      if (d instanceof Promise) d = await d;
      const p = this.sink(joinRunFast(w, run, d));
      if (p) await p;
      done += run.count * w;
    }
  }
}
