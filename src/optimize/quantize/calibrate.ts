/**
 * Accuracy-guided INT8 for ONNX (mixed precision by sensitivity): quantize everything eligible,
 * measure agreement with the float model on calibration inputs in onnxruntime; if it is below the
 * target, measure each quantized tensor's damage alone and store the most damaging ones as FP16
 * instead, one at a time, until the target is met (or a cap is reached). Every such tensor is in
 * the report with the measured reason. Runs models in memory; writes nothing.
 */
import { decodeOnnxModel, encodeOnnxModel } from '../../formats/onnx/model.ts';
import { argmax, compareOutputs } from '../eval/metrics.ts';
import { findStatePairs, loadModel, runBatched, runSequential, sliceBatchInputs, type LoadedModel } from '../eval/runner.ts';
import { toNumbers, type HostTensor } from '../eval/tensors.ts';
import { quantizeOnnxModel } from './onnx.ts';
import { constantKey, type QuantizeOptions, type QuantizeReport } from './types.ts';

export interface CalibrationOptions {
  inputs: Record<string, HostTensor>;
  sequential: boolean;
  /** required share of samples (first-axis rows) whose decisions all agree: argmax along the last axis at every position, or the decision at 0.5 for single-score outputs */
  target: number;
  /** rows used in batched mode (all steps are used in sequential mode) */
  maxRows?: number;
  /** most tensors left in float (default: a quarter of the quantized ones, at least 1) */
  maxKeep?: number;
  onProgress?: (msg: string) => void;
}

export interface CalibrationResult {
  target: number;
  /** agreement of the fully quantized model, and of the final one */
  agreementAll: number;
  agreementFinal: number;
  /** tensors stored as FP16 instead of INT8, most damaging first */
  keptInFloat: { name: string; graph?: string; agreementAlone: number; errorAlone: number }[];
  evaluations: number;
}

type Outputs = Record<string, HostTensor>;

async function runOn(model: LoadedModel, inputs: Record<string, HostTensor>, sequential: boolean): Promise<Outputs> {
  const r = sequential ? await runSequential(model, inputs, findStatePairs(model.inputs, model.outputs)) : await runBatched(model, inputs, 16);
  return r.outputs;
}

/**
 * Fraction of samples (first-axis rows) whose decisions agree at every position: argmax along the
 * last axis (e.g. all time steps of a sequence), or the decision at 0.5 for single-score outputs.
 */
export function sampleAgreement(a: HostTensor, b: HostTensor): number {
  const x = toNumbers(a);
  const y = toNumbers(b);
  const last = a.dims[a.dims.length - 1] ?? 1;
  const samples = a.dims.length >= 2 ? a.dims[0]! : 1;
  const perSample = samples ? x.length / samples : 0;
  let agree = 0;
  for (let s = 0; s < samples; s++) {
    let ok = true;
    for (let r = s * perSample; r < (s + 1) * perSample && ok; r += last) {
      if (last > 1) ok = argmax(x, r, last) === argmax(y, r, last);
      else ok = x[r]! > 0.5 === y[r]! > 0.5;
    }
    if (ok) agree++;
  }
  return samples ? agree / samples : 1;
}

function agreement(ref: Outputs, out: Outputs): { agreement: number; error: number } {
  let agree = 1;
  let err = 0;
  let n = 0;
  for (const [name, a] of Object.entries(ref)) {
    const b = out[name];
    if (!b) continue;
    const m = compareOutputs(name, { dims: a.dims, data: toNumbers(a) }, { dims: b.dims, data: toNumbers(b) });
    agree = Math.min(agree, sampleAgreement(a, b));
    // relative error: mean abs error over the reference's mean magnitude
    const ra = toNumbers(a);
    let mag = 0;
    for (let i = 0; i < ra.length; i++) mag += Math.abs(ra[i]!);
    err += m.meanAbsError / Math.max(mag / Math.max(1, ra.length), 1e-12);
    n++;
  }
  return { agreement: agree, error: n ? err / n : 0 };
}

export async function calibratedQuantizeOnnx(
  original: Uint8Array,
  label: string,
  opts: QuantizeOptions,
  cal: CalibrationOptions,
): Promise<{ bytes: Uint8Array; report: QuantizeReport; calibration: CalibrationResult }> {
  const inputs = cal.sequential ? cal.inputs : sliceBatchInputs(cal.inputs, cal.maxRows ?? 64);
  const evaluate = async (bytes: Uint8Array): Promise<Outputs> => {
    const m = await loadModel({ bytes, label });
    try {
      return await runOn(m, inputs, cal.sequential);
    } finally {
      await m.close();
    }
  };
  const quantize = (o: QuantizeOptions) => {
    const r = quantizeOnnxModel(decodeOnnxModel(original, label), o);
    return { bytes: encodeOnnxModel(r.model), report: r.report };
  };
  const ref = await evaluate(original);
  let evaluations = 1;
  const full = quantize(opts);
  const fullScore = agreement(ref, await evaluate(full.bytes));
  evaluations++;
  cal.onProgress?.(`all quantized: agreement ${(fullScore.agreement * 100).toFixed(2)} %`);
  const result: CalibrationResult = { target: cal.target, agreementAll: fullScore.agreement, agreementFinal: fullScore.agreement, keptInFloat: [], evaluations };
  if (fullScore.agreement >= cal.target) return { bytes: full.bytes, report: full.report, calibration: result };

  // sensitivity of each quantized tensor alone
  const quantized = full.report.tensors.filter((t) => t.action !== 'kept');
  const sens: { key: string; name: string; graph?: string; agreement: number; error: number }[] = [];
  for (const t of quantized) {
    const key = constantKey(t.graph, t.name);
    const one = quantize({ ...opts, only: new Set([key]) });
    const s = agreement(ref, await evaluate(one.bytes));
    evaluations++;
    sens.push({ key, name: t.name, ...(t.graph ? { graph: t.graph } : {}), agreement: s.agreement, error: s.error });
  }
  sens.sort((a, b) => a.agreement - b.agreement || b.error - a.error);
  const maxKeep = cal.maxKeep ?? Math.max(1, Math.floor(quantized.length / 4));
  const half = new Map(opts.half ?? []);
  let best = full;
  let score = fullScore;
  for (const s of sens.slice(0, maxKeep)) {
    half.set(s.key, `sensitive: int8 alone lowers agreement to ${(s.agreement * 100).toFixed(2)} % on the calibration inputs; stored as FP16`);
    result.keptInFloat.push({ name: s.name, ...(s.graph ? { graph: s.graph } : {}), agreementAlone: s.agreement, errorAlone: s.error });
    best = quantize({ ...opts, half });
    score = agreement(ref, await evaluate(best.bytes));
    evaluations++;
    cal.onProgress?.(`kept ${result.keptInFloat.length} in float: agreement ${(score.agreement * 100).toFixed(2)} %`);
    if (score.agreement >= cal.target) break;
  }
  result.agreementFinal = score.agreement;
  result.evaluations = evaluations;
  return { bytes: best.bytes, report: best.report, calibration: result };
}
