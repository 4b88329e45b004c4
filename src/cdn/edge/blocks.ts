/**
 * Integrity helpers for cached blobs: a streaming hasher that yields the whole-blob sha256 plus a
 * sha256 per fixed-size block (so a byte range can be re-verified without reading the whole blob),
 * and the file fingerprint (inode, size, mtime, ctime) the edge compares on every serve to notice a
 * file changed behind its back. Pure computation plus one fstat; no cache policy here.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Stats } from 'node:fs';

/** Default verification block: 1 MiB (32 bytes of index per MiB cached). */
export const DEFAULT_BLOCK_SIZE = 1 << 20;

export class BlockHasher {
  readonly blockSize: number;
  private readonly whole: Hash = createHash('sha256');
  private block: Hash = createHash('sha256');
  private inBlock = 0;
  private readonly digests: Buffer[] = [];
  bytes = 0;

  /**
   * `withBlocks` false: only the whole-blob digest (block digests cost a second sha256 pass and are
   * needed only by `--verify always`; `finish` then returns no blocks).
   */
  constructor(
    blockSize = DEFAULT_BLOCK_SIZE,
    private readonly withBlocks = true,
  ) {
    this.blockSize = blockSize;
  }

  update(chunk: Uint8Array): void {
    this.whole.update(chunk);
    this.bytes += chunk.length;
    if (!this.withBlocks) return;
    let off = 0;
    while (off < chunk.length) {
      const take = Math.min(this.blockSize - this.inBlock, chunk.length - off);
      this.block.update(off === 0 && take === chunk.length ? chunk : chunk.subarray(off, off + take));
      this.inBlock += take;
      off += take;
      if (this.inBlock === this.blockSize) {
        this.digests.push(this.block.digest());
        this.block = createHash('sha256');
        this.inBlock = 0;
      }
    }
  }

  /** whole-blob hex digest and the concatenated block digests */
  finish(): { hash: string; blocks: Buffer } {
    if (this.inBlock > 0) this.digests.push(this.block.digest());
    return { hash: this.whole.digest('hex'), blocks: Buffer.concat(this.digests) };
  }
}

/** sha256 of one block, compared against entry `i` of a concatenated block list. */
export function blockMatches(blocks: Buffer, i: number, data: Uint8Array): boolean {
  if ((i + 1) * 32 > blocks.length) return false;
  const d = createHash('sha256').update(data).digest();
  return d.equals(blocks.subarray(i * 32, (i + 1) * 32));
}

/** Hash a whole file (whole digest + block digests). */
export async function hashFile(path: string, blockSize = DEFAULT_BLOCK_SIZE): Promise<{ hash: string; blocks: Buffer; size: number }> {
  const h = new BlockHasher(blockSize);
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) h.update(c);
  const { hash, blocks } = h.finish();
  return { hash, blocks, size: h.bytes };
}

/**
 * Fingerprint of a file: changes whenever the file is written through the filesystem (ctime cannot
 * be set back by user space), or replaced (inode).
 */
export function fingerprintOf(st: Stats): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}
