/**
 * An output file that appears atomically: bytes go to a temp file in the destination directory
 * (positional writes allowed, so a header can be filled in last), `commit()` fsyncs and renames it
 * over the target, `abort()` removes it. Touches only its temp file and the one destination path.
 * (src/formats/atomic.ts offers a sequential-only variant; the packer needs positional writes.)
 */
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fromSystemError } from '../errors.ts';

export class AtomicFile {
  private closed = false;
  private constructor(
    readonly path: string,
    readonly tmpPath: string,
    private readonly fh: FileHandle,
  ) {}

  static async create(path: string): Promise<AtomicFile> {
    const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      return new AtomicFile(path, tmp, await open(tmp, 'wx'));
    } catch (e) {
      throw fromSystemError(e, path);
    }
  }

  async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    let done = 0;
    try {
      while (done < bytes.byteLength) {
        const { bytesWritten } = await this.fh.write(bytes, done, bytes.byteLength - done, position + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw fromSystemError(e, this.path);
    }
  }

  /** Flush (fsync unless `durable` is false), close and rename into place. */
  async commit(durable = true): Promise<void> {
    try {
      if (durable) await this.fh.sync();
      await this.fh.close();
      this.closed = true;
      await rename(this.tmpPath, this.path);
    } catch (e) {
      await this.abort();
      throw fromSystemError(e, this.path);
    }
  }

  /** Discard the temp file (safe to call more than once). */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => {});
    }
    await unlink(this.tmpPath).catch(() => {});
  }
}
