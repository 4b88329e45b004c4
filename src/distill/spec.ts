/**
 * Student architecture specs: a small declarative language (`mlp:64,32`, `cnn:8c3-p2-16c3s2bn-gap-fc32`)
 * or the same as JSON, parsed into a validated `StudentSpec`. Pure: takes text, never reads files or
 * touches TensorFlow.js. The final class layer is implied (its width comes from the teacher's output).
 *
 * Grammar
 *   mlp:H1,H2,...          flatten, then Dense(Hi)+ReLU per entry ("mlp:" alone = logistic regression)
 *   cnn:TOK-TOK-...        tokens:
 *     <F>c<K>[s<S>][bn]    Conv2D, F filters, KxK kernel, stride S (default 1), 'same' padding, optional
 *                          batch norm (folded into the conv at export), then ReLU
 *     p<K>                 MaxPool KxK, stride K
 *     gap                  global average pooling
 *     fc<N>[bn]            Dense(N)+ReLU (flattens first if needed)
 *   JSON: {"layers":[{"type":"conv","filters":8,"kernel":3,"stride":1,"bn":false},
 *                    {"type":"pool","size":2},{"type":"gap"},{"type":"dense","units":32}]}
 */
import { inputError } from '../errors.ts';

export type LayerSpec =
  | { type: 'conv'; filters: number; kernel: number; stride: number; bn: boolean }
  | { type: 'pool'; size: number }
  | { type: 'gap' }
  | { type: 'dense'; units: number; bn: boolean };

export interface StudentSpec {
  kind: 'mlp' | 'cnn';
  layers: LayerSpec[];
}

export const MAX_SPEC_LAYERS = 64;
export const MAX_UNITS = 65536;
export const MAX_FILTERS = 4096;
export const MAX_KERNEL = 15;
export const MAX_STRIDE = 8;
export const MAX_POOL = 16;
export const MAX_SPEC_CHARS = 64 * 1024;

const EXAMPLES = 'e.g. mlp:64,32 or cnn:8c3-p2-16c3-gap-fc32 or a .json file';

function bad(spec: string, found: string): never {
  throw inputError('DISTILL_BAD_SPEC', `student spec "${spec}": ${found}`, { spec }, `expected ${EXAMPLES}`);
}

function int(spec: string, what: string, s: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(s)) bad(spec, `${what} "${s}" is not a whole number`);
  const n = Number(s);
  if (n < min || n > max) bad(spec, `${what} ${n} out of range ${min}..${max}`);
  return n;
}

/** Parse the compact text form (not JSON; see parseStudentSpecJson). */
export function parseStudentSpec(text: string): StudentSpec {
  const spec = text.trim();
  if (spec.length > MAX_SPEC_CHARS) bad(spec.slice(0, 40) + '…', `longer than ${MAX_SPEC_CHARS} characters`);
  if (spec.startsWith('{')) return parseStudentSpecJson(spec);
  const m = /^(mlp|cnn):(.*)$/i.exec(spec);
  if (!m) bad(spec, 'unknown kind (want "mlp:" or "cnn:" prefix, or JSON)');
  const kind = m[1]!.toLowerCase() as 'mlp' | 'cnn';
  const body = m[2]!.trim();
  const layers: LayerSpec[] = [];
  if (kind === 'mlp') {
    if (body !== '') {
      for (const part of body.split(',')) {
        const p = part.trim();
        const bn = /bn$/i.test(p);
        layers.push({ type: 'dense', units: int(spec, 'hidden width', bn ? p.slice(0, -2) : p, 1, MAX_UNITS), bn });
      }
    }
  } else {
    if (body === '') bad(spec, 'no layers after "cnn:"');
    for (const raw of body.split('-')) {
      const tok = raw.trim().toLowerCase();
      let t: RegExpExecArray | null;
      if ((t = /^([0-9]+)c([0-9]+)(?:s([0-9]+))?(bn)?$/.exec(tok))) {
        layers.push({
          type: 'conv',
          filters: int(spec, 'filters', t[1]!, 1, MAX_FILTERS),
          kernel: int(spec, 'kernel', t[2]!, 1, MAX_KERNEL),
          stride: t[3] === undefined ? 1 : int(spec, 'stride', t[3], 1, MAX_STRIDE),
          bn: t[4] !== undefined,
        });
      } else if ((t = /^p([0-9]+)$/.exec(tok))) {
        layers.push({ type: 'pool', size: int(spec, 'pool size', t[1]!, 1, MAX_POOL) });
      } else if (tok === 'gap') {
        layers.push({ type: 'gap' });
      } else if ((t = /^fc([0-9]+)(bn)?$/.exec(tok))) {
        layers.push({ type: 'dense', units: int(spec, 'fc width', t[1]!, 1, MAX_UNITS), bn: t[2] !== undefined });
      } else {
        bad(spec, `unknown layer token "${raw}" (want <F>c<K>[s<S>][bn], p<K>, gap or fc<N>)`);
      }
    }
  }
  return validate(spec, { kind, layers });
}

