/**
 * The client's chunk cache for chunk-level transfers (issue 10): chunks are found either inside
 * files the client already holds in its content cache (an index of chunk → file sha256, offset,
 * length; no second copy on disk) or in a small store of downloaded chunks. Every read is checked
 * against the chunk's sha256, so a changed file only makes the chunk "missing", never wrong.
 * `planChunkRoute` prices the chunk route (missing payload bytes after coalescing, plus the chunk
 * manifest) so pull can compare it with a patch or the packed download.
 */
import { open, readFile, stat, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobStat, BlobSource, PutResult } from '../../store/blob-store.ts';
import { FsBlobStore } from '../../store/fs.ts';
import { blobNotFound } from '../../store/errors.ts';
import { coalesceRanges, missingChunks, parseChunkManifest, type ChunkCache, type ChunkManifest } from '../../store/chunks/index.ts';
import { sha256Hex } from '../../util/hash.ts';
import { McdnError } from '../../errors.ts';

interface IndexEntry {
  /** sha256 of the content-cache file holding the chunk */
  file: string;
  offset: number;
  length: number;
}

export class ClientChunkCache implements ChunkCache {
  readonly downloaded: FsBlobStore;
  private readonly indexPath: string;
  private index: Map<string, IndexEntry> | undefined;

  constructor(
    home: string,
    /** path of a content-cache file by its sha256 */
    private readonly fileOf: (sha256: string) => string,
  ) {
    this.downloaded = new FsBlobStore(join(home, 'chunks'));
    this.indexPath = join(home, 'chunk-index.json');
  }

  private async load(): Promise<Map<string, IndexEntry>> {
    if (this.index) return this.index;
    try {
      const raw = JSON.parse(await readFile(this.indexPath, 'utf8')) as Record<string, [string, number, number]>;
      this.index = new Map(Object.entries(raw).map(([h, [file, offset, length]]) => [h, { file, offset, length }]));
    } catch {
      this.index = new Map();
    }
    return this.index;
  }

  private async save(): Promise<void> {
    const obj: Record<string, [string, number, number]> = {};
    for (const [h, e] of this.index ?? []) obj[h] = [e.file, e.offset, e.length];
    const tmp = `${this.indexPath}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(obj));
    await rename(tmp, this.indexPath);
  }

  /** true when nothing is cached yet (then the chunk route cannot beat a packed download) */
  async isEmpty(): Promise<boolean> {
    if ((await this.load()).size > 0) return false;
    for await (const _ of this.downloaded.list()) return false;
    return true;
  }

  private async indexed(hash: string): Promise<IndexEntry | undefined> {
    const e = (await this.load()).get(hash);
    if (!e) return undefined;
    const st = await stat(this.fileOf(e.file)).catch(() => undefined);
    return st && st.size >= e.offset + e.length ? e : undefined;
  }

  async has(hash: string): Promise<boolean> {
    return (await this.downloaded.has(hash)) || (await this.indexed(hash)) !== undefined;
  }

  async stat(hash: string): Promise<BlobStat | undefined> {
    const d = await this.downloaded.stat(hash);
    if (d) return d;
    const e = await this.indexed(hash);
    return e ? { hash, size: e.length } : undefined;
  }

  async get(hash: string): Promise<Uint8Array> {
    if (await this.downloaded.has(hash)) return this.downloaded.get(hash);
    const e = await this.indexed(hash);
    if (!e) throw blobNotFound(hash);
    const fh = await open(this.fileOf(e.file), 'r');
    try {
      const buf = Buffer.alloc(e.length);
      await fh.read(buf, 0, e.length, e.offset);
      if (sha256Hex(buf) !== hash) {
        this.index!.delete(hash);
        throw blobNotFound(hash);
      }
      return buf;
    } finally {
      await fh.close();
    }
  }

  put(data: BlobSource, expectedHash?: string): Promise<PutResult> {
    return this.downloaded.put(data, expectedHash);
  }

  /**
   * Index the chunks of a verified file now in the content cache, and drop downloaded copies of
   * them (the file holds them now).
   */
  async rememberFile(fileSha256: string, m: ChunkManifest): Promise<void> {
    const index = await this.load();
    // one listing of the (usually small or empty) store of downloaded chunks instead of one unlink
    // attempt per chunk: a 1 GB file has ~16,000 chunks
    const downloaded = new Set<string>();
    for await (const b of this.downloaded.list()) downloaded.add(b.hash);
    let pos = 0;
    for (const r of m.refs) {
      const c = m.chunks[r.chunk]!;
      if (r.start === 0 && r.length === c.rawLength) {
        index.set(c.hash, { file: fileSha256, offset: pos, length: r.length });
        if (downloaded.delete(c.hash)) await this.downloaded.delete(c.hash).catch(() => false);
      }
      pos += r.length;
    }
    await this.save();
  }
}

export interface ChunkPlan {
  manifest: ChunkManifest;
  /** bytes to transfer: the chunk manifest plus coalesced missing payload ranges */
  bytes: number;
  missingChunks: number;
}

/** Fetch and verify a file's chunk manifest (a blob named by its sha256). */
export async function fetchChunkManifest(base: string, blob: string, size: number, signal?: AbortSignal): Promise<ChunkManifest> {
  const res = await fetch(`${base}/v1/blobs/${blob}`, signal ? { signal } : {});
  if (res.status !== 200) throw new McdnError('CHUNK_MANIFEST_UNAVAILABLE', 'network', `chunk manifest ${blob.slice(0, 12)}: HTTP ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  if (body.length !== size || sha256Hex(body) !== blob) throw new McdnError('CHUNK_MANIFEST_HASH_MISMATCH', 'integrity', `chunk manifest ${blob.slice(0, 12)} does not match its hash`);
  return parseChunkManifest(body.toString('utf8'));
}

/** Price the chunk route for one file given what the cache holds. */
export async function planChunkRoute(m: ChunkManifest, manifestSize: number, cache: ChunkCache): Promise<ChunkPlan> {
  const have = new Set<string>();
  for (const c of m.chunks) if (await cache.has(c.hash)) have.add(c.hash);
  const missing = missingChunks(m, (h) => have.has(h));
  const ranges = coalesceRanges(missing.chunks);
  return { manifest: m, bytes: manifestSize + ranges.reduce((s, r) => s + (r.end - r.start), 0), missingChunks: missing.chunks.length };
}

/** A RangeReader over HTTP: GET /v1/blobs/:xorb with a Range header. */
export function httpRangeReader(base: string, signal?: AbortSignal) {
  return async (xorb: string, start: number, end: number): Promise<Uint8Array> => {
    const res = await fetch(`${base}/v1/blobs/${xorb}`, { headers: { range: `bytes=${start}-${end - 1}` }, ...(signal ? { signal } : {}) });
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status === 206) return body;
    if (res.status === 200) return body.subarray(start, end);
    throw new McdnError('CHUNK_RANGE_FAILED', 'network', `xorb ${xorb.slice(0, 12)} range [${start}, ${end}): HTTP ${res.status}`);
  };
}
