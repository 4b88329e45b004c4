/**
 * Filesystem BlobStore: `<root>/sha256/ab/<hash>`. A put streams into a unique temp file under
 * `<root>/tmp/`, hashing as it writes, fsyncs, and renames into place only when the hash is known
 * (and matches `expectedHash`). Concurrent writers of the same blob each write their own temp file;
 * rename is atomic, so readers see either no blob or the whole blob.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobSource, BlobStat, BlobStore, PutResult } from './blob-store.ts';
import { badRange, blobNotFound, checkHashName, hashMismatch } from './errors.ts';
import { fromSystemError } from '../errors.ts';

export class FsBlobStore implements BlobStore {
  readonly root: string;
  private readonly tmpDir: string;
  private ready: Promise<void> | undefined;

  constructor(root: string) {
    this.root = root;
    this.tmpDir = join(root, 'tmp');
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(join(this.root, 'sha256'), { recursive: true });
      await mkdir(this.tmpDir, { recursive: true });
    })();
    return this.ready;
  }

  /** Path of a stored blob (it may not exist). Used by servers for zero-copy file responses. */
  pathOf(hash: string): string {
    checkHashName(hash);
    return join(this.root, 'sha256', hash.slice(0, 2), hash);
  }

  async has(hash: string): Promise<boolean> {
    return (await this.stat(hash)) !== undefined;
  }

  async stat(hash: string): Promise<BlobStat | undefined> {
    try {
      const s = await stat(this.pathOf(hash));
      return { hash, size: s.size };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fromSystemError(e, this.pathOf(hash));
    }
  }

  async put(data: BlobSource, expectedHash?: string): Promise<PutResult> {
    if (expectedHash !== undefined) {
      checkHashName(expectedHash);
      const existing = await this.stat(expectedHash);
      if (existing) {
        // Still drain an async source so callers' streams complete.
        if (!(data instanceof Uint8Array)) for await (const _ of data as AsyncIterable<Uint8Array>) void _;
        return { ...existing, created: false };
      }
    }
    await this.init();
    const tmp = join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}.part`);
    const h = createHash('sha256');
    let size = 0;
    const fh = await open(tmp, 'wx').catch((e) => {
      throw fromSystemError(e, tmp);
    });
    try {
      const chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array> = data instanceof Uint8Array ? [data] : data;
      for await (const c of chunks) {
        h.update(c);
        size += c.length;
        let off = 0;
        while (off < c.length) {
          const { bytesWritten } = await fh.write(c, off, c.length - off);
          off += bytesWritten;
        }
      }
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw fromSystemError(e, tmp);
    }
    await fh.close();
    const hash = h.digest('hex');
    if (expectedHash !== undefined && hash !== expectedHash) {
      await unlink(tmp).catch(() => {});
      throw hashMismatch(expectedHash, hash);
    }
    const dest = this.pathOf(hash);
    const existed = (await this.stat(hash)) !== undefined;
    if (existed) {
      await unlink(tmp).catch(() => {});
      return { hash, size, created: false };
    }
    await mkdir(join(this.root, 'sha256', hash.slice(0, 2)), { recursive: true });
    try {
      await rename(tmp, dest);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw fromSystemError(e, dest);
    }
    return { hash, size, created: true };
  }

  async get(hash: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.pathOf(hash)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw blobNotFound(hash);
      throw fromSystemError(e, this.pathOf(hash));
    }
  }

  async stream(hash: string, range?: { start: number; end: number }): Promise<AsyncIterable<Uint8Array>> {
    const st = await this.stat(hash);
    if (!st) throw blobNotFound(hash);
    if (range) {
      if (range.start < 0 || range.end > st.size || range.start > range.end) throw badRange(hash, range.start, range.end, st.size);
      if (range.start === range.end) return (async function* () {})();
      return createReadStream(this.pathOf(hash), { start: range.start, end: range.end - 1, highWaterMark: 1 << 20 });
    }
    return createReadStream(this.pathOf(hash), { highWaterMark: 1 << 20 });
  }

  async delete(hash: string): Promise<boolean> {
    try {
      await rm(this.pathOf(hash));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw fromSystemError(e, this.pathOf(hash));
    }
  }

  async *list(): AsyncIterable<BlobStat> {
    await this.init();
    const base = join(this.root, 'sha256');
    for (const d of (await readdir(base)).sort()) {
      let names: string[];
      try {
        names = await readdir(join(base, d));
      } catch {
        continue;
      }
      for (const n of names.sort()) {
        if (!/^[0-9a-f]{64}$/.test(n)) continue;
        const s = await stat(join(base, d, n)).catch(() => undefined);
        if (s) yield { hash: n, size: s.size };
      }
    }
  }

  async totalSize(): Promise<number> {
    let n = 0;
    for await (const b of this.list()) n += b.size;
    return n;
  }

  /** Remove temp files left by crashed writers (older than `maxAgeMs`). */
  async cleanTemp(maxAgeMs = 3600_000): Promise<number> {
    await this.init();
    let removed = 0;
    for (const n of await readdir(this.tmpDir)) {
      const p = join(this.tmpDir, n);
      const s = await stat(p).catch(() => undefined);
      if (s && Date.now() - s.mtimeMs > maxAgeMs) {
        await unlink(p).catch(() => {});
        removed++;
      }
    }
    return removed;
  }
}
