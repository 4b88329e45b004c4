/**
 * Random access to model bytes without loading a file whole: `openSource(path)` wraps a file handle
 * with ranged reads, `bytesSource(u8)` wraps bytes already in memory (tests, small files). Parsers
 * take a `RandomAccessSource` or a Uint8Array and never open files themselves. This module only
 * reads; it never writes or deletes files.
 */
import { open } from 'node:fs/promises';
import { fromSystemError, inputError } from '../errors.ts';
import type { RandomAccessSource } from './types.ts';

/** A source that also knows the path it came from (for error messages). */
export interface NamedSource extends RandomAccessSource {
  readonly path: string;
}

/** Ranged reads on a file handle. Throws McdnError (FILE_NOT_FOUND, IS_A_DIRECTORY…) if it cannot open. */
export async function openSource(path: string): Promise<NamedSource> {
  let fh;
  try {
    fh = await open(path, 'r');
    const st = await fh.stat();
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    const size = st.size;
    const handle = fh;
    let closed = false;
    return {
      path,
      size,
      async read(offset: number, length: number): Promise<Uint8Array> {
        checkRange(path, size, offset, length);
        const buf = new Uint8Array(length);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(buf, done, length - done, offset + done).catch((e) => {
            throw fromSystemError(e, path);
          });
          if (bytesRead === 0) throw inputError('FILE_TRUNCATED', `${path}: file ended at ${offset + done} while reading ${length} bytes at ${offset} (was it modified while reading?)`);
          done += bytesRead;
        }
        return buf;
      },
      async close() {
        if (closed) return;
        closed = true;
        await handle.close();
      },
    };
  } catch (e) {
    await fh?.close().catch(() => {});
    throw fromSystemError(e, path);
  }
}

/** A source over bytes in memory; `read` returns zero-copy subarray views. */
export function bytesSource(bytes: Uint8Array, path = '<memory>'): NamedSource {
  return {
    path,
    size: bytes.length,
    async read(offset: number, length: number) {
      checkRange(path, bytes.length, offset, length);
      return bytes.subarray(offset, offset + length);
    },
    async close() {},
  };
}

function checkRange(path: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw inputError('READ_OUT_OF_BOUNDS', `${path}: read of ${length} bytes at offset ${offset} is past the end of the file (${size} bytes)`, { offset, length, size });
  }
}

/** Open, run `fn`, always close. */
export async function withSource<T>(path: string, fn: (src: NamedSource) => Promise<T>): Promise<T> {
  const src = await openSource(path);
  try {
    return await fn(src);
  } finally {
    await src.close();
  }
}
