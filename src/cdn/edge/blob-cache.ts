/**
 * The edge's blob cache: content-addressed files under `<dir>/blobs/`, a byte budget enforced by an
 * EvictionPolicy (through the shared PolicyCache), an SQLite index that survives restarts, and
 * coalesced fills — the first miss for a blob starts one upstream fetch that writes a temp file;
 * every request for that blob (ranges included) reads the growing temp file. A fill becomes a cache
 * entry only after its sha256 matches the blob's name; a mismatch discards it. A cached file whose
 * fingerprint changed is re-verified before it is served again; a corrupt one is dropped and
 * refetched. Disk full (ENOSPC) evicts and retries, or gives up the fill (readers continue by
 * streaming straight from upstream) and stops admitting new blobs for a while.
 * It does not speak HTTP to clients (server.ts does) and does not decide what to prefetch.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { McdnError, fromSystemError } from '../../errors.ts';
import { createPolicy, DEFAULT_POLICY, PolicyCache } from '../eviction/index.ts';
import { isSha256Hex } from '../../util/hash.ts';
import { pumpToWriter } from '../http/body.ts';
import { BlockHasher, DEFAULT_BLOCK_SIZE, fingerprintOf, hashFile } from './blocks.ts';
import { Fill } from './fill.ts';
import { releaseReadBuffer } from '../http/raw-fetch.ts';
import { EdgeIndexDb } from './index-db.ts';
import { DEFAULT_MEMORY_TIER_BYTES, MemoryTier } from './memory-tier.ts';
import type { Upstream, UpstreamResponse } from './upstream.ts';

/** When to re-hash cached bytes on the way out (see docs/edge.md). */
export type VerifyMode = 'changed' | 'always';

/** Injectable write path, so tests can simulate a full disk. */
export interface FillIo {
  write(fh: FileHandle, buf: Uint8Array, position: number): Promise<number>;
  /** several buffers in one call (optional: without it a batch is joined and written with `write`) */
  writev?(fh: FileHandle, bufs: Buffer[], position: number): Promise<number>;
}

export interface BlobCacheOptions {
  dir: string;
  capacityBytes: number;
  upstream: Upstream;
  policy?: string;
  blockSize?: number;
  verify?: VerifyMode;
  io?: FillIo;
  /** how long to stop admitting new blobs after the disk was found full */
  diskFullBackoffMs?: number;
  /** upstream retries (resuming with Range) of one fill */
  fillRetries?: number;
  /** RAM tier for hot blobs (bytes; 0 disables) */
  memoryBytes?: number;
  log?: (msg: string) => void;
}

export interface CacheEntry {
  hash: string;
  size: number;
  blockSize: number;
  blocks: Buffer;
  fingerprint: string;
  path: string;
}

export type Acquired =
  /** a complete, verified blob; `mem` is its verified in-memory copy when it is hot */
  | { kind: 'hit'; entry: CacheEntry; mem?: Buffer }
  /** a fill in progress (started by this call: `started`) */
  | { kind: 'fill'; fill: Fill; started: boolean }
  /** not cacheable now: stream from upstream. `response` is the upstream answer if one was already fetched */
  | { kind: 'bypass'; reason: 'too-large' | 'not-admitted' | 'disk-full' | 'no-length'; response?: UpstreamResponse };

export interface CacheStats {
  entries: number;
  usedBytes: number;
  capacityBytes: number;
  pinnedBytes: number;
  filling: number;
  hits: number;
  misses: number;
  coalesced: number;
  bypasses: number;
  upstreamFetches: number;
  corruptDetected: number;
  fillFailures: number;
  diskFullEvents: number;
  memoryBytes: number;
  memoryHits: number;
  memoryLoads: number;
  /** blobs evicted to hold the byte budget */
  evictions: number;
}

const CLEAN_MARKER = 'clean-shutdown';
/** Upstream bytes a fill may hold in memory while its disk write is in flight. */
export const FILL_MAX_PENDING = 8 << 20;

