/**
 * Writing large files around the page cache (Linux `O_DIRECT`), from page-aligned memory.
 *
 * A buffered write copies every byte into a fresh page-cache page. For a 1 GB download that is 1 GB
 * of newly touched kernel memory: on a VM whose free memory is handed back to the host it costs up to
 * 3 s of system time per GB (measured here: `dd bs=1M count=1024` 0.26–3.0 s sys buffered, 0.10–0.17 s
 * with `oflag=direct`), and on any machine it evicts cache that other programs were using. With
 * `O_DIRECT` the disk reads the bytes straight from our buffers.
 *
 * The price is alignment: the buffer address, the length and the file offset must all be multiples of
 * the device's block size. Node buffers carry no alignment guarantee, but a shared WebAssembly memory
 * starts on a page boundary, so `BlockRing` carves aligned blocks out of one. Being a
 * SharedArrayBuffer, that memory is also readable by a worker thread without a copy or a transfer
 * (the sha256 worker hashes blocks in place).
 *
 * `openDirect` falls back to `undefined` where `O_DIRECT` is missing (not Linux) or refused (some
 * file systems); callers then write through the page cache as before. No network, no hashing here.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Alignment used for every direct write: offsets and lengths are multiples of this. */
export const DIRECT_ALIGN = 4096;
/** Files at least this large are written with O_DIRECT by default where the file system takes it. */
export const DIRECT_MIN_BYTES = 64 << 20;
/** One ring block: the unit of a direct write and of a hash hand-off. */
export const DIRECT_BLOCK = 1 << 20;
/** Blocks per ring (64 MiB). */
export const RING_BLOCKS = 64;

export const alignDown = (n: number): number => n - (n % DIRECT_ALIGN);
export const alignUp = (n: number): number => alignDown(n + DIRECT_ALIGN - 1);

/**
 * Open `path` for direct writes (read/write, created, not truncated when `keep`), or undefined when
 * this platform or file system does not take O_DIRECT. `MODELCDN_DIRECT_IO=0` turns it off.
 */
export async function openDirect(path: string, keep: boolean): Promise<FileHandle | undefined> {
  const flag = (constants as Record<string, number | undefined>).O_DIRECT;
  if (!flag || process.env.MODELCDN_DIRECT_IO === '0') return undefined;
  try {
    return await open(path, constants.O_RDWR | constants.O_CREAT | (keep ? 0 : constants.O_TRUNC) | flag, 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EINVAL' || (e as NodeJS.ErrnoException).code === 'EOPNOTSUPP') return undefined;
    throw e;
  }
}

export interface RingBlock {
  /** index of the block in its ring */
  readonly index: number;
  /** the whole block: DIRECT_BLOCK bytes, page-aligned, backed by the ring's SharedArrayBuffer */
  readonly bytes: Buffer;
}

/**
 * A fixed set of aligned blocks in one shared WebAssembly memory, handed out and given back.
 * `take(reserve)` resolves with a free block once more than `reserve()` blocks are free, so callers
 * of lower priority leave a few blocks to the one that must make progress (the reserve is asked
 * again whenever blocks come back or `serve()` is called, so a caller's priority may change while it
 * waits). Single-threaded use (the owning thread); other threads only read block contents.
 */
export class BlockRing {
  readonly memory: SharedArrayBuffer | ArrayBuffer;
  private readonly blocks: RingBlock[];
  private readonly free: RingBlock[];
  private readonly isFree: boolean[];
  private waiters: { reserve: () => number; resolve: (b: RingBlock) => void; reject: (e: unknown) => void }[] = [];

  /** `shared`: a SharedArrayBuffer other threads can read; unshared memory copies faster into (plain memmove). */
  constructor(
    readonly count = RING_BLOCKS,
    shared = true,
  ) {
    const pages = (count * DIRECT_BLOCK) / 65536;
    this.memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared }).buffer as unknown as SharedArrayBuffer;
    this.blocks = Array.from({ length: count }, (_, index) => ({ index, bytes: Buffer.from(this.memory, index * DIRECT_BLOCK, DIRECT_BLOCK) }));
    this.free = [...this.blocks].reverse();
    this.isFree = this.blocks.map(() => true);
  }

  get freeCount(): number {
    return this.free.length;
  }

  /** A free block as soon as more than `reserve()` blocks are free (waiters are served in order). */
  take(reserve: () => number = () => 0): Promise<RingBlock> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ reserve, resolve, reject });
      this.serve();
    });
  }

  /** A free block now if more than `reserve` are free and nobody waits, else undefined. */
  tryTake(reserve = 0): RingBlock | undefined {
    if (this.waiters.length > 0 || this.free.length <= reserve) return undefined;
    const b = this.free.pop()!;
    this.isFree[b.index] = false;
    return b;
  }

  give(b: RingBlock): void {
    if (this.blocks[b.index] !== b || this.isFree[b.index]) throw new Error('BlockRing: block given back twice or to the wrong ring');
    this.isFree[b.index] = true;
    this.free.push(b);
    this.serve();
  }

  /** Hand free blocks to the waiters whose reserve now allows it. */
  serve(): void {
    for (let i = 0; i < this.waiters.length && this.free.length > 0; ) {
      const w = this.waiters[i]!;
      if (this.free.length > w.reserve()) {
        this.waiters.splice(i, 1);
        const b = this.free.pop()!;
        this.isFree[b.index] = false;
        w.resolve(b);
      } else i++;
    }
  }

  /** Fail every pending take with `e` (the download they belong to was abandoned). */
  abort(e: unknown): void {
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.reject(e);
  }

  /** Whether every block is free and nobody waits (no leak after a finished download). */
  get idle(): boolean {
    return this.free.length === this.count && this.waiters.length === 0;
  }
}

