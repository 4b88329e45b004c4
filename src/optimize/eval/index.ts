/**
 * `modelcdn eval` core: run two ONNX models on the same inputs (a safetensors file whose tensor
 * names are the model input names, first dim = batch; or seeded random inputs from the declared
 * shapes) and report per output cosine similarity, max/mean abs error and argmax agreement.
 * The runtime settings used are part of the report. Does not write files.
 */
import { inputError } from '../../errors.ts';
import { compareOutputs, type OutputMetrics } from './metrics.ts';
import { randomInputs } from './random-inputs.ts';
import {
  DEFAULT_ORT_SETTINGS,
  findStatePairs,
  importOrt,
  loadModel,
  runBatched,
  runSequential,
  zeroState,
  type LoadedModel,
  type OrtSettings,
  type RunResult,
  type StatePair,
} from './runner.ts';
import { allocHost, toNumbers, type HostDType, type HostTensor } from './tensors.ts';

export { compareOutputs, type OutputMetrics } from './metrics.ts';
export { loadModel, runBatched, runSequential, findStatePairs, DEFAULT_ORT_SETTINGS, type LoadedModel, type OrtSettings, type StatePair } from './runner.ts';
export type { HostTensor } from './tensors.ts';

export interface EvalOptions {
  /** inputs by name (from a safetensors file); random inputs when absent */
  inputs?: Record<string, HostTensor>;
  inputsPath?: string;
  sequential?: boolean;
  /** explicit state pairs (output → input); others are detected by name */
  state?: StatePair[];
  seed?: number;
  /** rows (steps when sequential) of random inputs */
  randomBatch?: number;
  /** value for non-batch symbolic dims of random inputs */
  defaultDim?: number;
  shapes?: Record<string, number[]>;
  /** constants for named inputs (e.g. sr=16000), used for random inputs and for inputs missing from the file */
  values?: Record<string, number>;
  batchSize?: number;
  threshold?: number;
  settings?: OrtSettings;
  signal?: AbortSignal;
}

export interface EvalReport {
  a: string;
  b: string;
  runtime: { name: 'onnxruntime-node'; version: string } & OrtSettings;
  inputs: { source: 'file' | 'random'; path?: string; seed?: number; tensors: string[] };
  mode: 'batched' | 'sequential';
  statePairs: StatePair[];
  rows: number;
  outputs: OutputMetrics[];
  /** outputs present in only one model */
  unmatchedOutputs: string[];
}

function constantTensor(type: HostDType, dims: number[], v: number): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = allocHost(type, n);
  for (let i = 0; i < n; i++) {
    if (type === 'int64') (data as BigInt64Array)[i] = BigInt(Math.trunc(v));
    else (data as Float32Array)[i] = v;
  }
  return { type, dims, data };
}

/** Complete `inputs` for one model: add --set constants for inputs the file lacks. */
function feedsFor(model: LoadedModel, inputs: Record<string, HostTensor>, values: Record<string, number>): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = { ...inputs };
  for (const spec of model.inputs) {
    const v = values[spec.name];
    if (v === undefined) continue;
    const base = zeroState(spec);
    feeds[spec.name] = constantTensor(base.type, base.dims, v);
  }
  return feeds;
}

export async function runModel(model: LoadedModel, inputs: Record<string, HostTensor>, opts: EvalOptions, pairs: StatePair[]): Promise<RunResult> {
  const feeds = feedsFor(model, inputs, opts.values ?? {});
  return opts.sequential ? runSequential(model, feeds, pairs, opts.signal) : runBatched(model, feeds, opts.batchSize ?? 16, opts.signal);
}

export async function evaluatePair(aPath: string, bPath: string, opts: EvalOptions = {}): Promise<EvalReport> {
  const settings = opts.settings ?? DEFAULT_ORT_SETTINGS;
  const ort = await importOrt();
  const a = await loadModel(aPath, settings);
  let b: LoadedModel | undefined;
  try {
    b = await loadModel(bPath, settings);
    const pairsA = opts.sequential ? findStatePairs(a.inputs, a.outputs, opts.state) : [];
    const pairsB = opts.sequential ? findStatePairs(b.inputs, b.outputs, opts.state) : [];
    let inputs = opts.inputs;
    let source: EvalReport['inputs'];
    if (!inputs) {
      const seed = opts.seed ?? 1;
      const skip = new Set([...pairsA.map((p) => p.input), ...Object.keys(opts.values ?? {})]);
      const r = randomInputs(a.inputs, {
        seed,
        batch: opts.randomBatch ?? (opts.sequential ? 8 : 2),
        defaultDim: opts.defaultDim ?? 256,
        skip,
        ...(opts.shapes ? { shapes: opts.shapes } : {}),
      });
      inputs = r.inputs;
      const missing = b.inputs.filter((s) => !a.inputs.some((x) => x.name === s.name) && !pairsB.some((p) => p.input === s.name) && !skip.has(s.name));
      if (missing.length) {
        throw inputError('EVAL_INPUTS_DIFFER', `${bPath} has inputs ${missing.map((m) => m.name).join(', ')} that ${aPath} lacks; random inputs cannot cover both`, {}, 'pass an --inputs file');
      }
      source = { source: 'random', seed, tensors: [...r.notes, ...Object.entries(opts.values ?? {}).map(([k, v]) => `${k} = ${v}`)] };
    } else {
      source = {
        source: 'file',
        ...(opts.inputsPath ? { path: opts.inputsPath } : {}),
        tensors: Object.entries(inputs).map(([k, t]) => `${k}: ${t.type}[${t.dims.join(',')}]`),
      };
    }
    const ra = await runModel(a, inputs, opts, pairsA);
    const rb = await runModel(b, inputs, opts, pairsB);
    const outputs: OutputMetrics[] = [];
    const unmatched: string[] = [];
    for (const [name, ta] of Object.entries(ra.outputs)) {
      const tb = rb.outputs[name];
      if (!tb) {
        unmatched.push(name);
        continue;
      }
      outputs.push(compareOutputs(name, { dims: ta.dims, data: toNumbers(ta) }, { dims: tb.dims, data: toNumbers(tb) }, opts.threshold ?? 0.5));
    }
    for (const name of Object.keys(rb.outputs)) if (!(name in ra.outputs)) unmatched.push(name);
    if (outputs.length === 0) {
      throw inputError('EVAL_NO_COMMON_OUTPUT', `${aPath} and ${bPath} have no output name in common`, { a: Object.keys(ra.outputs), b: Object.keys(rb.outputs) });
    }
    return {
      a: aPath,
      b: bPath,
      runtime: { name: 'onnxruntime-node', version: ort.env.versions.node ?? 'unknown', ...settings },
      inputs: source,
      mode: opts.sequential ? 'sequential' : 'batched',
      statePairs: pairsA,
      rows: ra.batch,
      outputs,
      unmatchedOutputs: unmatched,
    };
  } finally {
    await a.close();
    await b?.close();
  }
}
