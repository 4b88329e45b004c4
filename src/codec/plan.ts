/**
 * Chunk planning (docs/spec/mcz.md §6): cut a file into chunks ≤ 4 MiB aligned to its tensors.
 * Large tensors (≥ 64 KiB) start their own chunks and are cut at element-aligned multiples of the
 * chunk size from the tensor's start, so identical tensors give identical chunks (and chunk hashes)
 * wherever they sit — the unit chunk-level dedup builds on. Small tensors and the container bytes
 * between them are grouped. Pure: takes sizes and ranges, returns a plan; no I/O, no compression.
 */
import { MAX_CHUNK_BYTES, type ChunkRange } from './chunk.ts';
import { MAX_PLANE_WIDTH } from './planes.ts';

/** Tensors and non-tensor runs at least this long get chunks of their own. */
export const OWN_CHUNK_MIN_BYTES = 64 * 1024;

export interface TensorRange {
  offset: number;
  length: number;
  /** element width in bytes (1 for byte or block-quantized types) */
  width: number;
  /** for tensors of 1-byte elements: row lengths in bytes to try for the COLUMNS method (e.g. the last dimension) */
  strides?: number[];
}

export interface PlannedChunk {
  offset: number;
  length: number;
  /** element width for plane grouping (1 = none) */
  width: number;
  /** ranges (relative to the chunk) holding elements of `width`; undefined = the whole chunk */
  ranges?: ChunkRange[];
  /** true for bytes with no tensor in them: the encoder probes plane widths 4 and 2 */
  probe: boolean;
  /** the chunk is a piece of one tensor of 1-byte elements: its row lengths (from the tensor's start) */
  strides?: number[];
}

/** Keep tensors that are inside the file, non-empty and non-overlapping, sorted by offset. */
export function cleanTensorRanges(size: number, tensors: readonly TensorRange[]): TensorRange[] {
  const sorted = tensors
    .filter((t) => Number.isSafeInteger(t.offset) && Number.isSafeInteger(t.length) && t.length > 0 && t.offset >= 0 && t.offset + t.length <= size)
    .map((t) => ({ offset: t.offset, length: t.length, width: Number.isInteger(t.width) && t.width >= 1 && t.width <= MAX_PLANE_WIDTH ? t.width : 1, ...(t.strides?.length ? { strides: t.strides } : {}) }))
    .sort((a, b) => a.offset - b.offset || b.length - a.length);
  const out: TensorRange[] = [];
  let end = 0;
  for (const t of sorted) {
    if (t.offset < end) continue; // overlapping (e.g. aliased data): first one wins
    out.push(t);
    end = t.offset + t.length;
  }
  return out;
}

export interface PlanOptions {
  maxChunk?: number;
  /** segments at least this long get chunks of their own (default OWN_CHUNK_MIN_BYTES) */
  ownChunkMinBytes?: number;
}

export function planChunks(size: number, tensors: readonly TensorRange[], opts: PlanOptions = {}): PlannedChunk[] {
  const maxChunk = opts.maxChunk ?? MAX_CHUNK_BYTES;
  const ownMin = opts.ownChunkMinBytes ?? OWN_CHUNK_MIN_BYTES;
  const clean = cleanTensorRanges(size, tensors);
  const chunks: PlannedChunk[] = [];
  // segments: gaps (width 0) and tensors, covering [0, size)
  type Seg = { offset: number; length: number; width: number; tensor: boolean; strides?: number[] };
  const segs: Seg[] = [];
  let pos = 0;
  for (const t of clean) {
    if (t.offset > pos) segs.push({ offset: pos, length: t.offset - pos, width: 1, tensor: false });
    segs.push({ offset: t.offset, length: t.length, width: t.width, tensor: true, ...(t.strides ? { strides: t.strides } : {}) });
    pos = t.offset + t.length;
  }
  if (pos < size) segs.push({ offset: pos, length: size - pos, width: 1, tensor: false });

  let group: Seg[] = [];
  let groupLen = 0;
  const flush = () => {
    if (group.length) chunks.push(groupChunk(group));
    group = [];
    groupLen = 0;
  };
  for (const s of segs) {
    if (s.length >= ownMin) {
      flush();
      const piece = s.tensor ? Math.max(s.width, Math.floor(maxChunk / s.width) * s.width) : maxChunk;
      for (let o = 0; o < s.length; o += piece) {
        // a piece starting mid-row would transpose misaligned rows: only strides dividing its offset
        const strides = s.strides?.filter((st) => o % st === 0);
        chunks.push({ offset: s.offset + o, length: Math.min(piece, s.length - o), width: s.width, probe: !s.tensor, ...(strides?.length ? { strides } : {}) });
      }
      continue;
    }
    if (groupLen + s.length > maxChunk) flush();
    group.push(s);
    groupLen += s.length;
  }
  flush();
  return chunks;
}

function groupChunk(group: { offset: number; length: number; width: number; tensor: boolean }[]): PlannedChunk {
  const start = group[0]!.offset;
  const last = group[group.length - 1]!;
  const length = last.offset + last.length - start;
  const byWidth = new Map<number, number>();
  for (const s of group) if (s.tensor) byWidth.set(s.width, (byWidth.get(s.width) ?? 0) + s.length);
  if (byWidth.size === 0) return { offset: start, length, width: 1, probe: true };
  let width = 1;
  let most = -1;
  for (const [w, n] of byWidth) if (n > most || (n === most && w > width)) [width, most] = [w, n];
  const ranges: ChunkRange[] = [];
  for (const s of group) {
    if (!s.tensor || s.width !== width) continue;
    const prev = ranges[ranges.length - 1];
    const rel = s.offset - start;
    if (prev && prev.start + prev.length === rel) prev.length += s.length; // adjacent tensors merge
    else ranges.push({ start: rel, length: s.length });
  }
  const whole = ranges.length === 1 && ranges[0]!.start === 0 && ranges[0]!.length === length;
  return { offset: start, length, width, ...(whole ? {} : { ranges }), probe: false };
}
