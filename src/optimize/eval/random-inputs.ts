/**
 * Seeded random inputs built from a model's declared input shapes, for `modelcdn eval` without
 * --inputs. Symbolic dims: the batch dim (first axis, and any dim sharing its name) becomes `batch`;
 * state inputs get 1; other symbolic dims get `defaultDim` unless `--shape NAME=AxB` overrides.
 * Floats are uniform in [-1, 1); integers uniform in [0, 10) unless `--set NAME=VALUE` fixes them.
 * Pure: no runtime, no I/O.
 */
import { inputError } from '../../errors.ts';
import { f32BitsToF16Bits } from '../../formats/numeric.ts';
import type { IoSpec } from './runner.ts';
import { allocHost, seededRandom, type HostDType, type HostTensor } from './tensors.ts';

export interface RandomInputOptions {
  seed: number;
  /** rows along the batch axis (steps in --sequential mode) */
  batch: number;
  /** value for other symbolic dims */
  defaultDim: number;
  /** explicit shapes by input name */
  shapes?: Record<string, number[]>;
  /** constant values by input name (filled into every element) */
  values?: Record<string, number>;
  /** inputs not to generate (state inputs fed by the runner) */
  skip?: Set<string>;
}

const FLOATS = new Set(['float32', 'float64', 'float16']);
const INTS = new Set(['int64', 'int32', 'int16', 'int8', 'uint8', 'bool']);

export function describeRandomShape(spec: IoSpec, batchNames: Set<string>, opts: RandomInputOptions): number[] {
  const explicit = opts.shapes?.[spec.name];
  if (explicit) return explicit;
  if (!spec.shape) throw inputError('EVAL_SHAPE_UNKNOWN', `input "${spec.name}" has no declared shape`, { input: spec.name }, `give one with --shape ${spec.name}=AxB`);
  return spec.shape.map((d, i) => {
    if (typeof d === 'number' && d >= 0) return d;
    if (i === 0 || (typeof d === 'string' && d !== '' && batchNames.has(d))) return opts.batch;
    return opts.defaultDim;
  });
}

export function randomInputs(specs: IoSpec[], opts: RandomInputOptions): { inputs: Record<string, HostTensor>; notes: string[] } {
  const rnd = seededRandom(opts.seed);
  const batchNames = new Set<string>();
  for (const s of specs) {
    const d0 = s.shape?.[0];
    if (typeof d0 === 'string' && d0 !== '') batchNames.add(d0);
  }
  const inputs: Record<string, HostTensor> = {};
  const notes: string[] = [];
  for (const spec of specs) {
    if (opts.skip?.has(spec.name)) continue;
    const type = spec.type as HostDType;
    if (!FLOATS.has(type) && !INTS.has(type)) {
      throw inputError('EVAL_INPUT_DTYPE', `input "${spec.name}" has type ${spec.type}; random inputs support float and integer tensors`, { input: spec.name });
    }
    const dims = describeRandomShape(spec, batchNames, opts);
    const n = dims.reduce((a, b) => a * b, 1);
    const data = allocHost(type, n);
    const fixed = opts.values?.[spec.name];
    for (let i = 0; i < n; i++) {
      const v = fixed ?? (FLOATS.has(type) ? rnd() * 2 - 1 : Math.floor(rnd() * (type === 'bool' ? 2 : 10)));
      if (type === 'int64') (data as BigInt64Array)[i] = BigInt(Math.trunc(v));
      else if (type === 'float16') (data as Uint16Array)[i] = f32BitsToF16Bits(new Uint32Array(new Float32Array([v]).buffer)[0]!);
      else (data as Float32Array)[i] = v;
    }
    inputs[spec.name] = { type, dims, data };
    notes.push(`${spec.name}: ${type}[${dims.join(',')}] ${fixed !== undefined ? `= ${fixed}` : FLOATS.has(type) ? 'uniform [-1,1)' : 'uniform ints [0,10)'}`);
  }
  return { inputs, notes };
}