const defaultIo: FillIo = {
  async write(fh, buf, position) {
    const { bytesWritten } = await fh.write(buf, 0, buf.length, position);
    return bytesWritten;
  },
  async writev(fh, bufs, position) {
    const { bytesWritten } = await fh.writev(bufs, position);
    return bytesWritten;
  },
};

export function blobPath(dir: string, hash: string): string {
  return join(dir, 'blobs', hash.slice(0, 2), hash);
}

export class EdgeBlobCache {
  readonly dir: string;
  readonly capacityBytes: number;
  readonly blockSize: number;
  readonly verify: VerifyMode;
  readonly policyName: string;
  private readonly upstream: Upstream;
  private readonly io: FillIo;
  private readonly diskFullBackoffMs: number;
  private readonly fillRetries: number;
  private readonly log: (msg: string) => void;
  private db!: EdgeIndexDb;
  private index!: PolicyCache;
  private readonly entries = new Map<string, CacheEntry>();
  private readonly fills = new Map<string, Fill>();
  /** misses waiting for upstream headers (coalesced before a Fill exists) */
  private readonly pending = new Map<string, Promise<Acquired>>();
  private readonly userPins = new Map<string, string>();
  readonly memory: MemoryTier;
  private diskFullUntil = 0;
  private clock = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly stats: CacheStats;

  constructor(opts: BlobCacheOptions) {
    this.dir = opts.dir;
    this.capacityBytes = opts.capacityBytes;
    this.upstream = opts.upstream;
    this.blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.verify = opts.verify ?? 'changed';
    this.policyName = opts.policy ?? DEFAULT_POLICY;
    this.io = opts.io ?? defaultIo;
    this.diskFullBackoffMs = opts.diskFullBackoffMs ?? 30_000;
    this.fillRetries = opts.fillRetries ?? 3;
    this.log = opts.log ?? (() => {});
    this.memory = new MemoryTier(opts.memoryBytes ?? DEFAULT_MEMORY_TIER_BYTES, undefined, this.log);
    this.stats = {
      entries: 0,
      usedBytes: 0,
      capacityBytes: this.capacityBytes,
      pinnedBytes: 0,
      filling: 0,
      hits: 0,
      misses: 0,
      coalesced: 0,
      bypasses: 0,
      upstreamFetches: 0,
      corruptDetected: 0,
      fillFailures: 0,
      diskFullEvents: 0,
      memoryBytes: 0,
      memoryHits: 0,
      memoryLoads: 0,
      evictions: 0,
    };
  }

  /** Open the index, reconcile it with the files on disk, and load the eviction state. */
  async open(): Promise<void> {
    if (!(this.capacityBytes > 0)) {
      throw new McdnError('BAD_CACHE_SIZE', 'config', `cache size must be positive, got ${this.capacityBytes}`, { remedy: 'pass e.g. --cache-size 20GB' });
    }
    try {
      await mkdir(join(this.dir, 'blobs'), { recursive: true });
      await rm(join(this.dir, 'tmp'), { recursive: true, force: true });
      await mkdir(join(this.dir, 'tmp'), { recursive: true });
    } catch (e) {
      throw fromSystemError(e, this.dir);
    }
    const marker = join(this.dir, CLEAN_MARKER);
    const cleanShutdown = existsSync(marker);
    await rm(marker, { force: true });
    this.db = new EdgeIndexDb(join(this.dir, 'index.sqlite'));
    this.index = new PolicyCache(createPolicy(this.policyName, this.capacityBytes), this.capacityBytes);
    for (const [h, reason] of this.db.pins()) this.userPins.set(h, reason);
    await this.reconcile(!cleanShutdown);
    this.flushTimer = setInterval(() => this.db.flush(), 2000);
    this.flushTimer.unref();
  }

