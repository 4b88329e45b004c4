/**
 * Data-free sensitivity rules applied by default to ONNX INT8 per-channel quantization (no inputs,
 * no runtime): (1) a weight whose output reaches an error-amplifying op — Log, Reciprocal, or the
 * denominator of Div — through element-wise and data-movement ops only is stored in FP16, since a
 * small absolute error there becomes a large relative one (e.g. an STFT basis feeding a log
 * spectrogram); (2) a weight whose per-channel INT8 relative RMS error ‖w − ŵ‖/‖w‖ exceeds
 * REL_ERROR_LIMIT (outlier-heavy channels) gets one scale per block of the reduction axis instead.
 * Pure analysis over the decoded model and typed arrays; it never edits the model.
 */
import type { TensorUse } from '../onnx/weights.ts';
import { axisSplit, type Int8Result } from './int8.ts';

/** per-channel relative RMS error above which a weight is quantized per block (1 %) */
export const REL_ERROR_LIMIT = 0.01;
/** how many ops after the weight's consumer the amplifier search follows */
export const AMPLIFIER_DEPTH = 8;

/** Ops a small error passes through unchanged in kind (element-wise arithmetic, data movement). */
const PASS_OPS = new Set([
  'Add', 'Sub', 'Mul', 'Pow', 'Sqrt', 'Abs', 'Neg', 'Exp', 'Clip', 'Cast', 'Identity',
  'Slice', 'Split', 'Concat', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten', 'Pad', 'Expand', 'Gather',
  'ReduceSum', 'ReduceSumSquare', 'ReduceL2',
]);

/** The amplifying op `use` is, or null: Log, Reciprocal, or Div at its denominator. */
function amplifier(use: TensorUse): string | null {
  if (use.op === 'Log' || use.op === 'Reciprocal') return use.op;
  if (use.op === 'Div' && use.input === 1) return 'Div denominator';
  return null;
}

/**
 * The first error-amplifying op reached from the outputs of the weight's consumers (`uses`) through
 * PASS_OPS only, within AMPLIFIER_DEPTH ops; null when there is none. A path through any other op
 * (another Conv/MatMul, an activation, a normalization, a reduction mean) ends the search.
 */
export function findAmplifier(uses: readonly TensorUse[], consumers: Map<string, TensorUse[]>): string | null {
  const seen = new Set<object>();
  let frontier: string[] = uses.flatMap((u) => u.node.output);
  for (let depth = 0; depth < AMPLIFIER_DEPTH && frontier.length; depth++) {
    const next: string[] = [];
    for (const name of frontier) {
      for (const u of consumers.get(name) ?? []) {
        const a = amplifier(u);
        if (a) return a;
        if (seen.has(u.node) || !PASS_OPS.has(u.op)) continue;
        seen.add(u.node);
        next.push(...u.node.output);
      }
    }
    frontier = next;
  }
  return null;
}

/** ‖w − q·scale‖ / ‖w‖ of a per-channel (or per-tensor, axis null) INT8 result; 0 for an all-zero w. */
export function relativeRmsError(data: Float32Array, shape: readonly number[], axis: number | null, res: Int8Result): number {
  const { channels, inner } = axis === null ? { channels: 1, inner: data.length } : axisSplit(shape, axis);
  let err = 0;
  let sig = 0;
  for (let i = 0; i < data.length; i++) {
    const c = channels === 1 ? 0 : Math.floor(i / inner) % channels;
    const w = data[i]!;
    const d = Math.fround(res.q[i]! * res.scales[c]!) - w;
    err += d * d;
    sig += w * w;
  }
  return sig > 0 ? Math.sqrt(err / sig) : 0;
}
