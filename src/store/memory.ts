/** An in-memory BlobStore, for tests and the simulator. */
import { createHash } from 'node:crypto';
import type { BlobSource, BlobStat, BlobStore, PutResult } from './blob-store.ts';
import { blobNotFound, checkHashName, hashMismatch } from './errors.ts';

export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, Uint8Array>();

  async has(hash: string): Promise<boolean> {
    return this.blobs.has(hash);
  }
  async stat(hash: string): Promise<BlobStat | undefined> {
    const b = this.blobs.get(hash);
    return b ? { hash, size: b.length } : undefined;
  }
  async put(data: BlobSource, expectedHash?: string): Promise<PutResult> {
    if (expectedHash !== undefined) checkHashName(expectedHash);
    const parts: Uint8Array[] = [];
    const h = createHash('sha256');
    if (data instanceof Uint8Array) {
      parts.push(data);
      h.update(data);
    } else {
      for await (const c of data as AsyncIterable<Uint8Array>) {
        parts.push(c);
        h.update(c);
      }
    }
    const hash = h.digest('hex');
    if (expectedHash !== undefined && hash !== expectedHash) throw hashMismatch(expectedHash, hash);
    const buf = Buffer.concat(parts);
    const created = !this.blobs.has(hash);
    if (created) this.blobs.set(hash, new Uint8Array(buf));
    return { hash, size: buf.length, created };
  }
  async get(hash: string): Promise<Uint8Array> {
    checkHashName(hash);
    const b = this.blobs.get(hash);
    if (!b) throw blobNotFound(hash);
    return b;
  }
  async stream(hash: string, range?: { start: number; end: number }): Promise<AsyncIterable<Uint8Array>> {
    const b = await this.get(hash);
    const part = range ? b.subarray(range.start, range.end) : b;
    return (async function* () {
      yield part;
    })();
  }
  async delete(hash: string): Promise<boolean> {
    return this.blobs.delete(hash);
  }
  async *list(): AsyncIterable<BlobStat> {
    for (const [hash, b] of this.blobs) yield { hash, size: b.length };
  }
  async totalSize(): Promise<number> {
    let n = 0;
    for (const b of this.blobs.values()) n += b.length;
    return n;
  }
}
