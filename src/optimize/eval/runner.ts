/**
 * Runs an ONNX model in onnxruntime-node (CPU execution provider) with pinned, reported session
 * settings: batched over the first axis, or step by step with recurrent state outputs fed back as
 * inputs (`--sequential`, e.g. Silero VAD's h/c → hn/cn or state → stateN). onnxruntime-node is
 * imported lazily. This module does not read input files or compute metrics.
 */
import { stat } from 'node:fs/promises';
import { McdnError, fromSystemError, inputError } from '../../errors.ts';
import { allocHost, concatBatch, sliceBatch, type HostData, type HostDType, type HostTensor } from './tensors.ts';

/** Session settings, pinned so results are reproducible; reported with every evaluation. */
export interface OrtSettings {
  /** 'basic' keeps DequantizeLinear→MatMul unfused (no MatMulNBits with accuracy_level 4, which would quantize activations) */
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  intraOpNumThreads: number;
  executionProvider: 'cpu';
}
export const DEFAULT_ORT_SETTINGS: OrtSettings = { graphOptimizationLevel: 'basic', intraOpNumThreads: 1, executionProvider: 'cpu' };

export type Dim = number | string;
export interface IoSpec {
  name: string;
  /** runtime element type, e.g. 'float32', 'int64' */
  type: string;
  /** declared shape; symbolic dims as strings ('' when unnamed); undefined when unknown */
  shape?: Dim[];
}

export interface StatePair {
  output: string;
  input: string;
}

export interface LoadedModel {
  path: string;
  inputs: IoSpec[];
  outputs: IoSpec[];
  run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>>;
  close(): Promise<void>;
}

type Ort = typeof import('onnxruntime-node');
/** onnxruntime-node, loaded on first use (CommonJS: the namespace sits on `default` under some loaders). */
export async function importOrt(): Promise<Ort> {
  const m = (await import('onnxruntime-node')) as Ort & { default?: Ort };
  return m.InferenceSession ? m : m.default!;
}

const ANSI = /\u001b\[[0-9;]*m/g;
function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).replace(ANSI, '').split('\n')[0]!.slice(0, 300);
}

/** Load a model into a session; a file the runtime rejects becomes MODEL_REJECTED_BY_RUNTIME. */
export async function loadModel(source: string | { bytes: Uint8Array; label: string }, settings: OrtSettings = DEFAULT_ORT_SETTINGS): Promise<LoadedModel> {
  const path = typeof source === 'string' ? source : source.label;
  if (typeof source === 'string') {
    try {
      const st = await stat(path);
      if (!st.isFile()) throw inputError('NOT_A_FILE', `${path}: not a regular file`);
    } catch (e) {
      throw fromSystemError(e, path);
    }
  }
  const ort = await importOrt();
  let session: import('onnxruntime-node').InferenceSession;
  try {
    const opts: import('onnxruntime-node').InferenceSession.SessionOptions = {
      graphOptimizationLevel: settings.graphOptimizationLevel,
      intraOpNumThreads: settings.intraOpNumThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      executionProviders: [settings.executionProvider],
      logSeverityLevel: 4,
    };
    session = typeof source === 'string' ? await ort.InferenceSession.create(source, opts) : await ort.InferenceSession.create(source.bytes, opts);
  } catch (e) {
    throw new McdnError('MODEL_REJECTED_BY_RUNTIME', 'input', `${path}: onnxruntime cannot load this model: ${firstLine(e)}`, {
      cause: e,
      remedy: 'check that the file is a valid ONNX model',
    });
  }
  const meta = (m: readonly unknown[]): IoSpec[] =>
    m.map((x) => {
      const v = x as { name: string; isTensor: boolean; type?: string; shape?: Dim[] };
      return { name: v.name, type: v.isTensor ? (v.type ?? 'unknown') : 'non-tensor', ...(v.shape ? { shape: [...v.shape] } : {}) };
    });
  const inputs = meta(session.inputMetadata);
  const outputs = meta(session.outputMetadata);
  return {
    path,
    inputs,
    outputs,
    async run(feeds) {
      const ortFeeds: Record<string, import('onnxruntime-node').Tensor> = {};
      for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = new ort.Tensor(t.type, t.data as Float32Array, t.dims);
      let res;
      try {
        res = await session.run(ortFeeds);
      } catch (e) {
        throw new McdnError('MODEL_RUN_FAILED', 'input', `${path}: onnxruntime rejected the inputs: ${firstLine(e)}`, {
          cause: e,
          remedy: 'check input names, shapes and values (--shape / --set for random inputs)',
        });
      }
      const out: Record<string, HostTensor> = {};
      for (const [k, v] of Object.entries(res)) {
        const t = v as unknown as { type: string; dims: readonly number[]; data: unknown };
        out[k] = { type: t.type as HostDType, dims: [...t.dims], data: t.data as HostData };
      }
      return out;
    },
    async close() {
      await session.release();
    },
  };
}

