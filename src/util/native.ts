/**
 * modelcdn's native addon (native/, `@modelcdn/native`, built from source by `npm ci` against Node's
 * own headers and OpenSSL) behind small fallbacks:
 *
 * - sha256 off the JavaScript thread without a worker: jobs on libuv's thread pool. A Node.js Worker
 *   costs ~40 ms to start here, as much as a whole cold patch apply of a 10 MB model; a thread-pool
 *   job costs microseconds, so a short-lived command can verify a file beside its own work instead
 *   of before or after it.
 * - early writeback (sync_file_range) for durable writes, so the closing fsync waits for less.
 * - libbz2's encoder for bsdiff patches, when the addon was built with it (Debian's libbz2-dev).
 *
 * Where the addon is missing (not built) or `MODELCDN_NATIVE=off`, everything here still works:
 * `sha256FileOffThread` and `startWriteback` return undefined (the caller does without), and
 * `createStreamHasher` hashes on the calling thread through node:crypto. `nativeAvailable()` tells
 * which.
 */
import { createHash, type Hash } from 'node:crypto';
import { createRequire } from 'node:module';
import { McdnError, fromSystemError } from '../errors.ts';

interface Sha256Handle {
  readonly __sha256: unique symbol;
}

interface NativeBinding {
  sha256Create(): Sha256Handle;
  sha256Update(h: Sha256Handle, data: Uint8Array): Promise<void>;
  sha256UpdateSync(h: Sha256Handle, data: Uint8Array): void;
  sha256Digest(h: Sha256Handle): string;
  sha256File(path: string, offset: number, length: number): Promise<string>;
  startWriteback(fd: number, offset: number, length: number): Promise<void>;
  /** present when the addon was built with libbz2 */
  bzip2CompressInto?(data: Uint8Array, out: Uint8Array, at: number, blockSize100k: number): number;
  bzip2DecompressExact?(data: Uint8Array, out: Uint8Array): void;
}

/**
 * The addon, loaded when this module is (as zstd-napi is): a dlopen costs ~1.5 ms, which a command
 * should pay while it starts up rather than in the middle of its first verification.
 */
const binding: NativeBinding | null = loadBinding();

function loadBinding(): NativeBinding | null {
  if (process.env['MODELCDN_NATIVE'] === 'off') return null;
  try {
    return createRequire(import.meta.url)('@modelcdn/native') as NativeBinding;
  } catch {
    return null; // not built (no compiler at install time): hash on the calling thread
  }
}

/** Whether the addon is in use (built, and not switched off with MODELCDN_NATIVE=off). */
export function nativeAvailable(): boolean {
  return binding !== null;
}

/**
 * Start writing `length` bytes at `offset` of the open file `fd` to its device, without waiting for
 * the device and without a cache flush (Linux sync_file_range(SYNC_FILE_RANGE_WRITE), on the thread
 * pool); undefined without the addon. Durability still needs the fsync: this only shortens it.
 */
export function startWriteback(fd: number, offset: number, length: number): Promise<void> | undefined {
  return binding?.startWriteback(fd, offset, length);
}

/**
 * The sha256 (hex) of the first `size` bytes of the file at `path`, read and hashed on the thread pool;
 * undefined when the addon is not available (the caller hashes the file itself). A file shorter than
 * `size` fails as FILE_CHANGED; system errors are mapped as for any file access.
 */
export function sha256FileOffThread(path: string, size: number): Promise<string> | undefined {
  return binding?.sha256File(path, 0, size).catch((e: unknown) => {
    if ((e as { code?: string }).code === 'ERR_FILE_SHRANK') {
      throw new McdnError('FILE_CHANGED', 'io', `${path}: file shrank while being read`, { remedy: 'retry when nothing else writes the file' });
    }
    throw fromSystemError(e, path);
  });
}

/**
 * One bzip2 stream of `data` (blocks of `blockSize100k` × 100 kB) written into `out` from byte `at`
 * by libbz2, the reference encoder; returns its length. Undefined when the addon lacks libbz2.
 */
export function nativeBzip2CompressInto(data: Uint8Array, out: Uint8Array, at: number, blockSize100k: number): number | undefined {
  return binding?.bzip2CompressInto?.(data, out, at, blockSize100k);
}

/**
 * Decode one bzip2 stream into exactly `size` bytes with libbz2 (throws an error with code
 * ERR_BZIP2_CORRUPT when the stream is damaged or decodes to another length). Undefined when the
 * addon lacks libbz2.
 */
export function nativeBzip2DecompressExact(data: Uint8Array, size: number): Uint8Array | undefined {
  if (!binding?.bzip2DecompressExact) return undefined;
  const out = new Uint8Array(size);
  binding.bzip2DecompressExact(data, out);
  return out;
}

/**
 * An incremental sha256. `update` returns a promise when it hashes on the thread pool: until it
 * settles, the caller must neither change those bytes nor call `update` or `digest` again. On the
 * calling thread (no addon, or pieces below `minOffThreadBytes`) it returns nothing.
 */
export interface StreamHasher {
  update(data: Uint8Array): Promise<void> | void;
  digest(): string;
  /** true when updates of at least minOffThreadBytes run on the thread pool */
  readonly offThread: boolean;
}

/** Pieces smaller than this are hashed on the calling thread (a pool round trip costs more). */
export const OFF_THREAD_MIN_BYTES = 64 << 10;

export function createStreamHasher(opts: { minOffThreadBytes?: number } = {}): StreamHasher {
  if (!binding) return new InlineHasher();
  return new PoolHasher(binding, binding.sha256Create(), opts.minOffThreadBytes ?? OFF_THREAD_MIN_BYTES);
}

class InlineHasher implements StreamHasher {
  readonly offThread = false;
  private readonly h: Hash = createHash('sha256');
  update(data: Uint8Array): void {
    this.h.update(data);
  }
  digest(): string {
    return this.h.digest('hex');
  }
}

class PoolHasher implements StreamHasher {
  readonly offThread = true;
  constructor(
    private readonly n: NativeBinding,
    private readonly h: Sha256Handle,
    private readonly min: number,
  ) {}
  update(data: Uint8Array): Promise<void> | void {
    if (data.length < this.min) return this.n.sha256UpdateSync(this.h, data);
    return this.n.sha256Update(this.h, data);
  }
  digest(): string {
    return this.n.sha256Digest(this.h);
  }
}