  /**
   * Make the index and the disk agree: rows whose file is gone or has the wrong size are dropped;
   * files without a row are hashed and adopted if they match their name, deleted otherwise; after an
   * unclean shutdown every file is re-hashed (its last writes may not have reached the disk).
   */
  private async reconcile(verifyAll: boolean): Promise<void> {
    const onDisk = new Map<string, number>();
    const base = join(this.dir, 'blobs');
    for (const d of await readdir(base)) {
      let names: string[] = [];
      try {
        names = await readdir(join(base, d));
      } catch {
        continue;
      }
      for (const n of names) {
        const p = join(base, d, n);
        if (!isSha256Hex(n) || n.slice(0, 2) !== d) {
          await rm(p, { force: true, recursive: true });
          continue;
        }
        const st = await stat(p).catch(() => undefined);
        if (st?.isFile()) onDisk.set(n, st.size);
      }
    }
    const rows = this.db.allBlobs();
    const known = new Set<string>();
    for (const r of rows) {
      const size = onDisk.get(r.hash);
      const path = blobPath(this.dir, r.hash);
      if (size === undefined || size !== r.size) {
        this.db.deleteBlob(r.hash);
        if (size !== undefined) await rm(path, { force: true });
        continue;
      }
      let entry: CacheEntry = { hash: r.hash, size: r.size, blockSize: r.blockSize, blocks: r.blocks, fingerprint: r.fingerprint, path };
      if (verifyAll) {
        const v = await this.rehash(entry);
        if (!v) continue;
        entry = v;
      }
      known.add(r.hash);
      this.adopt(entry, r.hits);
    }
    for (const [hash, size] of onDisk) {
      if (known.has(hash)) continue;
      const path = blobPath(this.dir, hash);
      const v = await this.rehash({ hash, size, blockSize: this.blockSize, blocks: Buffer.alloc(0), fingerprint: '', path });
      if (!v) continue;
      this.db.putBlob({ hash, size, blockSize: v.blockSize, blocks: v.blocks, fingerprint: v.fingerprint, createdMs: Date.now(), lastAccessMs: Date.now(), hits: 0, pinned: false });
      this.adopt(v, 0);
    }
  }

  /** hash a cached file; returns the refreshed entry, or undefined after deleting a corrupt one */
  private async rehash(entry: CacheEntry): Promise<CacheEntry | undefined> {
    if (this.closed) return entry;
    let st: import('node:fs').Stats;
    let r: { hash: string; blocks: Buffer; size: number };
    try {
      st = await stat(entry.path);
      r = await hashFile(entry.path, this.blockSize);
    } catch {
      // unreadable or gone: forget it
      if (this.closed) return entry;
      await rm(entry.path, { force: true });
      this.db.deleteBlob(entry.hash);
      return undefined;
    }
    if (this.closed) return entry;
    if (r.hash !== entry.hash) {
      this.stats.corruptDetected++;
      this.log(`edge: cached blob ${entry.hash} is corrupt (hashes to ${r.hash}); dropped`);
      await rm(entry.path, { force: true });
      this.db.deleteBlob(entry.hash);
      return undefined;
    }
    const fingerprint = fingerprintOf(st);
    this.db.setFingerprint(entry.hash, fingerprint);
    return { ...entry, size: r.size, blockSize: this.blockSize, blocks: r.blocks, fingerprint };
  }

  private adopt(entry: CacheEntry, hits: number): void {
    const now = ++this.clock;
    if (this.userPins.has(entry.hash)) this.index.pin(entry.hash);
    if (!this.index.insert(entry.hash, entry.size, now, true)) {
      // the budget shrank below what is on disk
      void this.deleteFiles([entry.hash]);
      return;
    }
    this.entries.set(entry.hash, entry);
    for (let i = 0; i < Math.min(hits, 8); i++) this.index.policy.onHit(entry.hash, entry.size, now);
    void this.evicted(this.index.lastEvicted.slice());
  }

  /** delete the files of blobs the eviction policy gave up, counting them */
  private evicted(hashes: string[]): Promise<void> {
    this.stats.evictions += hashes.length;
    return this.deleteFiles(hashes);
  }

