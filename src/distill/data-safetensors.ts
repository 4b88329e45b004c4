/**
 * Transfer sets stored as safetensors: the inputs tensor ("inputs", "x", or the only floating-point
 * tensor; shape [N, ...sample]) and, when labels are asked for, an integer "labels" tensor [N]. Pure:
 * bytes in, `Dataset` out; the header is parsed by src/formats (never a second safetensors parser).
 */
import { inputError } from '../errors.ts';
import { isFloatDType, numel, parseSafetensors, readTensorAsF32, type TensorInfo } from '../formats/index.ts';
import { MAX_LABEL, type Dataset } from './data.ts';

export function parseSafetensorsDataset(bytes: Uint8Array, opts: { labels: boolean; source: string }): Dataset {
  const h = parseSafetensors(bytes, { path: opts.source });
  const byName = new Map(h.tensors.map((t) => [t.name, t]));
  const floats = h.tensors.filter((t) => isFloatDType(t.dtype));
  const inputs = byName.get('inputs') ?? byName.get('x') ?? (floats.length === 1 ? floats[0] : undefined);
  if (!inputs) {
    throw inputError(
      'DISTILL_SAFETENSORS_NO_INPUTS',
      `${opts.source}: no inputs tensor: expected one named "inputs" or "x" (or a single float tensor), found ${h.tensors.map((t) => `${t.name}:${t.dtype}`).join(', ') || 'none'}`,
    );
  }
  if (inputs.shape.length < 2) {
    throw inputError('DISTILL_DATA_SHAPE', `${opts.source}: inputs tensor "${inputs.name}" has shape [${inputs.shape.join(',')}], expected [N, ...sample]`);
  }
  const slice = (t: TensorInfo) => bytes.subarray(t.offset, t.offset + t.length);
  const n = inputs.shape[0]!;
  if (n === 0) throw inputError('DISTILL_DATA_EMPTY', `${opts.source}: inputs tensor "${inputs.name}" has no samples`);
  const x = readTensorAsF32(inputs, slice(inputs));
  const bad = x.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    const per = x.length / n;
    throw inputError('DISTILL_DATA_NOT_FINITE', `${opts.source}: inputs tensor "${inputs.name}" holds ${x[bad]} in sample ${Math.floor(bad / per) + 1}, expected finite numbers`);
  }
  let labels: Int32Array | undefined;
  if (opts.labels) {
    const l = byName.get('labels') ?? byName.get('y');
    if (!l) throw inputError('DISTILL_SAFETENSORS_NO_LABELS', `${opts.source}: --labels given but there is no "labels" tensor (found ${h.tensors.map((t) => t.name).join(', ')})`);
    if (isFloatDType(l.dtype) || numel(l.shape) !== n) {
      throw inputError('DISTILL_LABEL_INVALID', `${opts.source}: "labels" is ${l.dtype}[${l.shape.join(',')}], expected an integer tensor of ${n} class indices`);
    }
    const v = readTensorAsF32(l, slice(l));
    labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const y = v[i]!;
      if (!Number.isInteger(y) || y < 0 || y > MAX_LABEL) {
        throw inputError('DISTILL_LABEL_INVALID', `${opts.source}: sample ${i + 1}: label ${y} is not a class index (expected an integer ≥ 0)`);
      }
      labels[i] = y;
    }
  }
  return { x, n, sampleShape: inputs.shape.slice(1), ...(labels ? { labels } : {}), source: opts.source };
}