/** Parse the JSON form: {"layers":[...]} (kind is inferred: any conv/pool/gap makes it a cnn). */
export function parseStudentSpecJson(text: string): StudentSpec {
  const label = text.length > 40 ? text.slice(0, 40) + '…' : text;
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    bad(label, `invalid JSON (${(e as Error).message})`);
  }
  if (typeof j !== 'object' || j === null || !Array.isArray((j as { layers?: unknown }).layers)) {
    bad(label, 'JSON must be an object with a "layers" array');
  }
  const layers: LayerSpec[] = [];
  const num = (o: Record<string, unknown>, k: string, def: number | undefined, min: number, max: number): number => {
    const v = o[k] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v)) bad(label, `layer field "${k}" must be an integer, found ${JSON.stringify(v)}`);
    if (v < min || v > max) bad(label, `layer field "${k}" = ${v} out of range ${min}..${max}`);
    return v;
  };
  for (const l of (j as { layers: unknown[] }).layers) {
    if (typeof l !== 'object' || l === null) bad(label, `layer ${JSON.stringify(l)} is not an object`);
    const o = l as Record<string, unknown>;
    switch (o['type']) {
      case 'conv':
        layers.push({
          type: 'conv',
          filters: num(o, 'filters', undefined, 1, MAX_FILTERS),
          kernel: num(o, 'kernel', 3, 1, MAX_KERNEL),
          stride: num(o, 'stride', 1, 1, MAX_STRIDE),
          bn: o['bn'] === true,
        });
        break;
      case 'pool':
        layers.push({ type: 'pool', size: num(o, 'size', 2, 1, MAX_POOL) });
        break;
      case 'gap':
        layers.push({ type: 'gap' });
        break;
      case 'dense':
        layers.push({ type: 'dense', units: num(o, 'units', undefined, 1, MAX_UNITS), bn: o['bn'] === true });
        break;
      default:
        bad(label, `unknown layer type ${JSON.stringify(o['type'])} (want conv, pool, gap or dense)`);
    }
  }
  const kind = layers.some((l) => l.type !== 'dense') ? 'cnn' : 'mlp';
  return validate(label, { kind, layers });
}

function validate(label: string, s: StudentSpec): StudentSpec {
  if (s.layers.length > MAX_SPEC_LAYERS) bad(label, `${s.layers.length} layers, at most ${MAX_SPEC_LAYERS}`);
  let flat = false;
  for (const l of s.layers) {
    if (l.type === 'dense' || l.type === 'gap') {
      if (l.type === 'gap' && flat) bad(label, '"gap" after a dense layer or another gap');
      flat = true;
    } else if (flat) {
      bad(label, `a ${l.type} layer after the features were flattened (dense or gap)`);
    }
  }
  return s;
}

/** The canonical compact text of a spec (parseStudentSpec(formatStudentSpec(s)) deep-equals s). */
export function formatStudentSpec(s: StudentSpec): string {
  if (s.kind === 'mlp') return 'mlp:' + s.layers.map((l) => (l.type === 'dense' ? `${l.units}${l.bn ? 'bn' : ''}` : '')).join(',');
  return (
    'cnn:' +
    s.layers
      .map((l) => {
        switch (l.type) {
          case 'conv':
            return `${l.filters}c${l.kernel}${l.stride !== 1 ? `s${l.stride}` : ''}${l.bn ? 'bn' : ''}`;
          case 'pool':
            return `p${l.size}`;
          case 'gap':
            return 'gap';
          case 'dense':
            return `fc${l.units}${l.bn ? 'bn' : ''}`;
        }
      })
      .join('-')
  );
}
