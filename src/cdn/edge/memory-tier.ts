/**
 * A small RAM tier in front of the disk cache for hot blobs. Serving a file from Node costs an
 * extra copy per byte (read into user space, then write to the socket) that nginx's sendfile avoids;
 * serving a verified in-memory copy writes straight from the buffer, so hot blobs go out at the
 * sendfile rate. A blob is loaded once the disk tier has served `admitAfterHits` times its size
 * (ranges count by their length, so one ranged download is one pass), read once from its cache file and
 * sha256-verified while loading (a copy is only ever served if it matches its name); LRU within a
 * fixed byte budget. No HTTP and no disk index here; the blob cache drops copies it evicts.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/** Default RAM budget for hot blobs. */
export const DEFAULT_MEMORY_TIER_BYTES = 512 << 20;
/** Full passes over a blob served from disk before it is copied into RAM. */
export const DEFAULT_ADMIT_AFTER_HITS = 2;
/** Largest share of the budget one blob may take. */
export const MAX_BLOB_SHARE = 0.75;

export class MemoryTier {
  private readonly blobs = new Map<string, Buffer>();
  private readonly hits = new Map<string, number>();
  private readonly loading = new Map<string, Promise<void>>();
  /** dropped while loading: the load must not insert it */
  private readonly cancelled = new Set<string>();
  private used = 0;
  loads = 0;
  served = 0;

  constructor(
    readonly budgetBytes = DEFAULT_MEMORY_TIER_BYTES,
    readonly admitAfterHits = DEFAULT_ADMIT_AFTER_HITS,
    private readonly log: (m: string) => void = () => {},
  ) {}

  get usedBytes(): number {
    return this.used;
  }

  /** the verified copy of a blob, if resident (refreshes its LRU position) */
  get(hash: string): Buffer | undefined {
    if (this.blobs.size === 0) return undefined;
    const b = this.blobs.get(hash);
    if (!b) return undefined;
    this.blobs.delete(hash);
    this.blobs.set(hash, b);
    this.served++;
    return b;
  }

  /** `bytes` of `hash` (stored at `path`) are being served from disk: starts a load once it is hot. */
  noteDiskHit(hash: string, size: number, path: string, bytes = size): void {
    if (this.budgetBytes <= 0 || size > this.budgetBytes * MAX_BLOB_SHARE || size === 0) return;
    const n = (this.hits.get(hash) ?? 0) + bytes;
    this.hits.set(hash, n);
    if (this.hits.size > 100_000) this.hits.delete(this.hits.keys().next().value!);
    if (n < this.admitAfterHits * size || this.blobs.has(hash) || this.loading.has(hash)) return;
    const p = this.load(hash, size, path).finally(() => this.loading.delete(hash));
    this.loading.set(hash, p);
  }

  /** resolves when a load started for `hash` finished (tests, benchmark warm-up) */
  async settled(hash: string): Promise<void> {
    await this.loading.get(hash);
  }

  private async load(hash: string, size: number, path: string): Promise<void> {
    let fh;
    try {
      fh = await open(path, 'r');
      const buf = Buffer.allocUnsafeSlow(size);
      const h = createHash('sha256');
      for (let off = 0; off < size; ) {
        const n = Math.min(4 << 20, size - off);
        const { bytesRead } = await fh.read(buf, off, n, off);
        if (bytesRead === 0) throw new Error(`short read at ${off}`);
        h.update(buf.subarray(off, off + bytesRead));
        off += bytesRead;
      }
      if (h.digest('hex') !== hash) {
        this.log(`edge: RAM tier: ${hash} does not match its name on disk; not loaded`);
        return;
      }
      if (this.cancelled.delete(hash)) return;
      while (this.used + size > this.budgetBytes && this.blobs.size > 0) this.drop(this.blobs.keys().next().value!);
      if (this.used + size > this.budgetBytes) return;
      this.blobs.set(hash, buf);
      this.used += size;
      this.loads++;
    } catch (e) {
      this.log(`edge: RAM tier: loading ${hash} failed: ${(e as Error).message}`);
    } finally {
      this.cancelled.delete(hash);
      await fh?.close().catch(() => {});
    }
  }

  drop(hash: string): void {
    const b = this.blobs.get(hash);
    if (b) {
      this.blobs.delete(hash);
      this.used -= b.length;
    }
    this.hits.delete(hash);
    if (this.loading.has(hash)) this.cancelled.add(hash);
  }
}
