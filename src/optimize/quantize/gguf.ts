/**
 * GGUF quantization: F32/F16 weight matrices → Q8_0 (llama.cpp's block layout: per 32 consecutive
 * values one FP16 scale d = max|x|/127 and 32 int8 q = round(x/d)), or F32 → F16/BF16 casts.
 * 1-D tensors (norms, biases), rows not a multiple of 32, small and excluded tensors stay. Metadata
 * `general.file_type` is set to the matching llama.cpp file type. The block math is src/formats'
 * quantizeQ8_0; this module only selects tensors and rebuilds the tensor list.
 */
import { quantizeQ8_0, readTensorAsF32, dequantQ8_0 } from '../../formats/numeric.ts';
import { GgufType, type GgufKV, type GgufWriteTensor } from '../../formats/gguf.ts';
import type { DType } from '../../formats/types.ts';
import { castBf16, castF16 } from './int8.ts';
import { keepReason } from './eligible.ts';
import type { QuantizeOptions, QuantizeReport, TensorReport } from './types.ts';

/** llama.cpp LLAMA_FTYPE values */
const FILE_TYPE = { fp16: 1, int8: 7, bf16: 32 } as const;
export const Q8_0_BLOCK = 32;

const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function quantizeGgufTensors(
  tensors: GgufWriteTensor[],
  metadata: GgufKV[],
  opts: QuantizeOptions,
): { tensors: GgufWriteTensor[]; metadata: GgufKV[]; report: QuantizeReport } {
  const out: GgufWriteTensor[] = [];
  const report: TensorReport[] = [];
  for (const t of tensors) {
    const base: TensorReport = { name: t.name, shape: t.shape, dtype: t.dtype, action: 'kept', bytesBefore: t.data.length, bytesAfter: t.data.length };
    let reason = keepReason(t.name, t.dtype, t.shape, {
      minElements: opts.minElements,
      ...(opts.exclude ? { exclude: opts.exclude } : {}),
      dtypes: opts.scheme === 'int8' ? ['F32', 'F16', 'BF16'] : ['F32'],
    });
    if (!reason && opts.scheme === 'int8' && t.shape[t.shape.length - 1]! % Q8_0_BLOCK !== 0) {
      reason = `row length ${t.shape[t.shape.length - 1]} is not a multiple of the Q8_0 block (32)`;
    }
    if (reason) {
      out.push(t);
      report.push({ ...base, reason });
      continue;
    }
    const data = readTensorAsF32(t, t.data);
    if (opts.scheme === 'int8') {
      const q = quantizeQ8_0(data);
      const back = dequantQ8_0(q, data.length);
      let err = 0;
      for (let i = 0; i < data.length; i++) err = Math.max(err, Math.abs(back[i]! - data[i]!));
      out.push({ name: t.name, dtype: 'Q8_0', shape: t.shape, data: q });
      report.push({ ...base, action: 'q8_0', maxAbsError: err, bytesAfter: q.length });
    } else {
      const c = opts.scheme === 'fp16' ? castF16(data) : { ...castBf16(data), overflow: 0 };
      if (c.overflow) {
        out.push(t);
        report.push({ ...base, reason: `${c.overflow} values exceed the FP16 range` });
        continue;
      }
      const dt: DType = opts.scheme === 'fp16' ? 'F16' : 'BF16';
      out.push({ name: t.name, dtype: dt, shape: t.shape, data: u8(c.bits) });
      report.push({ ...base, action: opts.scheme, maxAbsError: c.maxAbsError, bytesAfter: c.bits.byteLength });
    }
  }
  const meta = metadata.filter((kv) => kv.key !== 'general.file_type');
  meta.push({ key: 'general.file_type', type: GgufType.UINT32, value: FILE_TYPE[opts.scheme] });
  if (opts.scheme === 'int8' && !meta.some((kv) => kv.key === 'general.quantization_version')) {
    meta.push({ key: 'general.quantization_version', type: GgufType.UINT32, value: 2 });
  }
  return { tensors: out, metadata: meta, report: { format: 'gguf', scheme: opts.scheme, granularity: opts.granularity, method: opts.scheme === 'int8' ? 'Q8_0' : 'cast', tensors: report } };
}
