export type { BlobStore, BlobStat, PutResult, BlobSource } from './blob-store.ts';
export { MemoryBlobStore } from './memory.ts';
export { FsBlobStore } from './fs.ts';
