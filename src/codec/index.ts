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