const spareRings = { shared: [] as BlockRing[], private: [] as BlockRing[] };

/**
 * A ring from this process's spares (already faulted in) or a new one. `shared`: other threads will
 * read its blocks (a hash worker). Otherwise plain memory: copying out of a SharedArrayBuffer goes
 * through V8's tear-free relaxed copy, measured here at ~1.2 GB/s against ~10 GB/s for a memmove.
 * Give it back with `releaseRing`.
 */
export function acquireRing(shared = true): BlockRing {
  return spareRings[shared ? 'shared' : 'private'].pop() ?? new BlockRing(RING_BLOCKS, shared);
}

/** Keep an idle ring for the next large download (at most two of each kind). */
export function releaseRing(r: BlockRing): void {
  const list = spareRings[r.memory instanceof SharedArrayBuffer ? 'shared' : 'private'];
  if (r.idle && list.length < 2) list.push(r);
}

/** Blocks of a file writer's own (unshared) ring: 16 MiB. */
export const WRITER_BLOCKS = 16;

/**
 * Sequential writer of a new file, with O_DIRECT where the file system takes it and through the
 * page cache otherwise. Bytes are copied into aligned blocks of a private ring; full blocks are
 * written while the next ones fill (one writev at a time, of everything queued). `write` returns
 * undefined when the chunk was taken at once, or a promise when the caller should wait (all blocks
 * are on their way to disk). `close` writes the tail padded to 4 KiB and cuts the file to size.
 */
export class FileWriter {
  private ring: BlockRing | undefined;
  private cur: RingBlock | undefined;
  private fill = 0;
  private pos = 0; // file offset of cur
  private size = 0;
  private queue: { block: RingBlock; len: number; at: number }[] = [];
  private writing: Promise<void> | undefined;
  private failed: unknown;

  private constructor(
    private readonly fh: FileHandle,
    readonly direct: boolean,
  ) {
    if (direct) this.ring = writerRings.pop() ?? new BlockRing(WRITER_BLOCKS, false);
  }

