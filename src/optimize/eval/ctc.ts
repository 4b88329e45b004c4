/**
 * Greedy CTC decoding (PaddleOCR's CTCLabelDecode): per time step take the argmax class, merge
 * repeats, drop the blank (class 0); class i ≥ 1 maps to charset[i − 1]. Pure; used by the bench to
 * compare recognizers on whole text lines.
 */
import { argmax } from './metrics.ts';

/** PaddleOCR's character list for a dictionary file's lines: blank, the lines, then ' ' (use_space_char). */
export function paddleCharset(dictLines: string[]): string[] {
  return [...dictLines, ' '];
}

/** Decode probs [N, T, C] into N strings. */
export function ctcGreedyDecode(probs: ArrayLike<number>, dims: readonly number[], charset: readonly string[]): string[] {
  const [n, t, c] = dims as [number, number, number];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    let prev = -1;
    for (let j = 0; j < t; j++) {
      const k = argmax(probs, (i * t + j) * c, c);
      if (k !== 0 && k !== prev) s += charset[k - 1] ?? '';
      prev = k;
    }
    out.push(s);
  }
  return out;
}
