/** An incremental sha256 context (opaque). */
export interface Sha256Handle {
  readonly __sha256: unique symbol;
}
export function sha256Create(): Sha256Handle;
/** Hash `data` on the thread pool; `data` must stay unchanged until the promise settles. One update at a time per handle. */
export function sha256Update(h: Sha256Handle, data: Uint8Array): Promise<void>;
/** Hash `data` on the calling thread. */
export function sha256UpdateSync(h: Sha256Handle, data: Uint8Array): void;
/** The hex digest; the handle is finished afterwards. */
export function sha256Digest(h: Sha256Handle): string;
/** sha256 (hex) of `length` bytes of the file at `path` from `offset`, read and hashed on the thread pool. */
export function sha256File(path: string, offset: number, length: number): Promise<string>;
/** sync_file_range(SYNC_FILE_RANGE_WRITE) of a written range of the open file `fd`, on the thread pool (Linux; a no-op elsewhere). */
export function startWriteback(fd: number, offset: number, length: number): Promise<void>;
/** One bzip2 stream of `data` written into `out` from `at` by libbz2; its length. Present only when built with libbz2. */
export function bzip2CompressInto(data: Uint8Array, out: Uint8Array, at: number, blockSize100k: number): number;
/** Decode one bzip2 stream into exactly out.length bytes (libbz2); throws ERR_BZIP2_CORRUPT otherwise. Present only when built with libbz2. */
export function bzip2DecompressExact(data: Uint8Array, out: Uint8Array): void;