  /** A new (truncated) file at `path`; direct unless `direct` is false or the platform refuses. */
  static async create(path: string, direct = true): Promise<FileWriter> {
    const dfh = direct ? await openDirect(path, false) : undefined;
    if (dfh) return new FileWriter(dfh, true);
    return new FileWriter(await open(path, 'w'), false);
  }

  get bytesWritten(): number {
    return this.size;
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.failed) return Promise.reject(this.failed);
    if (!this.ring) {
      // page-cache mode: one write at a time, in order
      const at = this.size;
      this.size += chunk.length;
      const prev = this.writing ?? Promise.resolve();
      const p = prev.then(() => writeAll(this.fh, chunk, at));
      this.writing = p;
      p.catch((e) => (this.failed ??= e));
      return p;
    }
    let off = 0;
    while (off < chunk.length) {
      if (!this.cur) {
        const b = this.ring.tryTake();
        if (!b) return this.ring.take().then((blk) => {
          this.cur = blk;
          this.fill = 0;
          return this.write(chunk.subarray(off));
        });
        this.cur = b;
        this.fill = 0;
      }
      const n = Math.min(DIRECT_BLOCK - this.fill, chunk.length - off);
      this.cur.bytes.set(chunk.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      this.size += n;
      if (this.fill === DIRECT_BLOCK) this.seal();
    }
    return undefined;
  }

  private seal(): void {
    const b = this.cur!;
    this.cur = undefined;
    this.queue.push({ block: b, len: this.fill, at: this.pos });
    this.pos += this.fill;
    this.fill = 0;
    this.kick();
  }

  private kick(): void {
    if (this.writing || this.queue.length === 0 || this.failed) return;
    const batch = this.queue.splice(0);
    const bufs = batch.map((q) => q.block.bytes.subarray(0, alignUp(q.len)));
    this.writing = writevAll(this.fh, bufs, batch[0]!.at).then(
      () => {
        this.writing = undefined;
        for (const q of batch) this.ring!.give(q.block);
        this.kick();
      },
      (e) => {
        this.writing = undefined;
        this.failed ??= e;
        this.ring!.abort(e);
      },
    );
  }

  /** Everything written, the file cut to its size and closed. */
  async close(): Promise<void> {
    try {
      if (this.ring) {
        if (this.cur && this.fill > 0) this.seal();
        else if (this.cur) {
          this.ring.give(this.cur);
          this.cur = undefined;
        }
        while (this.writing || this.queue.length > 0) {
          if (this.failed) throw this.failed;
          this.kick();
          await this.writing;
        }
      } else await this.writing;
      if (this.failed) throw this.failed;
      if (this.ring) await this.fh.truncate(this.size);
    } finally {
      await this.fh.close().catch(() => {});
      if (this.ring?.idle && writerRings.length < 2) writerRings.push(this.ring);
      this.ring = undefined;
    }
  }

  /** Stop without finishing (the caller removes the file). */
  async abort(): Promise<void> {
    this.failed ??= new Error('aborted');
    await this.writing?.catch(() => {});
    await this.fh.close().catch(() => {});
  }
}

const writerRings: BlockRing[] = [];

/** Write all of `buf` at `pos`, going on after short writes. */
export async function writeAll(fh: FileHandle, buf: Uint8Array, pos: number): Promise<void> {
  for (let off = 0; off < buf.byteLength; ) {
    const { bytesWritten } = await fh.write(buf, off, buf.byteLength - off, pos + off);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten}`);
    off += bytesWritten;
  }
}

/** writev of `bufs` at `pos`, going on after a short write. */
export async function writevAll(fh: FileHandle, bufs: Buffer[], pos: number): Promise<void> {
  const len = bufs.reduce((a, b) => a + b.length, 0);
  let done = 0;
  while (done < len) {
    let skip = done;
    const rest: Buffer[] = [];
    for (const b of bufs) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      rest.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    const { bytesWritten } = await fh.writev(rest, pos + done);
    if (bytesWritten <= 0) throw new Error(`writev returned ${bytesWritten}`);
    done += bytesWritten;
  }
}
