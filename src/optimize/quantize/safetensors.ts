/**
 * safetensors quantization. INT8 follows the compressed-tensors "int-quantized" layout: the weight
 * keeps its name and becomes I8, with a float32 `<name>_scale` (shape [out, 1, …] per channel, [1]
 * per tensor; channel = axis 0, PyTorch's [out, in, …]); the scheme goes into `__metadata__`
 * (`quantization_config`, compressed-tensors style, plus `modelcdn.quantization`). FP16/BF16 cast
 * float32 tensors (RNE). `dequantizeSafetensors` turns such files back into dense floats.
 * Works on whole tensors in memory; reading and writing go through src/formats.
 */
import { inputError } from '../../errors.ts';
import { readTensorAsF32 } from '../../formats/numeric.ts';
import type { SafetensorsTensor } from '../../formats/safetensors.ts';
import type { DType } from '../../formats/types.ts';
import { castBf16, castF16, dequantizeInt8, quantizeInt8 } from './int8.ts';
import { keepReason } from './eligible.ts';
import type { QuantizeOptions, QuantizeReport, TensorReport } from './types.ts';

const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export const QUANT_META_KEY = 'modelcdn.quantization';

export function scaleName(name: string): string {
  return `${name}_scale`;
}

export function quantizeSafetensors(
  tensors: SafetensorsTensor[],
  metadata: Record<string, string> | undefined,
  opts: QuantizeOptions,
): { tensors: SafetensorsTensor[]; metadata: Record<string, string>; report: QuantizeReport } {
  const names = new Set(tensors.map((t) => t.name));
  const out: SafetensorsTensor[] = [];
  const report: TensorReport[] = [];
  const targets: string[] = [];
  for (const t of tensors) {
    const base: TensorReport = { name: t.name, shape: t.shape, dtype: t.dtype, action: 'kept', bytesBefore: t.data.length, bytesAfter: t.data.length };
    let reason = keepReason(t.name, t.dtype, t.shape, {
      minElements: opts.minElements,
      ...(opts.exclude ? { exclude: opts.exclude } : {}),
      dtypes: opts.scheme === 'int8' ? ['F32', 'F16', 'BF16'] : ['F32'],
    });
    if (!reason && opts.scheme === 'int8' && names.has(scaleName(t.name))) reason = `a tensor named ${scaleName(t.name)} already exists`;
    if (reason) {
      out.push(t);
      report.push({ ...base, reason });
      continue;
    }
    const data = readTensorAsF32(t, t.data);
    if (opts.scheme === 'int8') {
      const perChannel = opts.granularity !== 'per-tensor'; // per-block: per-channel here (not in this layout yet)
      const r = quantizeInt8(data, t.shape, perChannel ? 0 : null);
      const sShape = perChannel ? [t.shape[0]!, ...t.shape.slice(1).map(() => 1)] : [1];
      out.push({ name: t.name, dtype: 'I8', shape: t.shape, data: u8(r.q) });
      out.push({ name: scaleName(t.name), dtype: 'F32', shape: sShape, data: u8(r.scales) });
      targets.push(t.name);
      report.push({
        ...base,
        action: 'int8',
        axis: perChannel ? 0 : null,
        scaleMin: r.scales.reduce((a, b) => Math.min(a, b), Infinity),
        scaleMax: r.scales.reduce((a, b) => Math.max(a, b), -Infinity),
        maxAbsError: r.maxAbsError,
        bytesAfter: r.q.length + r.scales.byteLength,
      });
    } else {
      const c = opts.scheme === 'fp16' ? castF16(data) : { ...castBf16(data), overflow: 0 };
      if (c.overflow) {
        out.push(t);
        report.push({ ...base, reason: `${c.overflow} values exceed the FP16 range` });
        continue;
      }
      out.push({ name: t.name, dtype: opts.scheme === 'fp16' ? 'F16' : 'BF16', shape: t.shape, data: u8(c.bits) });
      report.push({ ...base, action: opts.scheme, maxAbsError: c.maxAbsError, bytesAfter: c.bits.byteLength });
    }
  }
  const meta: Record<string, string> = { ...(metadata ?? {}) };
  if (opts.scheme === 'int8' && targets.length) {
    meta['quantization_config'] = JSON.stringify({
      quant_method: 'compressed-tensors',
      format: 'int-quantized',
      config_groups: {
        group_0: {
          weights: { num_bits: 8, type: 'int', symmetric: true, strategy: opts.granularity !== 'per-tensor' ? 'channel' : 'tensor', dynamic: false },
          input_activations: null,
          targets,
        },
      },
      ignore: report.filter((r) => r.action === 'kept').map((r) => r.name),
    });
  }
  meta[QUANT_META_KEY] = JSON.stringify({ scheme: opts.scheme, granularity: opts.granularity, scale_suffix: '_scale', channel_axis: 0 });
  return { tensors: out, metadata: meta, report: { format: 'safetensors', scheme: opts.scheme, granularity: opts.granularity, method: opts.scheme === 'int8' ? 'compressed-tensors int-quantized' : 'cast', tensors: report } };
}

/** I8 weight + `<name>_scale` pairs back to dense floats (`dtype` F32 or F16); other tensors unchanged. */
export function dequantizeSafetensors(
  tensors: SafetensorsTensor[],
  metadata: Record<string, string> | undefined,
  dtype: 'F32' | 'F16',
  path = '<safetensors>',
): { tensors: SafetensorsTensor[]; metadata: Record<string, string> | undefined; restored: number } {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const scales = new Set<string>();
  const out: SafetensorsTensor[] = [];
  let restored = 0;
  for (const t of tensors) {
    const s = byName.get(scaleName(t.name));
    if (t.dtype !== 'I8' || !s) continue;
    scales.add(s.name);
  }
  if (scales.size === 0) {
    throw inputError('NOT_QUANTIZED', `${path}: no int8 weight with a matching _scale tensor (not a compressed-tensors int-quantized file)`);
  }
  for (const t of tensors) {
    if (scales.has(t.name)) continue;
    const s = byName.get(scaleName(t.name));
    if (t.dtype === 'I8' && s) {
      if (s.dtype !== 'F32' && s.dtype !== 'F16' && s.dtype !== 'BF16') throw inputError('BAD_SCALE', `${path}: ${s.name} has dtype ${s.dtype}, expected a float`);
      const sv = readTensorAsF32(s, s.data);
      const n = s.shape.reduce((a, b) => a * b, 1);
      let axis: number | null;
      if (n === 1) axis = null;
      else if (s.shape[0] === t.shape[0] && n === t.shape[0]) axis = 0;
      else throw inputError('BAD_SCALE', `${path}: ${s.name} shape [${s.shape.join(',')}] does not match ${t.name} [${t.shape.join(',')}] (per-tensor or per-row expected)`);
      const q = new Int8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      const f = dequantizeInt8(q, sv, t.shape, axis);
      const dt: DType = dtype;
      out.push({ name: t.name, dtype: dt, shape: t.shape, data: dtype === 'F32' ? u8(f) : u8(castF16(f).bits) });
      restored++;
    } else {
      out.push(t);
    }
  }
  let meta = metadata;
  if (meta) {
    meta = { ...meta };
    delete meta['quantization_config'];
    delete meta[QUANT_META_KEY];
  }
  return { tensors: out, metadata: meta, restored };
}
