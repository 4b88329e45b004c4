/**
 * Helpers shared by the quantize/prune/optimize commands: parse --exclude, validate numeric flags,
 * name dtypes for the "FP32 10.8 MB → INT8 2.8 MB" line, and write --report JSON atomically.
 */
import { inputError } from '../errors.ts';
import { writeFileAtomic } from '../formats/atomic.ts';

export function parseExclude(s: string | undefined): RegExp | undefined {
  if (s === undefined) return undefined;
  try {
    return new RegExp(s);
  } catch (e) {
    throw inputError('BAD_EXCLUDE', `--exclude: invalid regular expression: ${(e as Error).message}`);
  }
}

export function checkMinElements(n: number | undefined): number {
  if (n === undefined) return 1024;
  if (!Number.isInteger(n) || n < 0) throw inputError('BAD_MIN_ELEMENTS', `--min-elements must be a non-negative integer, got ${n}`);
  return n;
}

export const SCHEME_LABEL: Record<string, string> = { int8: 'INT8', fp16: 'FP16', bf16: 'BF16' };

export async function writeJsonReport(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, async (w) => w.write(new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n')));
}

/** Ratio text like "3.73x". */
export function ratio(before: number, after: number): string {
  return after > 0 ? `${(before / after).toFixed(2)}x` : '-';
}

const DTYPE_LABEL: Record<string, string> = { F32: 'FP32', F16: 'FP16', BF16: 'BF16', F64: 'FP64', float32: 'FP32', float16: 'FP16' };

/** The input's dominant float dtype among the tensors that were changed ("FP32"), by bytes. */
export function sourceLabel(tensors: { dtype: string; action: string; bytesBefore: number }[]): string {
  const by = new Map<string, number>();
  for (const t of tensors) if (t.action !== 'kept') by.set(t.dtype, (by.get(t.dtype) ?? 0) + t.bytesBefore);
  let best = '';
  let n = -1;
  for (const [k, v] of by) if (v > n) [best, n] = [k, v];
  const key = best.split(' ')[0] ?? '';
  return DTYPE_LABEL[key] ?? (key || 'model');
}
