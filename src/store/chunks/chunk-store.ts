/**
 * The origin's chunk store: every chunk stored once, compressed, inside xorb container blobs of a
 * BlobStore, indexed in SQLite with reference roots (one per published version) and garbage
 * collection of chunks that no root has referenced for a grace period. Ingesting files reports
 * "N bytes new, M bytes already known" and returns one chunk manifest per file.
 *
 * Concurrency: ingest first pins every already-known chunk under its root (one transaction), then
 * uploads new chunks in xorbs registered as `pending` before their blob is written, then indexes
 * them (another transaction). GC decides in one transaction and deletes blobs afterwards, and never
 * deletes a pending xorb younger than the grace period, so it cannot remove a chunk that a live or
 * in-progress version references.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BlobStore } from '../blob-store.ts';
import { McdnError } from '../../errors.ts';
import { openSource, readModelLayout } from '../../formats/index.ts';
import type { ModelLayout, RandomAccessSource } from '../../formats/types.ts';
import { sha256Hex } from '../../util/hash.ts';
import { CHUNK_MANIFEST_SCHEMA, type ChunkLocation, type ChunkManifest, type ChunkRef } from './manifest.ts';
import { fileSetStreams, planSpans, type ChunkSpan, type LogicalStream, type PlanFile } from './plan.ts';
import { encodeChunkPayload, encodeXorb, type ChunkMethod } from './xorb.ts';

export const XORB_TARGET_BYTES = 64 << 20;
export const XORB_TARGET_CHUNKS = 1024;
export const DEFAULT_GRACE_MS = 24 * 3600_000;

export interface IngestResult {
  root: string;
  files: { path: string; manifest: ChunkManifest }[];
  /** raw bytes of chunks this ingest stored for the first time */
  newBytes: number;
  /** raw bytes of chunks that were already stored (or repeated inside this ingest) */
  knownBytes: number;
  /** compressed bytes this ingest added to storage */
  newPackedBytes: number;
  totalBytes: number;
}

export interface GcResult {
  chunksDeleted: number;
  xorbsDeleted: number;
  bytesFreed: number;
}

interface PlannedChunk {
  hash: string;
  span: ChunkSpan;
  stream: number;
}

export class ChunkStore {
  readonly db: Database.Database;
  private readonly level: number;