  private async deleteFiles(hashes: string[]): Promise<void> {
    for (const h of hashes) {
      const e = this.entries.get(h);
      this.entries.delete(h);
      this.memory.drop(h);
      this.db.deleteBlob(h);
      await unlink(e?.path ?? blobPath(this.dir, h)).catch(() => {});
    }
  }

  /** Is the blob complete in the cache? (no side effects) */
  peek(hash: string): CacheEntry | undefined {
    return this.entries.get(hash);
  }

  fillOf(hash: string): Fill | undefined {
    return this.fills.get(hash);
  }

  /**
   * Find or start what serves `hash`: a hit, a fill to join (or a new one), or a bypass. `wantBytes`
   * (the length of a requested range) feeds the RAM tier's hotness count. Concurrent
   * callers for one blob share one upstream request. Throws McdnError BLOB_NOT_FOUND when upstream
   * does not have it, network errors when no upstream answers.
   */
  async acquire(hash: string, wantBytes?: number): Promise<Acquired> {
    const e = this.entries.get(hash);
    if (e) {
      this.stats.hits++;
      this.index.access(hash, e.size, ++this.clock);
      this.db.touch(hash, Date.now());
      const mem = this.memory.get(hash);
      if (mem) return { kind: 'hit', entry: e, mem };
      this.memory.noteDiskHit(hash, e.size, e.path, wantBytes ?? e.size);
      return { kind: 'hit', entry: e };
    }
    const f = this.fills.get(hash);
    if (f) {
      this.stats.coalesced++;
      return { kind: 'fill', fill: f, started: false };
    }
    const p = this.pending.get(hash);
    if (p) {
      this.stats.coalesced++;
      const r = await p;
      // only the caller that started the miss consumes an already-fetched bypass response
      if (r.kind === 'bypass') return { kind: 'bypass', reason: r.reason };
      if (r.kind === 'fill') return { kind: 'fill', fill: r.fill, started: false };
      return r;
    }
    this.stats.misses++;
    const started = this.startMiss(hash);
    this.pending.set(hash, started);
    try {
      return await started;
    } finally {
      this.pending.delete(hash);
    }
  }

  private async startMiss(hash: string): Promise<Acquired> {
    const path = `/v1/blobs/${hash}`;
    if (Date.now() < this.diskFullUntil) {
      this.stats.bypasses++;
      return { kind: 'bypass', reason: 'disk-full' };
    }
    this.stats.upstreamFetches++;
    const resp = await this.upstream.request(path, { blob: true });
    if (resp.status === 404) {
      resp.body.resume();
      throw new McdnError('BLOB_NOT_FOUND', 'not_found', `blob ${hash} is not on the origin`, { details: { hash } });
    }
    if (resp.status !== 200) {
      resp.body.resume();
      throw new McdnError('UPSTREAM_STATUS', 'network', `upstream answered HTTP ${resp.status} for blob ${hash}`, { details: { hash, status: resp.status } });
    }
    const size = Number(resp.headers['content-length']);
    if (!Number.isSafeInteger(size) || size < 0) {
      this.stats.bypasses++;
      return { kind: 'bypass', reason: 'no-length', response: resp };
    }
    if (size > this.capacityBytes) {
      this.stats.bypasses++;
      return { kind: 'bypass', reason: 'too-large', response: resp };
    }
    // admit: reserve the bytes now (evicting victims), pin while filling so the fill is never a victim
    this.index.pin(hash);
    if (!this.index.insert(hash, size, ++this.clock)) {
      if (!this.userPins.has(hash)) this.index.unpin(hash);
      this.stats.bypasses++;
      return { kind: 'bypass', reason: 'not-admitted', response: resp };
    }
    await this.evicted(this.index.lastEvicted.slice());
    const tmp = join(this.dir, 'tmp', `${hash}.${randomBytes(6).toString('hex')}.part`);
    // the temp file is created while the first upstream bytes already flow to readers through the
    // fill's ring (no file-system round trip on the time-to-first-byte path)
    const opening = open(tmp, 'w');
    opening.catch(() => {});
    const fill = new Fill(hash, size, tmp);
    // the raw fetcher's read buffers go back for the next socket reads once the ring lets them go
    fill.release = releaseReadBuffer;
    fill.fileReady = opening.then(
      () => {},
      () => {},
    );
    this.fills.set(hash, fill);
    void this.runFill(fill, resp, opening);
    return { kind: 'fill', fill, started: true };
  }

