/**
 * Reusable working buffers for applying patches. A fresh buffer costs its first touch: the kernel
 * faults in and zeroes every page (measured ~0.85 ms per MB on the 2-core VM, as much as hashing the
 * bytes), so one apply of a 10.8 MB model that allocates its I/O and plane buffers anew spends a
 * third of its CPU time in page faults. A BufferSet hands out named buffers that are kept for the
 * next apply in the same process (a long-lived client or edge applies many patches); concurrent
 * applies each take their own set. `prefault` touches fresh buffers' pages on the I/O pool (reading
 * /dev/zero into them), so the thread that later fills them does not stop for the faults. Knows
 * nothing about patches or hashes; the only file it opens is /dev/zero.
 */
import { open } from 'node:fs/promises';

/** A buffer larger than this is dropped when its set is released (a huge patch is not kept around). */
export const MAX_RETAINED_BUFFER_BYTES = 16 << 20;
/** A released set keeps at most this many bytes (its largest buffers are dropped first). */
export const MAX_RETAINED_SET_BYTES = 32 << 20;
/** Sets kept for reuse; more concurrent applies than this allocate (and later drop) their own. */
export const MAX_IDLE_SETS = 2;

function fresh(n: number): Uint8Array {
  // not zero-filled: every user writes the bytes it then reads
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export class BufferSet {
  private readonly bufs = new Map<string, Uint8Array>();

  /**
   * A view of exactly `n` bytes of the buffer named `key` (grown when it is smaller), contents
   * undefined. Valid until the next `get` of the same key with a larger `n`, or the set's release.
   */
  get(key: string, n: number): Uint8Array {
    let b = this.bufs.get(key);
    if (!b || b.length < n) this.bufs.set(key, (b = fresh(n)));
    return b.length === n ? b : b.subarray(0, n);
  }

  /**
   * Make sure the buffer named `key` holds at least `n` bytes. Returns the buffer when it was
   * allocated just now (its pages not touched yet: see `prefault`), else undefined.
   */
  ensure(key: string, n: number): Uint8Array | undefined {
    const b = this.bufs.get(key);
    if (b && b.length >= n) return undefined;
    const f = fresh(n);
    this.bufs.set(key, f);
    return f;
  }

  /** Total bytes held. */
  get bytes(): number {
    let n = 0;
    for (const b of this.bufs.values()) n += b.length;
    return n;
  }

  /** Drop buffers over MAX_RETAINED_BUFFER_BYTES, then the largest until the set holds at most MAX_RETAINED_SET_BYTES. */
  trim(): void {
    for (const [k, b] of this.bufs) if (b.length > MAX_RETAINED_BUFFER_BYTES) this.bufs.delete(k);
    let total = this.bytes;
    for (const [k, b] of [...this.bufs].sort((x, y) => y[1].length - x[1].length)) {
      if (total <= MAX_RETAINED_SET_BYTES) break;
      this.bufs.delete(k);
      total -= b.length;
    }
  }
}

const idle: BufferSet[] = [];

/** A set for one apply: a released one when there is one, else a new one. */
export function acquireBuffers(): BufferSet {
  return idle.pop() ?? new BufferSet();
}

/** Give a set back once nothing uses its buffers any more (no read or write still in flight). */
export function releaseBuffers(set: BufferSet): void {
  set.trim();
  if (idle.length < MAX_IDLE_SETS && !idle.includes(set)) idle.push(set);
}

/**
 * Touch every page of `bufs` from the I/O pool: a read from /dev/zero makes the kernel fault them in
 * (and zero them) on a pool thread, while this thread does other work. Best effort: a no-op where
 * /dev/zero cannot be read. The buffers' contents are zeros afterwards.
 */
export async function prefault(bufs: readonly Uint8Array[]): Promise<void> {
  if (bufs.length === 0) return;
  let fh;
  try {
    fh = await open('/dev/zero', 'r');
    const zero = fh;
    await Promise.all(
      bufs.map(async (b) => {
        for (let done = 0; done < b.length; ) {
          const { bytesRead } = await zero.read(b, done, b.length - done, null);
          if (bytesRead === 0) return;
          done += bytesRead;
        }
      }),
    );
  } catch {
    // only a head start: whoever fills the buffers faults the pages in otherwise
  } finally {
    await fh?.close().catch(() => {});
  }
}
