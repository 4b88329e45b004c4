/**
 * Public API of the codec layer: native zstd, byte-plane grouping, the .mcz container (pack, unpack,
 * streaming decode, single-tensor extraction) and plain-stream codecs. Depends only on formats,
 * errors and util; never on delta, store or cdn.
 */
export {
  zstdCompress,
  zstdDecompress,
  zstdCompressWithPrefix,
  zstdDecompressWithPrefix,
  createZstdCompressStream,
  createZstdDecompressStream,
  windowLogFor,
  ZSTD_DEFAULT_LEVEL,
  ZSTD_MIN_LEVEL,
  ZSTD_MAX_LEVEL,
} from './zstd.ts';
export { splitPlanes, joinPlanes, MAX_PLANE_WIDTH } from './planes.ts';
export { encodeChunk, decodeChunk, METHOD_STORED, METHOD_ZSTD, METHOD_PLANES, METHOD_SPARSE, METHOD_NAMES, MAX_CHUNK_BYTES } from './chunk.ts';
export type { ChunkMethod, ChunkRange, EncodeChunkOptions, EncodedChunk } from './chunk.ts';
export { encodeHeader, decodeHeader, readHeaderLength, payloadOffsets, MCZ_MAGIC, MCZ_VERSION } from './format.ts';
export type { MczHeader, MczChunkEntry, MczLayout, MczTensor } from './format.ts';
export { planChunks, OWN_CHUNK_MIN_BYTES } from './plan.ts';
export type { PlannedChunk, TensorRange } from './plan.ts';
export { packFile, packBytes, mczLayoutOf, detectLayout } from './pack.ts';
export type { PackOptions, PackResult, ChunkStat, PackCodec } from './pack.ts';
export { unpackFile, unpackBytes, createUnpackStream, UnpackStream, MczParser, extractTensor, readMczHeader } from './unpack.ts';
export type { UnpackResult, UnpackStreamOptions } from './unpack.ts';
export { GENERIC_LEVELS, genericCompressStream, genericDecompressStream } from './generic.ts';
export type { GenericCodec } from './generic.ts';
export { ChunkPool, sharedPool } from './workers/pool.ts';
