/**
 * Writing model files safely: data goes to a temp file in the destination directory, is flushed,
 * then renamed over the target, so a crash or error never leaves a half-written file. Used by every
 * format writer here; it touches only the temp file and the one destination path.
 */
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fromSystemError } from '../errors.ts';

/** A sequential writer over a file handle that tracks its position. */
export interface SeqWriter {
  readonly position: number;
  write(bytes: Uint8Array): Promise<void>;
}

/**
 * Write `path` through a temp file in its directory, renamed over it once `fill` finished. With
 * `durable` (the default) the data is fsynced before the rename, so the new file survives a crash
 * with its content; `durable: false` skips that flush (benchmarks comparing with tools that do not
 * fsync; callers that sync later themselves) — the rename is still atomic.
 */
export async function writeFileAtomic(path: string, fill: (w: SeqWriter) => Promise<void>, opts: { durable?: boolean } = {}): Promise<number> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx');
    const handle = fh;
    let pos = 0;
    const w: SeqWriter = {
      get position() {
        return pos;
      },
      async write(bytes: Uint8Array) {
        let done = 0;
        while (done < bytes.length) {
          const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, pos + done);
          done += bytesWritten;
        }
        pos += bytes.length;
      },
    };
    await fill(w);
    if (opts.durable !== false) await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
    return pos;
  } catch (e) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw fromSystemError(e, path);
  }
}
