/**
 * TensorFlow.js quantization as tfjs itself describes it in the weights manifest: uint8 affine
 * (`quantization: {dtype: 'uint8', scale, min}`, w ≈ q·scale + min, one scale per tensor — the
 * only granularity the manifest can express) or float16 (`quantization: {dtype: 'float16'}`).
 * Weights already stored quantized are decoded first; bf16 has no tfjs encoding and is refused.
 * Pure over the weight list read/written by src/formats/tfjs.
 */
import { McdnError } from '../../errors.ts';
import { f16ToF32 } from '../../formats/numeric.ts';
import type { TfjsWriteWeight } from '../../formats/tfjs.ts';
import { castF16, quantizeUint8Affine } from './int8.ts';
import { keepReason } from './eligible.ts';
import type { QuantizeOptions, QuantizeReport, TensorReport } from './types.ts';

const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Decode a float32 weight's values whatever its stored form (plain, float16, uint8/uint16 affine). */
export function tfjsWeightToF32(w: TfjsWriteWeight): Float32Array | null {
  if (w.dtype !== 'float32') return null;
  const q = w.quantization;
  const d = w.data;
  if (!q) {
    const out = new Float32Array(d.length / 4);
    u8(out).set(d);
    return out;
  }
  if (q.dtype === 'float16') {
    const h = new Uint16Array(d.length / 2);
    u8(h).set(d);
    return f16ToF32(h);
  }
  const scale = q.scale ?? 1;
  const min = q.min ?? 0;
  if (q.dtype === 'uint8') return Float32Array.from(d, (v) => v * scale + min);
  const u = new Uint16Array(d.length / 2);
  u8(u).set(d);
  return Float32Array.from(u, (v) => v * scale + min);
}

export function quantizeTfjsWeights(weights: TfjsWriteWeight[], opts: QuantizeOptions): { weights: TfjsWriteWeight[]; report: QuantizeReport } {
  if (opts.scheme === 'bf16') {
    throw new McdnError('TFJS_NO_BF16', 'input', 'TensorFlow.js weights manifests have no bfloat16 encoding', { remedy: 'use --scheme int8 (uint8 affine) or fp16' });
  }
  const out: TfjsWriteWeight[] = [];
  const report: TensorReport[] = [];
  for (const w of weights) {
    const stored = w.quantization?.dtype ?? w.dtype;
    const base: TensorReport = { name: w.name, shape: w.shape, dtype: stored === w.dtype ? w.dtype : `${w.dtype} stored as ${stored}`, action: 'kept', bytesBefore: w.data.length, bytesAfter: w.data.length };
    let reason = w.dtype !== 'float32' ? `dtype ${w.dtype} not supported (needs float32)` : keepReason(w.name, 'F32', w.shape, { minElements: opts.minElements, ...(opts.exclude ? { exclude: opts.exclude } : {}), dtypes: ['F32'] });
    if (!reason && opts.scheme === 'int8' && stored === 'uint8') reason = 'already uint8';
    if (!reason && opts.scheme === 'fp16' && (stored === 'float16' || stored === 'uint8')) reason = `already ${stored} (not widened)`;
    if (reason) {
      out.push(w);
      report.push({ ...base, reason });
      continue;
    }
    const data = tfjsWeightToF32(w)!;
    if (opts.scheme === 'int8') {
      const r = quantizeUint8Affine(data);
      out.push({ name: w.name, shape: w.shape, dtype: 'float32', quantization: { dtype: 'uint8', scale: r.scale, min: r.min }, data: r.q });
      report.push({ ...base, action: 'uint8', axis: null, scaleMin: r.scale, scaleMax: r.scale, maxAbsError: r.maxAbsError, bytesAfter: r.q.length });
    } else {
      const c = castF16(data);
      if (c.overflow) {
        out.push(w);
        report.push({ ...base, reason: `${c.overflow} values exceed the FP16 range` });
        continue;
      }
      out.push({ name: w.name, shape: w.shape, dtype: 'float32', quantization: { dtype: 'float16' }, data: u8(c.bits) });
      report.push({ ...base, action: 'fp16', maxAbsError: c.maxAbsError, bytesAfter: c.bits.byteLength });
    }
  }
  return { weights: out, report: { format: 'tfjs', scheme: opts.scheme, granularity: 'per-tensor', method: opts.scheme === 'int8' ? 'tfjs uint8 affine' : 'tfjs float16', tensors: report } };
}
