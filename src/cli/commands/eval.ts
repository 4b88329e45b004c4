/**
 * `modelcdn eval A B`: run two ONNX models on the same inputs in onnxruntime-node and report how
 * closely their outputs agree (cosine, max/mean abs error, argmax agreement). Thin CLI layer over
 * src/optimize/eval; writes no files.
 */
import { defineCommand, flagBool, flagNumber, flagString } from '../command.ts';
import { table } from '../output.ts';
import { inputError } from '../../errors.ts';

const fmt = (v: number | null, digits = 6) => (v === null ? '-' : Number.isInteger(v) ? String(v) : v.toPrecision(digits));
const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(2)} %`);

export default defineCommand({
  summary: 'compare two ONNX models on the same inputs (cosine, abs error, argmax agreement)',
  description:
    'Runs A and B in onnxruntime-node (CPU, graphOptimizationLevel basic unless --opt-level) on the tensors of a ' +
    'safetensors file (tensor names = model input names, first dim = batch), or on seeded random inputs built from the ' +
    'declared shapes when --inputs is absent. --sequential runs one row at a time and feeds recurrent state outputs ' +
    '(hn→h, stateN→state, *_out→*) back as inputs.',
  positionals: [
    { name: 'a', description: 'reference ONNX model', required: true },
    { name: 'b', description: 'ONNX model to compare (e.g. the quantized one)', required: true },
  ],
  flags: {
    inputs: { type: 'string', description: 'safetensors file of input tensors', placeholder: 'FILE' },
    sequential: { type: 'boolean', description: 'run row by row, feeding state outputs back' },
    state: { type: 'string', multiple: true, description: 'explicit state pair OUTPUT=INPUT (repeatable)', placeholder: 'OUT=IN' },
    set: { type: 'string', multiple: true, description: 'fill input NAME with a constant, e.g. sr=16000 (repeatable)', placeholder: 'NAME=V' },
    shape: { type: 'string', multiple: true, description: 'shape of a random input, e.g. input=8x512 (repeatable)', placeholder: 'NAME=AxB' },
    seed: { type: 'number', description: 'seed of random inputs', default: 1 },
    rows: { type: 'number', description: 'batch rows of random inputs (steps with --sequential)' },
    'batch-size': { type: 'number', description: 'rows per runtime call (batched mode)', default: 16 },
    threshold: { type: 'number', description: 'decision threshold for single-score outputs (last dim 1)', default: 0.5 },
    'opt-level': { type: 'string', description: 'onnxruntime graphOptimizationLevel: disabled|basic|extended|all', default: 'basic' },
    threads: { type: 'number', description: 'onnxruntime intra-op threads', default: 1 },
  },
  examples: [
    'modelcdn eval model.onnx model.int8.onnx',
    'modelcdn eval silero_vad.onnx vad.int8.onnx --inputs .tmp/inputs/vad.safetensors --sequential --json',
    'modelcdn eval vad.onnx vad.int8.onnx --sequential --set sr=16000 --shape input=20x512',
  ],
  json: true,
  async run(ctx) {
    const { evaluatePair } = await import('../../optimize/eval/index.ts');
    const { parseShapes, parseValues, parseStatePairs } = await import('../../optimize/eval/cli-args.ts');
    const list = (k: string) => (ctx.flags[k] as string[] | undefined) ?? [];
    const level = flagString(ctx.flags, 'opt-level')!;
    if (!['disabled', 'basic', 'extended', 'all'].includes(level)) {
      throw inputError('EVAL_BAD_FLAG', `--opt-level must be disabled, basic, extended or all, got '${level}'`);
    }
    const threads = flagNumber(ctx.flags, 'threads')!;
    const batchSize = flagNumber(ctx.flags, 'batch-size')!;
    const rows = flagNumber(ctx.flags, 'rows');
    for (const [k, v] of [['threads', threads], ['batch-size', batchSize], ['rows', rows ?? 1]] as const) {
      if (!Number.isInteger(v) || v < 1) throw inputError('EVAL_BAD_FLAG', `--${k} must be a positive integer, got ${v}`);
    }
    const inputsPath = flagString(ctx.flags, 'inputs');
    let inputs;
    if (inputsPath) {
      const { loadInputsFile } = await import('../../optimize/eval/inputs-file.ts');
      inputs = await loadInputsFile(inputsPath);
    }
    const report = await evaluatePair(ctx.args['a'] as string, ctx.args['b'] as string, {
      ...(inputs ? { inputs, inputsPath: inputsPath! } : {}),
      sequential: flagBool(ctx.flags, 'sequential'),
      state: parseStatePairs(list('state')),
      values: parseValues(list('set')),
      shapes: parseShapes(list('shape')),
      seed: flagNumber(ctx.flags, 'seed')!,
      ...(rows !== undefined ? { randomBatch: rows } : {}),
      batchSize,
      threshold: flagNumber(ctx.flags, 'threshold')!,
      settings: { graphOptimizationLevel: level as 'basic', intraOpNumThreads: threads, executionProvider: 'cpu' },
      signal: ctx.signal,
    });
    ctx.out.result(report, (r) => [
      `runtime: ${r.runtime.name} ${r.runtime.version}, ${r.runtime.executionProvider} EP, graphOptimizationLevel=${r.runtime.graphOptimizationLevel}, ${r.runtime.intraOpNumThreads} thread(s)`,
      r.inputs.source === 'random'
        ? `inputs: RANDOM (seed ${r.inputs.seed}; pass --inputs FILE.safetensors for real data): ${r.inputs.tensors.join('; ')}`
        : `inputs: ${r.inputs.path}: ${r.inputs.tensors.join('; ')}`,
      `mode: ${r.mode}${r.statePairs.length ? ` (state fed back: ${r.statePairs.map((p) => `${p.output}→${p.input}`).join(', ')})` : ''}, ${r.rows} row(s)`,
      '',
      table(
        ['output', 'shape', 'cosine', 'max abs err', 'mean abs err', 'argmax agree', `decision agree`],
        r.outputs.map((o) => [
          o.name,
          o.shape.join('x'),
          fmt(o.cosine, 8),
          fmt(o.maxAbsError, 4),
          fmt(o.meanAbsError, 4),
          o.argmaxAgreement === null ? '-' : `${pct(o.argmaxAgreement)} of ${o.rows}`,
          o.thresholdAgreement === null ? '-' : `${pct(o.thresholdAgreement)} (>${o.threshold})`,
        ]),
      ),
      ...(r.unmatchedOutputs.length ? [`outputs in only one model (not compared): ${r.unmatchedOutputs.join(', ')}`] : []),
    ]);
  },
});