  /** Write upstream bytes into the fill's temp file, resuming with Range after upstream errors. */
  private async runFill(fill: Fill, first: UpstreamResponse, opening: Promise<FileHandle>): Promise<void> {
    const path = `/v1/blobs/${fill.hash}`;
    let fh: FileHandle | undefined;
    let resp: UpstreamResponse | undefined = first;
    // block digests only serve --verify always: the default mode skips that second sha256 pass
    const hasher = new BlockHasher(this.blockSize, this.verify === 'always');
    const fhP = opening.then(
      (h) => (fh = h),
      (e: unknown) => {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
          this.stats.diskFullEvents++;
          this.diskFullUntil = Date.now() + this.diskFullBackoffMs;
        }
        throw fromSystemError(e, fill.tmpPath);
      },
    );
    fhP.catch(() => {});
    try {
      let attempts = 0;
      while (fill.written < fill.size || fill.size === 0) {
        try {
          if (!resp) {
            resp = await this.upstream.request(path, { headers: { range: `bytes=${fill.written}-` }, blob: true });
            this.stats.upstreamFetches++;
            if (resp.status === 200) {
              // upstream ignored the range: skip what we have
              await this.consume(fill, fhP, hasher, resp, fill.written);
            } else if (resp.status === 206) {
              const cr = String(resp.headers['content-range'] ?? '');
              if (!cr.startsWith(`bytes ${fill.written}-`)) throw new McdnError('UPSTREAM_BAD_RANGE', 'network', `upstream sent range '${cr}' for blob ${fill.hash}`);
              await this.consume(fill, fhP, hasher, resp, 0);
            } else {
              resp.body.resume();
              throw new McdnError('UPSTREAM_STATUS', 'network', `upstream answered HTTP ${resp.status} resuming blob ${fill.hash}`);
            }
          } else {
            await this.consume(fill, fhP, hasher, resp, 0);
          }
          if (fill.written < fill.size) throw new McdnError('UPSTREAM_TRUNCATED', 'network', `upstream closed blob ${fill.hash} at ${fill.written} of ${fill.size} bytes`);
          break;
        } catch (e) {
          resp?.body.destroy();
          resp = undefined;
          const err = e as McdnError;
          if (err.code === 'DISK_FULL' || err.code === 'FILL_TOO_LONG' || this.closed) throw e;
          if (++attempts > this.fillRetries) throw e;
          this.log(`edge: fill ${fill.hash} interrupted at ${fill.written} bytes (${err.message}); retry ${attempts}`);
          await new Promise((r) => setTimeout(r, 100 * 2 ** attempts));
        }
        if (fill.size === 0) break;
      }
      await (await fhP).close();
      fh = undefined;
      const { hash, blocks } = hasher.finish();
      if (hash !== fill.hash) {
        this.stats.corruptDetected++;
        throw new McdnError('FILL_HASH_MISMATCH', 'integrity', `upstream bytes of blob ${fill.hash} hash to ${hash}; discarded`, { details: { expected: fill.hash, actual: hash } });
      }
      if (this.closed) throw new McdnError('EDGE_CLOSING', 'cancelled', 'edge is shutting down');
      const final = blobPath(this.dir, fill.hash);
      await mkdir(join(this.dir, 'blobs', fill.hash.slice(0, 2)), { recursive: true });
      await rename(fill.tmpPath, final);
      const st = await stat(final);
      const entry: CacheEntry = { hash: fill.hash, size: fill.size, blockSize: this.blockSize, blocks, fingerprint: fingerprintOf(st), path: final };
      const now = Date.now();
      this.db.putBlob({ hash: fill.hash, size: fill.size, blockSize: this.blockSize, blocks, fingerprint: entry.fingerprint, createdMs: now, lastAccessMs: now, hits: 0, pinned: false });
      this.entries.set(fill.hash, entry);
      this.fills.delete(fill.hash);
      if (!this.userPins.has(fill.hash)) this.index.unpin(fill.hash);
      fill.complete(final);
    } catch (e) {
      resp?.body.destroy();
      if (fh) await fh.close().catch(() => {});
      else await (await fhP.catch(() => undefined))?.close().catch(() => {});
      await unlink(fill.tmpPath).catch(() => {});
      this.fills.delete(fill.hash);
      if (!this.userPins.has(fill.hash)) this.index.unpin(fill.hash);
      this.index.remove(fill.hash);
      this.stats.fillFailures++;
      const err = e instanceof McdnError ? e : fromSystemError(e, fill.tmpPath);
      this.log(`edge: fill of ${fill.hash} failed: ${err.message}`);
      fill.fail(err);
    }
  }

  /**
   * Append a response body to the fill, skipping its first `skip` bytes. Chunks that arrive while a
   * write is in flight are batched into the next write (few large writes instead of one per socket
   * read); the socket is paused when too much is pending. Resolves when the body ended or broke off
   * and everything received is on disk (the caller checks for truncation); rejects on disk errors.
   */
  private consume(fill: Fill, fhP: Promise<FileHandle>, hasher: BlockHasher, resp: UpstreamResponse, skip: number): Promise<void> {
    return pumpToWriter(resp.body, {
      skip,
      maxPending: FILL_MAX_PENDING,
      onChunk: (c) => {
        if (this.closed) return new McdnError('EDGE_CLOSING', 'cancelled', 'edge is shutting down');
        if (fill.received + c.length > fill.size) return new McdnError('FILL_TOO_LONG', 'integrity', `upstream sent more than ${fill.size} bytes for blob ${fill.hash}`);
        fill.receive(c); // readers near the front are served from memory before the write
      },
      write: async (batch, bytes) => {
        await this.writeBatch(await fhP, batch, bytes, fill.written, fill);
        for (const b of batch) hasher.update(b);
        fill.advance(bytes);
      },
    });
  }

  /** Write received buffers at `pos` with one writev (no joined copy); partial writes and a full disk fall back to writeAll. */
  private async writeBatch(fh: FileHandle, bufs: Buffer[], len: number, pos: number, fill: Fill): Promise<void> {
    if (bufs.length === 1) return this.writeAll(fh, bufs[0]!, pos, fill);
    let n = 0;
    if (this.io.writev) {
      try {
        n = await this.io.writev(fh, bufs, pos);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw fromSystemError(e, fill.tmpPath);
        n = 0; // writeAll below frees space and retries
      }
    }
    if (n < len) await this.writeAll(fh, Buffer.concat(bufs, len).subarray(n), pos + n, fill);
  }

  private async writeAll(fh: FileHandle, c: Uint8Array, pos: number, fill: Fill): Promise<void> {
    let off = 0;
    let evicted = false;
    while (off < c.length) {
      try {
        off += await this.io.write(fh, off === 0 ? c : c.subarray(off), pos + off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw fromSystemError(e, fill.tmpPath);
        this.stats.diskFullEvents++;
        // the disk is smaller than the budget says: free what the fill still needs, once
        if (!evicted && this.evictBytes(fill.size - pos) > 0) {
          evicted = true;
          continue;
        }
        this.diskFullUntil = Date.now() + this.diskFullBackoffMs;
        throw fromSystemError(e, fill.tmpPath);
      }
    }
  }

  /** evict unpinned entries until `bytes` are freed (or nothing is left); returns bytes freed */
  evictBytes(bytes: number): number {
    let freed = 0;
    const victims: string[] = [];
    while (freed < bytes) {
      const v = this.index.policy.victim((k) => this.index.isPinnedKey(k));
      if (v === undefined) break;
      freed += this.index.sizeOf(v) ?? 0;
      this.index.remove(v);
      victims.push(v);
    }
    void this.evicted(victims);
    return freed;
  }

  /**
   * Check a cached file before serving it from the open descriptor `fd`'s stat: an unchanged
   * fingerprint passes; a changed one triggers a full re-hash. Returns false (and drops the entry) when
   * the bytes are corrupt, so the caller treats the request as a miss.
   */
  async checkBeforeServe(entry: CacheEntry, fdStat: import('node:fs').Stats): Promise<boolean> {
    // filled while block digests were off (--verify changed), served now with --verify always: hash once
    const needBlocks = this.verify === 'always' && entry.size > 0 && entry.blocks.length === 0;
    if (fingerprintOf(fdStat) === entry.fingerprint && !needBlocks) return true;
    if (!needBlocks) this.log(`edge: blob ${entry.hash} changed on disk; re-verifying`);
    const v = await this.rehash(entry);
    if (!v) {
      this.dropEntry(entry.hash);
      return false;
    }
    this.entries.set(entry.hash, v);
    return true;
  }

  /** a reader found corrupt bytes (block check): drop the entry so the next request refetches */
  reportCorrupt(hash: string): void {
    if (!this.entries.has(hash)) return;
    this.stats.corruptDetected++;
    this.log(`edge: cached blob ${hash} failed a block check; dropped`);
    this.dropEntry(hash);
  }

  private dropEntry(hash: string): void {
    const e = this.entries.get(hash);
    this.entries.delete(hash);
    this.memory.drop(hash);
    this.index.remove(hash);
    this.db.deleteBlob(hash);
    if (e) void unlink(e.path).catch(() => {});
  }

  private scrubStopped = false;

  /** ask a running scrub to stop after the blob it is hashing */
  stopScrub(): void {
    this.scrubStopped = true;
  }

  /** Re-hash every cached blob (a scrub); returns the number of corrupt blobs dropped. */
  async scrub(): Promise<number> {
    let bad = 0;
    this.scrubStopped = false;
    for (const e of [...this.entries.values()]) {
      if (this.closed || this.scrubStopped) break;
      if (this.entries.get(e.hash) !== e) continue; // dropped or replaced meanwhile
      const v = await this.rehash(e);
      if (!v) {
        this.dropEntry(e.hash);
        bad++;
      } else if (this.entries.has(e.hash)) this.entries.set(e.hash, v);
    }
    return bad;
  }

  /** Pin a blob (prefetch/placement): never evicted while pinned; persists across restarts. */
  pin(hash: string, reason = 'manual'): void {
    if (!isSha256Hex(hash)) throw new McdnError('BAD_HASH', 'input', `not a sha256 hex digest: '${hash.slice(0, 80)}'`);
    this.userPins.set(hash, reason);
    this.db.setPin(hash, reason);
    this.index.pin(hash);
  }

  unpin(hash: string): void {
    this.userPins.delete(hash);
    this.db.setPin(hash, undefined);
    if (!this.fills.has(hash)) this.index.unpin(hash);
  }

  pins(): Map<string, string> {
    return new Map(this.userPins);
  }

  /**
   * Make a blob resident without a client (prefetch): resolves when it is cached, rejects if it
   * cannot be (bypass or failure).
   */
  async prefetch(hash: string, opts: { pin?: string } = {}): Promise<CacheEntry> {
    if (opts.pin) this.pin(hash, opts.pin);
    const a = await this.acquire(hash);
    if (a.kind === 'hit') return a.entry;
    if (a.kind === 'bypass') {
      a.response?.body.destroy();
      throw new McdnError('PREFETCH_NOT_CACHEABLE', 'conflict', `blob ${hash} cannot be cached now (${a.reason})`);
    }
    await a.fill.done;
    return this.entries.get(hash)!;
  }

  /**
   * Adopt a complete file that was downloaded elsewhere (the prefetcher's resumable, rate-capped
   * downloads under <dir>/prefetch): hash it, refuse it unless it matches `hash`, reserve its bytes
   * (evicting unpinned victims), rename it into place and index it; `pin` pins it first. When the blob
   * is already cached (or a fill for it finishes meanwhile) the file is deleted and the entry returned.
   */
  async adoptFile(hash: string, file: string, opts: { pin?: string } = {}): Promise<CacheEntry> {
    if (!isSha256Hex(hash)) throw new McdnError('BAD_HASH', 'input', `not a sha256 hex digest: '${hash.slice(0, 80)}'`);
    if (opts.pin) this.pin(hash, opts.pin);
    const fill = this.fills.get(hash);
    if (fill) await fill.done.catch(() => {});
    const have = this.entries.get(hash);
    if (have) {
      await unlink(file).catch(() => {});
      return have;
    }
    let r: { hash: string; blocks: Buffer; size: number };
    try {
      r = await hashFile(file, this.blockSize);
    } catch (e) {
      throw fromSystemError(e, file);
    }
    if (r.hash !== hash) {
      await unlink(file).catch(() => {});
      throw new McdnError('ADOPT_HASH_MISMATCH', 'integrity', `downloaded bytes of blob ${hash} hash to ${r.hash}; discarded`, { details: { expected: hash, actual: r.hash } });
    }
    if (this.entries.has(hash) || this.fills.has(hash)) return this.adoptFile(hash, file, opts);
    this.index.pin(hash);
    if (!this.index.insert(hash, r.size, ++this.clock)) {
      if (!this.userPins.has(hash)) this.index.unpin(hash);
      throw new McdnError('PREFETCH_NOT_CACHEABLE', 'conflict', `blob ${hash} (${r.size} bytes) does not fit in the cache next to its pinned blobs`);
    }
    await this.evicted(this.index.lastEvicted.slice());
    const final = blobPath(this.dir, hash);
    try {
      await mkdir(join(this.dir, 'blobs', hash.slice(0, 2)), { recursive: true });
      await rename(file, final);
    } catch (e) {
      this.index.remove(hash);
      if (!this.userPins.has(hash)) this.index.unpin(hash);
      throw fromSystemError(e, final);
    }
    const st = await stat(final);
    const entry: CacheEntry = { hash, size: r.size, blockSize: this.blockSize, blocks: r.blocks, fingerprint: fingerprintOf(st), path: final };
    const now = Date.now();
    this.db.putBlob({ hash, size: r.size, blockSize: this.blockSize, blocks: r.blocks, fingerprint: entry.fingerprint, createdMs: now, lastAccessMs: now, hits: 0, pinned: this.userPins.has(hash) });
    this.entries.set(hash, entry);
    if (!this.userPins.has(hash)) this.index.unpin(hash);
    return entry;
  }

  getStats(): CacheStats {
    let pinnedBytes = 0;
    for (const h of this.userPins.keys()) pinnedBytes += this.entries.get(h)?.size ?? 0;
    return {
      ...this.stats,
      entries: this.entries.size,
      usedBytes: this.index.usedBytes,
      pinnedBytes,
      filling: this.fills.size,
      memoryBytes: this.memory.usedBytes,
      memoryHits: this.memory.served,
      memoryLoads: this.memory.loads,
    };
  }

  /** bytes the index accounts (complete entries plus reservations of fills in progress) */
  get usedBytes(): number {
    return this.index.usedBytes;
  }

  list(): CacheEntry[] {
    return [...this.entries.values()];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    for (const f of this.fills.values()) f.fail(new McdnError('EDGE_CLOSING', 'cancelled', 'edge is shutting down'));
    this.db.close();
    await writeFile(join(this.dir, CLEAN_MARKER), new Date().toISOString()).catch(() => {});
  }
}
