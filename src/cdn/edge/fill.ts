/**
 * One in-flight cache fill: the upstream bytes of a blob being written to a temp file. It counts
 * bytes received (`received`) and bytes on disk (`written`), keeps the newest bytes in a small ring
 * (every byte not yet on disk, plus the last few MiB written) and wakes waiters when it grows, when
 * the fill is verified (`complete`) or when it fails. Readers near the front copy from the ring;
 * readers further behind read the partial temp file through their own descriptor — so any number of
 * requests (ranges included) share one upstream fetch and the first bytes go out without a disk
 * round trip. Only state here: no network I/O, no cache index.
 */
import type { McdnError } from '../../errors.ts';

export type FillState = 'filling' | 'complete' | 'failed';

/** Bytes already on disk that the ring keeps for readers just behind the front. */
export const RING_KEEP_WRITTEN = 4 << 20;

export class Fill {
  readonly hash: string;
  readonly size: number;
  readonly tmpPath: string;
  /** bytes [0, written) of the temp file are on disk (not yet verified) */
  written = 0;
  /** bytes [0, received) arrived from upstream (on disk or in the ring) */
  received = 0;
  private ring: { pos: number; buf: Buffer }[] = [];
  state: FillState = 'filling';
  error: McdnError | undefined;
  /** path of the verified blob once complete (the temp file was renamed there) */
  finalPath: string | undefined;
  private waiters: (() => void)[] = [];
  /** resolves once the fill is verified and complete, rejects when it fails */
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (e: McdnError) => void;
  /** resolves once the temp file exists (readers open it only after that) */
  fileReady: Promise<void> = Promise.resolve();
  /** number of readers attached (for tests and metrics) */
  readers = 0;
  /**
   * Called with each buffer the ring lets go of (written and beyond the keep size, or the fill
   * ended): nothing here reads it again, so its memory may be reused (the raw fetcher's read buffers).
   */
  release: ((buf: Buffer) => void) | undefined;

  constructor(hash: string, size: number, tmpPath: string) {
    this.hash = hash;
    this.size = size;
    this.tmpPath = tmpPath;
    this.done = new Promise<void>((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
    // a failed fill with no reader must not be an unhandled rejection
    this.done.catch(() => {});
  }

  /** bytes arrived from upstream (not on disk yet): readable from the ring at once */
  receive(buf: Buffer): void {
    this.ring.push({ pos: this.received, buf });
    this.received += buf.length;
    this.wake();
  }

  /** the writer put `n` more bytes on disk; the ring forgets written bytes beyond its keep size */
  advance(n: number): void {
    this.written += n;
    if (this.received < this.written) this.received = this.written; // a writer that did not use receive()
    let writtenInRing = 0;
    for (const c of this.ring) if (c.pos + c.buf.length <= this.written) writtenInRing += c.buf.length;
    while (this.ring.length > 0 && writtenInRing > RING_KEEP_WRITTEN && this.ring[0]!.pos + this.ring[0]!.buf.length <= this.written) {
      const dropped = this.ring.shift()!.buf;
      writtenInRing -= dropped.length;
      this.release?.(dropped);
    }
    this.wake();
  }

  /** Copy [pos, pos + n) from the ring into `dst`; false when those bytes are no longer in it. */
  copyFromRing(pos: number, dst: Buffer, n: number): boolean {
    if (this.ring.length === 0 || pos < this.ring[0]!.pos || pos + n > this.received) return false;
    let off = 0;
    for (const c of this.ring) {
      const cEnd = c.pos + c.buf.length;
      if (cEnd <= pos + off) continue;
      const from = pos + off - c.pos;
      const take = Math.min(c.buf.length - from, n - off);
      c.buf.copy(dst, off, from, from + take);
      off += take;
      if (off >= n) return true;
    }
    return off >= n;
  }

  complete(finalPath: string): void {
    if (this.state !== 'filling') return;
    this.state = 'complete';
    this.dropRing();
    this.finalPath = finalPath;
    this.resolveDone();
    this.wake();
  }

  fail(e: McdnError): void {
    if (this.state !== 'filling') return;
    this.state = 'failed';
    this.error = e;
    this.dropRing();
    this.rejectDone(e);
    this.wake();
  }

  private dropRing(): void {
    const ring = this.ring;
    this.ring = [];
    if (this.release) for (const c of ring) this.release(c.buf);
  }

  /** Resolves when more than `pos` bytes were received, or the fill finished or failed. */
  waitBeyond(pos: number): Promise<void> {
    if (this.received > pos || this.state !== 'filling') return Promise.resolve();
    return new Promise<void>((res) => this.waiters.push(res));
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
