/**
 * Which tensors of a graph-less file (safetensors, GGUF, TF.js weights) are weights to quantize or
 * prune: float, rank ≥ 2, at least --min-elements, not excluded, and not named like a bias or a
 * normalization parameter. Returns the reason a tensor is kept. Pure.
 */
import type { DType } from '../../formats/types.ts';

/** Name tokens of biases and normalization parameters (PyTorch, GGUF, Keras/TF conventions). */
export const NORM_OR_BIAS =
  /(^|[._/\-])(bias|biases|b|norm|norms|layernorm|layer_norm|ln|ln_f|ln_\d+|bn|batchnorm|batch_norm|running_mean|running_var|num_batches_tracked|gamma|beta|moving_mean|moving_variance|scale)([._/\-:]|$)|norm(alization)?\d*([._/\-:]|$)/i;

export interface EligibilityRule {
  minElements: number;
  exclude?: RegExp;
  /** allowed source dtypes */
  dtypes: readonly DType[];
  minRank?: number;
}

export function keepReason(name: string, dtype: DType, shape: readonly number[], rule: EligibilityRule): string | null {
  const n = shape.reduce((a, b) => a * b, 1);
  if (!rule.dtypes.includes(dtype)) return `dtype ${dtype} not supported (needs ${rule.dtypes.join('/')})`;
  if (shape.length < (rule.minRank ?? 2)) return `rank ${shape.length} (bias, norm or vector)`;
  if (n < rule.minElements) return `small (${n} < --min-elements ${rule.minElements})`;
  if (rule.exclude?.test(name)) return 'excluded by --exclude';
  if (NORM_OR_BIAS.test(name)) return 'named like a bias or normalization parameter';
  return null;
}