/** Strip a recurrent-output suffix: hn → h, stateN → state, state_out → state, h_next → h. */
export function stateBaseName(output: string): string[] {
  const c: string[] = [];
  const m = output.replace(/_?(?:out|next|new|n)$/i, '');
  if (m && m !== output) c.push(m);
  const pk = /^present/.exec(output);
  if (pk) c.push(output.replace(/^present/, 'past_key_values'), output.replace(/^present/, 'past'));
  return c;
}

function dimsCompatible(a?: Dim[], b?: Dim[]): boolean {
  if (!a || !b) return true;
  if (a.length !== b.length) return false;
  return a.every((d, i) => typeof d !== 'number' || typeof b[i] !== 'number' || d === b[i]);
}

/**
 * Pair recurrent state outputs with the inputs they feed: by name (output = input + n/N/_out/_next/
 * _new suffix) with compatible declared shapes and types. `explicit` ("out=in") pairs take precedence.
 */
export function findStatePairs(inputs: IoSpec[], outputs: IoSpec[], explicit: StatePair[] = []): StatePair[] {
  const pairs: StatePair[] = [];
  const usedIn = new Set<string>();
  for (const p of explicit) {
    if (!outputs.some((o) => o.name === p.output)) throw inputError('EVAL_STATE_UNKNOWN', `--state ${p.output}=${p.input}: the model has no output ${p.output}`);
    if (!inputs.some((i) => i.name === p.input)) throw inputError('EVAL_STATE_UNKNOWN', `--state ${p.output}=${p.input}: the model has no input ${p.input}`);
    pairs.push(p);
    usedIn.add(p.input);
  }
  for (const o of outputs) {
    if (pairs.some((p) => p.output === o.name)) continue;
    for (const base of stateBaseName(o.name)) {
      const i = inputs.find((x) => x.name === base && !usedIn.has(x.name));
      if (i && i.type === o.type && dimsCompatible(i.shape, o.shape)) {
        pairs.push({ output: o.name, input: i.name });
        usedIn.add(i.name);
        break;
      }
    }
  }
  return pairs;
}

/** An input counts as batched when the tensor has rank ≥ 1 and the model's first dim is symbolic (or 1 while the tensor has more rows). */
export function isBatched(spec: IoSpec | undefined, t: HostTensor): boolean {
  if (t.dims.length === 0) return false;
  const d0 = spec?.shape?.[0];
  if (d0 === undefined || typeof d0 === 'string' || d0 < 0) return true;
  return d0 === 1 && t.dims[0] !== 1;
}