  constructor(
    readonly blobs: BlobStore,
    dbPath: string,
    opts: { level?: number } = {},
  ) {
    if (dbPath !== ':memory:') mkdirSync(dirname(dbPath), { recursive: true });
    this.db = new Database(dbPath);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.level = opts.level ?? 3;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS xorbs (hash TEXT PRIMARY KEY, size INTEGER NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS chunks (
        hash TEXT PRIMARY KEY, raw_length INTEGER NOT NULL, xorb TEXT NOT NULL, offset INTEGER NOT NULL,
        packed_length INTEGER NOT NULL, method INTEGER NOT NULL, width INTEGER NOT NULL,
        created INTEGER NOT NULL, released INTEGER);
      CREATE INDEX IF NOT EXISTS chunks_xorb ON chunks(xorb);
      CREATE TABLE IF NOT EXISTS roots (label TEXT PRIMARY KEY, created INTEGER NOT NULL, new_bytes INTEGER, known_bytes INTEGER, new_packed_bytes INTEGER, total_bytes INTEGER);
      CREATE TABLE IF NOT EXISTS root_chunks (label TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (label, hash)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS root_chunks_hash ON root_chunks(hash);
    `);
  }

  close(): void {
    this.db.close();
  }

  private location(hash: string): ChunkLocation | undefined {
    const r = this.db.prepare('SELECT * FROM chunks WHERE hash = ?').get(hash) as
      | { hash: string; raw_length: number; xorb: string; offset: number; packed_length: number; method: number; width: number }
      | undefined;
    return r && { hash: r.hash, rawLength: r.raw_length, xorb: r.xorb, offset: r.offset, packedLength: r.packed_length, method: r.method as ChunkMethod, width: r.width };
  }

  hasChunk(hash: string): boolean {
    return this.db.prepare('SELECT 1 FROM chunks WHERE hash = ?').get(hash) !== undefined;
  }

  /**
   * Chunk and store `paths` under reference root `root` (e.g. "model@1.2"). Files of one tfjs
   * model are planned together so re-sharded weights dedup.
   */
  async ingest(root: string, paths: string[], now = Date.now()): Promise<IngestResult> {
    const files: PlanFile[] = [];
    const sources: RandomAccessSource[] = [];
    try {
      for (const p of paths) {
        const s = await openSource(p);
        sources.push(s);
        files.push({ path: p, size: s.size });
      }
      const layouts: (ModelLayout | undefined)[] = [];
      for (const p of paths) layouts.push(await readModelLayout(p).catch(() => undefined));
      const streams = fileSetStreams(files, layouts);

      // 1. plan and hash every chunk; hash every file along the way
      const fileHashes = files.map(() => createHash('sha256'));
      const planned: PlannedChunk[][] = [];
      const firstBytes = new Map<string, { stream: number; span: ChunkSpan }>();
      for (let si = 0; si < streams.length; si++) {
        const st = streams[si]!;
        const read = (o: number, l: number) => readStream(st, sources, o, l);
        const spans = await planSpans(st.size, st.tensors, read);
        const list: PlannedChunk[] = [];
        for (const span of spans) {
          const bytes = await read(span.start, span.length);
          hashIntoFiles(st, fileHashes, span.start, bytes);
          const hash = sha256Hex(bytes);
          list.push({ hash, span, stream: si });
          if (!firstBytes.has(hash)) firstBytes.set(hash, { stream: si, span });
        }
        planned.push(list);
      }

      // 2. pin what is already known under the root, in one transaction
      const distinct = [...firstBytes.keys()];
      const known = new Set<string>();
      this.db.transaction(() => {
        this.db.prepare('INSERT OR IGNORE INTO roots (label, created) VALUES (?, ?)').run(root, now);
        const has = this.db.prepare('SELECT 1 FROM chunks WHERE hash = ?');
        const pin = this.db.prepare('INSERT OR IGNORE INTO root_chunks (label, hash) VALUES (?, ?)');
        for (const h of distinct) {
          if (has.get(h)) {
            known.add(h);
            pin.run(root, h);
          }
        }
      })();

      // 3. encode and upload the new chunks in xorbs, then index them
      let newBytes = 0;
      let newPackedBytes = 0;
      let batch: { hash: string; rawLength: number; method: ChunkMethod; width: number; payload: Uint8Array }[] = [];
      let batchBytes = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const { bytes, entries } = encodeXorb(batch);
        const xorbHash = sha256Hex(bytes);
        this.db.prepare('INSERT OR IGNORE INTO xorbs (hash, size, state, created) VALUES (?, ?, ?, ?)').run(xorbHash, bytes.length, 'pending', now);
        await this.blobs.put(bytes, xorbHash);
        this.db.transaction(() => {
          const ins = this.db.prepare(
            'INSERT OR IGNORE INTO chunks (hash, raw_length, xorb, offset, packed_length, method, width, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          );
          const pin = this.db.prepare('INSERT OR IGNORE INTO root_chunks (label, hash) VALUES (?, ?)');
          for (const e of entries) {
            ins.run(e.hash, e.rawLength, xorbHash, e.offset, e.packedLength, e.method, e.width, now);
            pin.run(root, e.hash);
          }
          this.db.prepare("UPDATE xorbs SET state = 'live' WHERE hash = ?").run(xorbHash);
        })();
        newPackedBytes += bytes.length;
        batch = [];
        batchBytes = 0;
      };
      for (const [hash, at] of firstBytes) {
        if (known.has(hash)) continue;
        const raw = await readStream(streams[at.stream]!, sources, at.span.start, at.span.length);
        const enc = encodeChunkPayload(raw, at.span.width, this.level);
        batch.push({ hash, rawLength: raw.length, method: enc.method, width: enc.width, payload: enc.payload });
        batchBytes += enc.payload.length;
        newBytes += raw.length;
        if (batchBytes >= XORB_TARGET_BYTES || batch.length >= XORB_TARGET_CHUNKS) await flush();
      }
      await flush();

      // 4. manifests from the index (the authoritative location of every chunk)
      const totalBytes = files.reduce((s, f) => s + f.size, 0);
      this.db
        .prepare('UPDATE roots SET new_bytes = ?, known_bytes = ?, new_packed_bytes = ?, total_bytes = ? WHERE label = ?')
        .run(newBytes, totalBytes - newBytes, newPackedBytes, totalBytes, root);
      const out = files.map((f, fi) => ({ path: f.path, manifest: this.buildManifest(fi, f.size, fileHashes[fi]!.digest('hex'), streams, planned) }));
      return { root, files: out, newBytes, knownBytes: totalBytes - newBytes, newPackedBytes, totalBytes };
    } finally {
      for (const s of sources) await s.close();
    }
  }

  private buildManifest(fileIndex: number, size: number, sha256: string, streams: LogicalStream[], planned: PlannedChunk[][]): ChunkManifest {
    const chunks: ChunkLocation[] = [];
    const idx = new Map<string, number>();
    const refs: ChunkRef[] = [];
    streams.forEach((st, si) => {
      let base = 0;
      for (const piece of st.pieces) {
        const len = piece.end - piece.start;
        if (piece.file === fileIndex) {
          for (const pc of planned[si]!) {
            const cs = pc.span.start;
            const ce = cs + pc.span.length;
            const lo = Math.max(cs, base);
            const hi = Math.min(ce, base + len);
            if (lo >= hi) continue;
            let ci = idx.get(pc.hash);
            if (ci === undefined) {
              const loc = this.location(pc.hash);
              if (!loc) throw new McdnError('CHUNK_MISSING', 'internal', `chunk ${pc.hash} vanished from the index during ingest`);
              ci = chunks.length;
              chunks.push(loc);
              idx.set(pc.hash, ci);
            }
            refs.push({ chunk: ci, start: lo - cs, length: hi - lo });
          }
        }
        base += len;
      }
    });
    return { schema: CHUNK_MANIFEST_SCHEMA, size, sha256, chunks, refs };
  }

  /** What an ingest under `root` stored new vs. found already known (undefined if no such root). */
  rootStats(root: string): { newBytes: number; knownBytes: number; newPackedBytes: number; totalBytes: number } | undefined {
    const r = this.db.prepare('SELECT new_bytes, known_bytes, new_packed_bytes, total_bytes FROM roots WHERE label = ?').get(root) as
      | { new_bytes: number | null; known_bytes: number | null; new_packed_bytes: number | null; total_bytes: number | null }
      | undefined;
    if (!r || r.total_bytes === null) return undefined;
    return { newBytes: r.new_bytes ?? 0, knownBytes: r.known_bytes ?? 0, newPackedBytes: r.new_packed_bytes ?? 0, totalBytes: r.total_bytes };
  }

  /** Drop a root's references; its chunks become collectable after the grace period. */
  release(root: string, now = Date.now()): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE chunks SET released = ? WHERE hash IN (SELECT hash FROM root_chunks WHERE label = ?)').run(now, root);
      this.db.prepare('DELETE FROM root_chunks WHERE label = ?').run(root);
      this.db.prepare('DELETE FROM roots WHERE label = ?').run(root);
    })();
  }

  /** Delete chunks no root references whose last use is older than `graceMs`, and emptied xorbs. */
  async gc(now = Date.now(), graceMs = DEFAULT_GRACE_MS): Promise<GcResult> {
    const cutoff = now - graceMs;
    let chunksDeleted = 0;
    const doomed: { hash: string; size: number }[] = [];
    this.db.transaction(() => {
      chunksDeleted = this.db
        .prepare(
          'DELETE FROM chunks WHERE NOT EXISTS (SELECT 1 FROM root_chunks r WHERE r.hash = chunks.hash) AND COALESCE(released, created) < ?',
        )
        .run(cutoff).changes;
      const rows = this.db
        .prepare(
          "SELECT hash, size FROM xorbs x WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.xorb = x.hash) AND (state = 'live' OR created < ?)",
        )
        .all(cutoff) as { hash: string; size: number }[];
      const del = this.db.prepare('DELETE FROM xorbs WHERE hash = ?');
      for (const r of rows) {
        del.run(r.hash);
        doomed.push(r);
      }
    })();
    for (const x of doomed) await this.blobs.delete(x.hash);
    return { chunksDeleted, xorbsDeleted: doomed.length, bytesFreed: doomed.reduce((s, x) => s + x.size, 0) };
  }

  stats(): { chunks: number; rawBytes: number; packedBytes: number; xorbs: number; xorbBytes: number; roots: number } {
    const c = this.db.prepare('SELECT COUNT(*) n, COALESCE(SUM(raw_length),0) raw, COALESCE(SUM(packed_length),0) packed FROM chunks').get() as { n: number; raw: number; packed: number };
    const x = this.db.prepare('SELECT COUNT(*) n, COALESCE(SUM(size),0) size FROM xorbs').get() as { n: number; size: number };
    const r = this.db.prepare('SELECT COUNT(*) n FROM roots').get() as { n: number };
    return { chunks: c.n, rawBytes: c.raw, packedBytes: c.packed, xorbs: x.n, xorbBytes: x.size, roots: r.n };
  }
}

/** Read `length` bytes at logical `offset` of a stream whose pieces live in several files. */
async function readStream(st: LogicalStream, sources: RandomAccessSource[], offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let base = 0;
  let filled = 0;
  for (const p of st.pieces) {
    const len = p.end - p.start;
    const lo = Math.max(offset, base);
    const hi = Math.min(offset + length, base + len);
    if (lo < hi) {
      out.set(await sources[p.file]!.read(p.start + (lo - base), hi - lo), lo - offset);
      filled += hi - lo;
    }
    base += len;
    if (base >= offset + length) break;
  }
  if (filled !== length) throw new McdnError('READ_PAST_END', 'internal', `stream read [${offset}, +${length}) past its end`);
  return out;
}

/** Feed the bytes of stream range [start, start+bytes.length) to the hashes of the files they belong to. */
function hashIntoFiles(st: LogicalStream, hashes: ReturnType<typeof createHash>[], start: number, bytes: Uint8Array): void {
  let base = 0;
  for (const p of st.pieces) {
    const len = p.end - p.start;
    const lo = Math.max(start, base);
    const hi = Math.min(start + bytes.length, base + len);
    if (lo < hi) hashes[p.file]!.update(bytes.subarray(lo - start, hi - start));
    base += len;
  }
}
