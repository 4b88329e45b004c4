/**
 * Public face of src/formats: one tensor view over every model format. Re-exports the readers,
 * writers and numeric helpers other areas use (codec, delta, optimize, distill, cdn). Depends on
 * nothing outside src/formats except errors.ts; never imports codec/delta/store/cdn.
 */
export * from './types.ts';
export { openSource, bytesSource, withSource, type NamedSource } from './source.ts';
export {
  f32ToF16, f16ToF32, f32ToBf16, bf16ToF32, f32BitsToF16Bits, f16BitsToF32, f32BitsToBf16Bits,
  readTensorAsF32, tensorElementWidth, tensorByteLength, quantizeQ8_0, quantizeQ4_0,
} from './numeric.ts';
export { GGML_TYPES, ggmlTypeById, ggmlTypeByDType, ggmlBlock } from './ggml-types.ts';
export { writeFileAtomic, type SeqWriter } from './atomic.ts';
export {
  parseSafetensors, readSafetensorsHeader, readSafetensorsFile, writeSafetensors, serializeSafetensors,
  encodeSafetensorsHeader, safetensorsToLayout, MAX_HEADER_BYTES, SAFETENSORS_DTYPES,
  type SafetensorsHeader, type SafetensorsTensor,
} from './safetensors.ts';
export * as onnx from './onnx/index.ts';
export {
  decodeOnnxModel, encodeOnnxModel, onnxTensorData, makeOnnxTensor, forEachOnnxTensor, onnxLayout, readOnnxLayout,
  readOnnxModel, writeOnnxModel, resolveExternalData, scanOnnx,
  type OnnxModel, type OnnxGraph, type OnnxNode, type OnnxTensor, type OnnxAttribute,
} from './onnx/index.ts';
export { readModelLayout, sniffFormat } from './layout.ts';
export {
  parseGguf, parseGgufBytes, readGgufFile, readGgufLayout, ggufToLayout, writeGguf, serializeGguf, encodeGgufHeader, ggufPlainValue,
  GgufType, GGUF_DEFAULT_ALIGNMENT, type GgufFile, type GgufKV, type GgufArray, type GgufScalar, type GgufTensorInfo, type GgufWriteTensor,
} from './gguf.ts';
export {
  parseTfjsManifest, placeTfjsWeights, tfjsTensorInfos, readTfjsLayout, readTfjsShardLayout, findTfjsJson, writeTfjsModel, readTfjsWeights,
  weightByteLength, storedDType, readTfjsWeightAsF32, type TfjsManifest, type TfjsWeightSpec, type TfjsWriteWeight, type TfjsQuantization, type TfjsWriteOptions,
} from './tfjs.ts';