/** Zero tensor for a state input: symbolic dims become 1 (they are batch dims for a single stream). */
export function zeroState(spec: IoSpec): HostTensor {
  const dims = (spec.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
  const type = spec.type as HostDType;
  return { type, dims, data: allocHost(type, dims.reduce((a, b) => a * b, 1)) };
}

export interface RunResult {
  outputs: Record<string, HostTensor>;
  /** runs made (chunks or steps) */
  runs: number;
  batch: number;
}

function splitInputs(model: LoadedModel, inputs: Record<string, HostTensor>, skip: Set<string>) {
  const batched: Record<string, HostTensor> = {};
  const fixed: Record<string, HostTensor> = {};
  let n = -1;
  let forceOne = false;
  for (const spec of model.inputs) {
    if (skip.has(spec.name)) continue;
    const t = inputs[spec.name];
    if (!t) {
      throw inputError('EVAL_INPUT_MISSING', `${model.path}: no value for model input "${spec.name}"`, { input: spec.name },
        'add it to the --inputs file, or use --set NAME=VALUE');
    }
    if (isBatched(spec, t)) {
      if (n >= 0 && t.dims[0] !== n) {
        throw inputError('EVAL_BATCH_MISMATCH', `input "${spec.name}" has ${t.dims[0]} rows, other inputs have ${n}`, { input: spec.name });
      }
      n = t.dims[0]!;
      batched[spec.name] = t;
      if (spec.shape?.[0] === 1) forceOne = true;
    } else {
      fixed[spec.name] = t;
    }
  }
  return { batched, fixed, n: Math.max(n, 1), hasBatched: n >= 0, forceOne };
}

/** Run on all rows, `batchSize` rows per call; outputs concatenated along the first axis. */
export async function runBatched(model: LoadedModel, inputs: Record<string, HostTensor>, batchSize = 16, signal?: AbortSignal): Promise<RunResult> {
  const { batched, fixed, n, hasBatched, forceOne } = splitInputs(model, inputs, new Set());
  const step = !hasBatched ? n : forceOne ? 1 : Math.max(1, batchSize);
  const parts: Record<string, HostTensor[]> = {};
  let runs = 0;
  for (let s = 0; s < n; s += step) {
    signal?.throwIfAborted();
    const feeds: Record<string, HostTensor> = { ...fixed };
    for (const [k, t] of Object.entries(batched)) feeds[k] = sliceBatch(t, s, Math.min(n, s + step));
    const out = await model.run(feeds);
    runs++;
    for (const [k, t] of Object.entries(out)) (parts[k] ??= []).push(t);
  }
  const outputs: Record<string, HostTensor> = {};
  for (const [k, p] of Object.entries(parts)) outputs[k] = concatBatch(p);
  return { outputs, runs, batch: n };
}

/**
 * Run row by row, feeding each state output back into its paired input. Initial state: the value
 * in `inputs` if given, else zeros. Returns the non-state outputs stacked along the first axis.
 */
export async function runSequential(model: LoadedModel, inputs: Record<string, HostTensor>, pairs: StatePair[], signal?: AbortSignal): Promise<RunResult> {
  if (pairs.length === 0) {
    throw inputError('EVAL_NO_STATE', `${model.path}: --sequential, but no recurrent state output↔input pair was found`, {
      inputs: model.inputs.map((i) => i.name),
      outputs: model.outputs.map((o) => o.name),
    }, 'name the pairs with --state OUTPUT=INPUT');
  }
  const stateIn = new Set(pairs.map((p) => p.input));
  const { batched, fixed, n } = splitInputs(model, inputs, stateIn);
  const state: Record<string, HostTensor> = {};
  for (const p of pairs) state[p.input] = inputs[p.input] ?? zeroState(model.inputs.find((i) => i.name === p.input)!);
  const parts: Record<string, HostTensor[]> = {};
  for (let s = 0; s < n; s++) {
    signal?.throwIfAborted();
    const feeds: Record<string, HostTensor> = { ...fixed, ...state };
    for (const [k, t] of Object.entries(batched)) feeds[k] = sliceBatch(t, s, s + 1);
    const out = await model.run(feeds);
    for (const p of pairs) state[p.input] = out[p.output]!;
    for (const [k, t] of Object.entries(out)) if (!pairs.some((p) => p.output === k)) (parts[k] ??= []).push(t);
  }
  const outputs: Record<string, HostTensor> = {};
  for (const [k, p] of Object.entries(parts)) outputs[k] = concatBatch(p);
  return { outputs, runs: n, batch: n };
}

/** The first `rows` rows of every batched-looking input (rank ≥ 1); scalars unchanged. */
export function sliceBatchInputs(inputs: Record<string, HostTensor>, rows: number): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [k, t] of Object.entries(inputs)) out[k] = t.dims.length >= 1 && t.dims[0]! > rows ? sliceBatch(t, 0, rows) : t;
  return out;
}
