/**
 * The content-addressed blob store interface (STYLE.md §5): blobs are named by the sha256 of their
 * bytes. Origin, edge and client all use it; implementations are `MemoryBlobStore`, `FsBlobStore`
 * (the default) and the S3 adapter. One shared test suite (`blobStoreTests`) runs against each.
 * A put is all-or-nothing: a blob becomes visible only once its bytes are complete and hash-checked.
 */
export interface BlobStat {
  hash: string;
  size: number;
}

export interface PutResult extends BlobStat {
  /** false when the blob was already present (nothing new stored) */
  created: boolean;
}

export type BlobSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface BlobStore {
  has(hash: string): Promise<boolean>;
  stat(hash: string): Promise<BlobStat | undefined>;
  /**
   * Store bytes. With `expectedHash`, a mismatch throws `BLOB_HASH_MISMATCH` (integrity) and stores
   * nothing. Safe under concurrent writers of the same blob.
   */
  put(data: BlobSource, expectedHash?: string): Promise<PutResult>;
  /** All bytes of a blob (throws `BLOB_NOT_FOUND`). Use `stream` for large blobs. */
  get(hash: string): Promise<Uint8Array>;
  /** Stream a blob or an inclusive-exclusive byte range [start, end). */
  stream(hash: string, range?: { start: number; end: number }): Promise<AsyncIterable<Uint8Array>>;
  delete(hash: string): Promise<boolean>;
  list(): AsyncIterable<BlobStat>;
  /** total bytes of all blobs */
  totalSize(): Promise<number>;
}
