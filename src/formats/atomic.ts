/**
 * Writing model files safely: data goes to a temp file in the destination directory, is flushed,
 * then renamed over the target, so a crash or error never leaves a half-written file. Used by every
 * format writer here; it touches only the temp file and the one destination path.
 */
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fromSystemError } from '../errors.ts';
import { writeAll } from '../util/direct-io.ts';
import { startWriteback } from '../util/native.ts';

/** Bytes written between the early datasyncs of a durable write (see writeFileAtomic). */
export const EARLY_SYNC_BYTES = 4 << 20;
/** Bytes written between the early writebacks of a durable write, where the native addon offers them. */
export const EARLY_WRITEBACK_BYTES = 1 << 20;

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
  // durable writes start flushing early, so the fsync at the end has only the tail left to wait for
  // instead of the whole file: with the native addon, writeback of each EARLY_WRITEBACK_BYTES written
  // is started at once (sync_file_range: no waiting, no device cache flush); without it, a datasync
  // of what is written so far runs beside the writes that follow (every EARLY_SYNC_BYTES, one at a
  // time)
  let early: Promise<void> | undefined;
  const writebacks: Promise<void>[] = [];
  try {
    fh = await open(tmp, 'wx');
    const handle = fh;
    const durable = opts.durable !== false;
    let pos = 0;
    let earlyError: unknown;
    let syncedTo = 0;
    const w: SeqWriter = {
      get position() {
        return pos;
      },
      async write(bytes: Uint8Array) {
        await writeAll(handle, bytes, pos);
        pos += bytes.length;
        if (durable && pos - syncedTo >= EARLY_WRITEBACK_BYTES) {
          // errors are the fsync's to report; this is only a head start
          const wb = startWriteback(handle.fd, syncedTo, pos - syncedTo)?.catch(() => {});
          if (wb) {
            writebacks.push(wb);
            syncedTo = pos;
            return;
          }
        }
        if (durable && !early && pos - syncedTo >= EARLY_SYNC_BYTES) {
          syncedTo = pos;
          early = handle.datasync().then(
            () => {
              early = undefined;
            },
            (e: unknown) => {
              earlyError ??= e;
              early = undefined;
            },
          );
        }
      },
    };
    await fill(w);
    await Promise.all(writebacks);
    await early;
    if (earlyError !== undefined) throw earlyError;
    if (durable) await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
    return pos;
  } catch (e) {
    await Promise.all(writebacks); // settle without throwing
    await early; // settles without throwing
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw fromSystemError(e, path);
  }
}
