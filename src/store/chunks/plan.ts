/**
 * Chunk planning: where a set of files is cut into content-addressed chunks. Tensor data is cut at
 * tensor boundaries, then into fixed-size chunks measured from each tensor's start; everything else
 * (container bytes, unknown files) is cut by content-defined chunking. Files that form one logical
 * byte stream (TensorFlow.js weight shards, which tfjs concatenates) are planned as that stream, so
 * the same weights give the same chunks however they are sharded. Pure apart from the `read`
 * callbacks it is given.
 */
import { resolve } from 'node:path';
import { cdcLengthsStream, type CdcOptions } from './cdc.ts';
import type { ModelLayout } from '../../formats/types.ts';
import { tensorElementWidth } from '../../formats/index.ts';

/** Fixed chunk size inside large tensors (a multiple of every element width). */
export const TENSOR_CHUNK_BYTES = 64 * 1024;

export interface StreamTensor {
  /** offset in the logical stream */
  offset: number;
  length: number;
  /** element width for byte-plane grouping */
  width: number;
}

export interface StreamPiece {
  /** index into the file list */
  file: number;
  /** byte range inside that file */
  start: number;
  end: number;
}

export interface LogicalStream {
  pieces: StreamPiece[];
  size: number;
  tensors: StreamTensor[];
}

export interface ChunkSpan {
  /** offset in the logical stream */
  start: number;
  length: number;
  width: number;
  tensor: boolean;
}

export interface PlanFile {
  path: string;
  size: number;
}

/**
 * Group files into logical streams. A tfjs manifest whose tensors live in shard files of this set
 * makes one stream of those shards in manifest order; every other file is a stream of its own
 * with the tensors its own layout reports.
 */
export function fileSetStreams(files: PlanFile[], layouts: (ModelLayout | undefined)[]): LogicalStream[] {
  const index = new Map(files.map((f, i) => [resolve(f.path), i]));
  const consumed = new Set<number>();
  const streams: LogicalStream[] = [];
  files.forEach((f, i) => {
    const layout = layouts[i];
    if (!layout || layout.format !== 'tfjs') return;
    const shardOrder: number[] = [];
    for (const t of layout.tensors) {
      if (!t.file) continue;
      const j = index.get(resolve(t.file));
      if (j === undefined || j === i) continue;
      if (!shardOrder.includes(j)) shardOrder.push(j);
    }
    if (shardOrder.length === 0 || shardOrder.some((j) => consumed.has(j))) return;
    const base = new Map<number, number>();
    let size = 0;
    const pieces: StreamPiece[] = [];
    for (const j of shardOrder) {
      base.set(j, size);
      pieces.push({ file: j, start: 0, end: files[j]!.size });
      size += files[j]!.size;
      consumed.add(j);
    }
    const tensors: StreamTensor[] = [];
    for (const t of layout.tensors) {
      const j = t.file ? index.get(resolve(t.file)) : undefined;
      if (j === undefined || !base.has(j)) continue;
      const offset = base.get(j)! + t.offset;
      const width = tensorElementWidth(t.dtype);
      const prev = tensors[tensors.length - 1];
      // pieces of one tensor split across shards become one logical tensor again
      if (prev && prev.offset + prev.length === offset && ((t.extra as { piece?: number } | undefined)?.piece ?? 0) > 0) prev.length += t.length;
      else tensors.push({ offset, length: t.length, width });
    }
    streams.push({ pieces, size, tensors });
  });
  files.forEach((f, i) => {
    if (consumed.has(i)) return;
    const layout = layouts[i];
    const own = (layout?.tensors ?? []).filter((t) => !t.file || resolve(t.file) === resolve(f.path));
    streams.push({
      pieces: [{ file: i, start: 0, end: f.size }],
      size: f.size,
      tensors: own.map((t) => ({ offset: t.offset, length: t.length, width: tensorElementWidth(t.dtype) })),
    });
  });
  return streams;
}

/**
 * Cut a logical stream into spans. `read(offset, length)` reads stream bytes (needed only for the
 * content-defined parts).
 */
export async function planSpans(
  size: number,
  tensors: StreamTensor[],
  read: (offset: number, length: number) => Promise<Uint8Array>,
  opts: { tensorChunk?: number; cdc?: CdcOptions } = {},
): Promise<ChunkSpan[]> {
  const tc = opts.tensorChunk ?? TENSOR_CHUNK_BYTES;
  const sorted = tensors.filter((t) => t.length > 0 && t.offset >= 0 && t.offset + t.length <= size).sort((a, b) => a.offset - b.offset);
  const spans: ChunkSpan[] = [];
  let pos = 0;
  const gap = async (end: number) => {
    if (end <= pos) return;
    const start = pos;
    for await (const n of cdcLengthsStream(end - start, (o, l) => read(start + o, l), opts.cdc)) {
      spans.push({ start: pos, length: n, width: 1, tensor: false });
      pos += n;
    }
  };
  for (const t of sorted) {
    if (t.offset < pos) continue; // overlapping tensor views: the first one wins
    await gap(t.offset);
    const w = t.width > 0 && tc % t.width === 0 ? t.width : 1;
    for (let o = 0; o < t.length; o += tc) {
      spans.push({ start: t.offset + o, length: Math.min(tc, t.length - o), width: w, tensor: true });
    }
    pos = t.offset + t.length;
  }
  await gap(size);
  return spans;
}
