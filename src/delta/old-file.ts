/**
 * OLD as the tensor decoder reads it from a file: through two reused windows of WINDOW_BYTES, the
 * next one read ahead in the I/O pool while the current one is consumed. A patch plan reads OLD
 * nearly in file order in hundreds of small ranges (one per tensor and per container gap); one
 * positional read per range would cost a thread-pool round trip each (~35 µs of CPU measured on the
 * 2-core VM, ~20 ms per 10.8 MB model), a window costs one per WINDOW_BYTES. A read outside the
 * windows (a backward jump) reloads them. Reads only the one file it is given; never writes.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { McdnError, fromSystemError } from '../errors.ts';
import type { BufferSet } from './buffers.ts';
import type { OldSource } from './tensor.ts';

/** Bytes per window (two windows, one read ahead). */
export const WINDOW_BYTES = 1 << 20;

interface Window {
  start: number;
  bytes: Uint8Array; // a view of exactly the bytes read
}

export class OldFile implements OldSource {
  private readonly bufs: Uint8Array[];
  private cur: Window | undefined;
  private ahead: Promise<Window> | undefined;
  private aheadStart = -1;
  /** index of the buffer the current window occupies (the read-ahead uses the other) */
  private curBuf = 0;

  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly path: string,
    private readonly buffers: BufferSet,
  ) {
    this.bufs = [buffers.get('win0', WINDOW_BYTES), buffers.get('win1', WINDOW_BYTES)];
  }

  /** Open `path`, which must be `size` bytes long (as stat'ed and hashed just before). */
  static async open(path: string, size: number, buffers: BufferSet): Promise<OldFile> {
    try {
      return new OldFile(await open(path, 'r'), size, path, buffers);
    } catch (e) {
      throw fromSystemError(e, path);
    }
  }

  private async load(start: number, buf: Uint8Array): Promise<Window> {
    const n = Math.min(buf.length, this.size - start);
    for (let done = 0; done < n; ) {
      const { bytesRead } = await this.fh.read(buf, done, n - done, start + done).catch((e: unknown) => {
        throw fromSystemError(e, this.path);
      });
      if (bytesRead === 0) throw new McdnError('FILE_CHANGED', 'io', `${this.path}: file shrank while being read`, { remedy: 'retry when nothing else writes the file' });
      done += bytesRead;
    }
    return { start, bytes: buf.subarray(0, n) };
  }

  /** Start reading the window after the current one into the other buffer. */
  private readAhead(): void {
    const cur = this.cur!;
    const start = cur.start + cur.bytes.length;
    if (start >= this.size) return;
    this.aheadStart = start;
    this.ahead = this.load(start, this.bufs[this.curBuf ^ 1]);
    this.ahead.catch(() => {}); // awaited when used or on close
  }

  /** Make the window holding byte `pos` current. */
  private async seek(pos: number): Promise<void> {
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead && pos >= this.aheadStart && pos < this.aheadStart + WINDOW_BYTES) {
      this.cur = await ahead;
      this.curBuf ^= 1;
    } else {
      await ahead?.catch(() => {}); // its buffer is about to be reused
      this.cur = await this.load(pos, this.bufs[this.curBuf]);
    }
    this.readAhead();
  }

  /**
   * Read `dst.length` bytes at `offset` into `dst`. Completes synchronously (returns nothing) when the
   * current window holds them all; returns a promise when a window must be loaded first.
   */
  readInto(dst: Uint8Array, offset: number): Promise<void> | void {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + dst.length > this.size) {
      throw new McdnError('READ_OUT_OF_BOUNDS', 'input', `${this.path}: read of ${dst.length} bytes at offset ${offset} is past the end of the file (${this.size} bytes)`);
    }
    const done = this.copy(dst, offset, 0);
    if (done < dst.length) return this.readRest(dst, offset, done);
  }

  /** Copy what the current window holds of dst's range from byte `done` on; returns the new `done`. */
  private copy(dst: Uint8Array, offset: number, done: number): number {
    const w = this.cur;
    const pos = offset + done;
    if (!w || pos < w.start || pos >= w.start + w.bytes.length) return done;
    const from = pos - w.start;
    const n = Math.min(dst.length - done, w.bytes.length - from);
    dst.set(w.bytes.subarray(from, from + n), done);
    return done + n;
  }

  private async readRest(dst: Uint8Array, offset: number, done: number): Promise<void> {
    while (done < dst.length) {
      await this.seek(offset + done);
      done = this.copy(dst, offset, done);
    }
  }

  /** `length` bytes at `offset` in a reused buffer: valid until the next read. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const w = this.cur;
    if (w && offset >= w.start && offset + length <= w.start + w.bytes.length) return w.bytes.subarray(offset - w.start, offset - w.start + length);
    const b = this.buffers.get('oldread', length);
    const p = this.readInto(b, offset);
    if (p) await p;
    return b;
  }

  async close(): Promise<void> {
    await this.ahead?.catch(() => {});
    this.ahead = undefined;
    await this.fh.close();
  }
}
