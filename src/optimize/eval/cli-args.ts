/**
 * Parsing of eval's repeatable NAME=VALUE flags (--shape input=1x512, --set sr=16000,
 * --state stateN=state). Pure; throws McdnError with BAD_ARGUMENTS-style codes.
 */
import { inputError } from '../../errors.ts';
import type { StatePair } from './runner.ts';

function kv(flag: string, s: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0 || i === s.length - 1) throw inputError('EVAL_BAD_FLAG', `--${flag} expects NAME=VALUE, got '${s}'`);
  return [s.slice(0, i), s.slice(i + 1)];
}

export function parseShapes(list: string[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of list) {
    const [k, v] = kv('shape', s);
    const dims = v === 'scalar' ? [] : v.split(/[x,]/).map(Number);
    if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw inputError('EVAL_BAD_FLAG', `--shape ${s}: dims must be non-negative integers like 1x3x48x320`);
    out[k] = dims;
  }
  return out;
}

export function parseValues(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) {
    const [k, v] = kv('set', s);
    const n = Number(v);
    if (!Number.isFinite(n)) throw inputError('EVAL_BAD_FLAG', `--set ${s}: value must be a number`);
    out[k] = n;
  }
  return out;
}

export function parseStatePairs(list: string[]): StatePair[] {
  return list.map((s) => {
    const [output, input] = kv('state', s);
    return { output, input };
  });
}
