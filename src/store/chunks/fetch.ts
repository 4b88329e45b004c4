/**
 * Client side of chunk-level transfer: given a chunk manifest and a local chunk cache (any
 * BlobStore: chunks are named by the sha256 of their raw bytes, so the cache is content-addressed
 * like everything else), fetch only the chunks the cache lacks, coalescing neighbours in the same
 * xorb into few ranged requests, verify each chunk, then rebuild the file into a temp file, check
 * its sha256 and rename it into place. The transport is a `RangeReader` (HTTP in the CDN client).
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { BlobStore } from '../blob-store.ts';
import { McdnError } from '../../errors.ts';
import { decodeChunkPayload } from './xorb.ts';
import { missingChunks, type ChunkLocation, type ChunkManifest } from './manifest.ts';

/** What the client needs of a chunk cache (any BlobStore fits; so does the client's file-backed index). */
export type ChunkCache = Pick<BlobStore, 'has' | 'stat' | 'get' | 'put'>;

/** Read bytes [start, end) of a xorb blob. */
export type RangeReader = (xorb: string, start: number, end: number) => Promise<Uint8Array>;

export interface RangeRequest {
  xorb: string;
  start: number;
  end: number;
  chunks: ChunkLocation[];
}

/** Bytes between two wanted payloads worth downloading to save a round trip. */
export const COALESCE_GAP_BYTES = 64 * 1024;
export const MAX_RANGE_BYTES = 32 << 20;

/** Group payloads by xorb and merge neighbours into ranged requests. */
export function coalesceRanges(chunks: ChunkLocation[], maxGap = COALESCE_GAP_BYTES, maxRange = MAX_RANGE_BYTES): RangeRequest[] {
  const byXorb = new Map<string, ChunkLocation[]>();
  for (const c of chunks) {
    const l = byXorb.get(c.xorb) ?? [];
    l.push(c);
    byXorb.set(c.xorb, l);
  }
  const out: RangeRequest[] = [];
  for (const [xorb, list] of byXorb) {
    list.sort((a, b) => a.offset - b.offset);
    let cur: RangeRequest | undefined;
    for (const c of list) {
      const end = c.offset + c.packedLength;
      if (cur && c.offset - cur.end <= maxGap && end - cur.start <= maxRange) {
        cur.end = Math.max(cur.end, end);
        cur.chunks.push(c);
      } else {
        cur = { xorb, start: c.offset, end, chunks: [c] };
        out.push(cur);
      }
    }
  }
  return out;
}

export interface FetchStats {
  chunksFetched: number;
  requests: number;
  /** payload bytes transferred (including coalesced gaps) */
  bytesTransferred: number;
  chunksFromCache: number;
}

/** Fetch every chunk of `m` that `cache` lacks; each is verified before it enters the cache. */
export async function fetchMissingChunks(m: ChunkManifest, cache: ChunkCache, read: RangeReader, opts: { parallel?: number } = {}): Promise<FetchStats> {
  const present = new Set<string>();
  for (const c of m.chunks) if (await cache.has(c.hash)) present.add(c.hash);
  const missing = missingChunks(m, (h) => present.has(h));
  const requests = coalesceRanges(missing.chunks);
  let bytesTransferred = 0;
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const r = requests[next++]!;
      const bytes = await read(r.xorb, r.start, r.end);
      if (bytes.length !== r.end - r.start) {
        throw new McdnError('CHUNK_RANGE_SHORT', 'network', `xorb ${r.xorb.slice(0, 12)}: got ${bytes.length} bytes for range [${r.start}, ${r.end})`);
      }
      bytesTransferred += bytes.length;
      for (const c of r.chunks) {
        const raw = decodeChunkPayload(c, bytes.subarray(c.offset - r.start, c.offset - r.start + c.packedLength));
        await cache.put(raw, c.hash);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.parallel ?? 4, requests.length)) }, worker));
  return { chunksFetched: missing.chunks.length, requests: requests.length, bytesTransferred, chunksFromCache: m.chunks.length - missing.chunks.length };
}

/** Rebuild the file from cached chunks: temp file, sha256 check, rename. Nothing is left on failure. */
export async function assembleFile(m: ChunkManifest, cache: ChunkCache, outPath: string): Promise<{ sha256: string; size: number }> {
  const tmp = join(dirname(outPath), `.${basename(outPath)}.${randomBytes(6).toString('hex')}.part`);
  const h = createHash('sha256');
  const fh = await open(tmp, 'wx');
  let size = 0;
  try {
    let cached: { hash: string; bytes: Uint8Array } | undefined;
    for (const r of m.refs) {
      const c = m.chunks[r.chunk]!;
      if (cached?.hash !== c.hash) {
        const st = await cache.stat(c.hash);
        if (!st) throw new McdnError('CHUNK_NOT_CACHED', 'integrity', `chunk ${c.hash.slice(0, 12)} is missing from the local cache`);
        cached = { hash: c.hash, bytes: await cache.get(c.hash) };
      }
      const part = cached.bytes.subarray(r.start, r.start + r.length);
      if (part.length !== r.length) throw new McdnError('CHUNK_CORRUPT', 'integrity', `chunk ${c.hash.slice(0, 12)} is shorter than its reference`);
      h.update(part);
      await fh.write(part);
      size += part.length;
    }
    await fh.sync();
    await fh.close();
    const sha256 = h.digest('hex');
    if (size !== m.size || sha256 !== m.sha256) {
      throw new McdnError('FILE_HASH_MISMATCH', 'integrity', `rebuilt file hashes to ${sha256.slice(0, 12)} (${size} bytes), manifest says ${m.sha256.slice(0, 12)} (${m.size} bytes)`);
    }
    await rename(tmp, outPath);
    return { sha256, size };
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
}
