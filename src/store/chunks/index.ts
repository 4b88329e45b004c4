/** Chunk-level dedup: chunking, xorb containers, chunk manifests, the origin's chunk store, client fetch. */
export { cdcLengths, cdcLengthsStream, CDC_MIN, CDC_AVG, CDC_MAX } from './cdc.ts';
export { planSpans, fileSetStreams, TENSOR_CHUNK_BYTES, type ChunkSpan, type LogicalStream } from './plan.ts';
export { encodeXorb, decodeXorb, decodeXorbIndex, encodeChunkPayload, decodeChunkPayload, type XorbEntry } from './xorb.ts';
export { parseChunkManifest, serializeChunkManifest, missingChunks, CHUNK_MANIFEST_SCHEMA, type ChunkManifest, type ChunkLocation, type ChunkRef } from './manifest.ts';
export { ChunkStore, type IngestResult, type GcResult } from './chunk-store.ts';
export { fetchMissingChunks, assembleFile, coalesceRanges, type RangeReader, type FetchStats, type ChunkCache } from './fetch.ts';
