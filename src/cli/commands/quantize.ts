/**
 * `modelcdn quantize IN -o OUT`: weight-only INT8 (per output channel by default), FP16 or BF16 for
 * ONNX, safetensors, GGUF and TF.js models; prints size before → after and can write a per-tensor
 * report. Thin layer over src/optimize/quantize.
 */
import { defineCommand, flagBool, flagNumber, flagString } from '../command.ts';
import { formatBytes } from '../output.ts';
import { inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'shrink a model: INT8 weight-only quantization, or FP16/BF16 casts',
  description:
    'ONNX: int8 weights + scales dequantized in the graph (DequantizeLinear at opset ≥ 13, Cast+Mul below), ' +
    'fp16/bf16 constants with in-graph Casts; the result runs unchanged in onnxruntime (checked before writing). ' +
    'safetensors: compressed-tensors int-quantized layout (weight I8 + weight_scale). GGUF: Q8_0. ' +
    'TF.js: uint8 affine / float16 in the weights manifest. Biases, normalization parameters, integer and small ' +
    'tensors stay; --report lists every tensor with what was done or why not. ONNX int8 per-channel (the default) ' +
    'applies data-free sensitivity rules unless --plain: FP16 for weights whose output reaches Log/Reciprocal/a Div ' +
    'denominator, per-block scales for weights whose per-channel error exceeds 1 % (reported as "sensitive: …").',
  positionals: [{ name: 'in', description: 'model file (.onnx, .safetensors, .gguf, TF.js model.json or its directory)', required: true }],
  flags: {
    output: { type: 'string', short: 'o', description: 'output file (TF.js: directory or model.json path)', placeholder: 'OUT' },
    scheme: { type: 'string', description: 'int8 | fp16 | bf16', default: 'int8' },
    granularity: { type: 'string', description: 'per-channel | per-tensor | per-block (int8; per-block: ONNX, one scale per channel and --block-size inputs)', default: 'per-channel' },
    plain: { type: 'boolean', description: 'int8 per-channel: no default sensitivity rules (FP16 for weights feeding Log/Reciprocal/Div denominators, per-block where the per-channel error > 1 %)' },
    'block-size': { type: 'number', description: 'per-block: values per scale along the input axis', default: 64 },
    exclude: { type: 'string', description: 'keep tensors whose name matches this regular expression', placeholder: 'REGEX' },
    'min-elements': { type: 'number', description: 'keep tensors with fewer elements', default: 1024 },
    report: { type: 'string', description: 'write the per-tensor report as JSON', placeholder: 'FILE.json' },
    calibrate: { type: 'string', description: 'ONNX int8: inputs (safetensors) to measure agreement on; the most damaging tensors are stored as FP16 until --target is met', placeholder: 'FILE' },
    sequential: { type: 'boolean', description: 'with --calibrate: run row by row feeding state back (recurrent models)' },
    target: { type: 'number', description: 'with --calibrate: required argmax/decision agreement', default: 0.995 },
    'calib-rows': { type: 'number', description: 'with --calibrate: rows used (batched mode)', default: 64 },
  },
  examples: [
    'modelcdn quantize model.onnx -o model.int8.onnx',
    'modelcdn quantize model.safetensors -o model.int8.safetensors --report report.json',
    'modelcdn quantize model.onnx -o model.fp16.onnx --scheme fp16',
    'modelcdn quantize llama.gguf -o llama.q8_0.gguf',
  ],
  json: true,
  async run(ctx) {
    const { quantizeFile } = await import('../../optimize/quantize/index.ts');
    const { parseExclude, checkMinElements, writeJsonReport, SCHEME_LABEL, ratio, sourceLabel } = await import('../../optimize/cli-shared.ts');
    const out = flagString(ctx.flags, 'output');
    if (!out) throw inputError('MISSING_OUTPUT', 'quantize: missing -o OUT', {}, 'see `modelcdn quantize --help`');
    const scheme = flagString(ctx.flags, 'scheme')!;
    if (!['int8', 'fp16', 'bf16'].includes(scheme)) throw inputError('BAD_SCHEME', `--scheme must be int8, fp16 or bf16, got '${scheme}'`);
    const granularity = flagString(ctx.flags, 'granularity')!;
    if (!['per-channel', 'per-tensor', 'per-block'].includes(granularity)) throw inputError('BAD_GRANULARITY', `--granularity must be per-channel, per-tensor or per-block, got '${granularity}'`);
    const blockSize = flagNumber(ctx.flags, 'block-size')!;
    if (!Number.isInteger(blockSize) || blockSize < 2) throw inputError('BAD_BLOCK_SIZE', `--block-size must be an integer ≥ 2, got ${blockSize}`);
    const exclude = parseExclude(flagString(ctx.flags, 'exclude'));
    const calPath = flagString(ctx.flags, 'calibrate');
    let cal;
    if (calPath) {
      const target = flagNumber(ctx.flags, 'target')!;
      if (!(target > 0 && target <= 1)) throw inputError('BAD_TARGET', `--target must be in (0, 1], got ${target}`);
      const rows = flagNumber(ctx.flags, 'calib-rows')!;
      if (!Number.isInteger(rows) || rows < 1) throw inputError('BAD_CALIB_ROWS', `--calib-rows must be a positive integer, got ${rows}`);
      const { loadInputsFile } = await import('../../optimize/eval/inputs-file.ts');
      cal = { inputs: await loadInputsFile(calPath), sequential: flagBool(ctx.flags, 'sequential'), target, maxRows: rows, onProgress: (m: string) => ctx.out.warn(`calibrate: ${m}`) };
    }
    const res = await quantizeFile(ctx.args['in'] as string, out, {
      scheme: scheme as 'int8',
      granularity: granularity as 'per-channel',
      ...(flagBool(ctx.flags, 'plain') ? { plain: true } : {}),
      minElements: checkMinElements(flagNumber(ctx.flags, 'min-elements')),
      blockSize,
      ...(exclude ? { exclude } : {}),
    }, cal);
    const reportPath = flagString(ctx.flags, 'report');
    if (reportPath) await writeJsonReport(reportPath, { input: res.input, output: res.output, sizeBefore: res.sizeBefore, sizeAfter: res.sizeAfter, ...res.report });
    const unsupported = res.report.tensors.filter((t) => t.action === 'kept' && /not supported|unsupported|not a weight input|exceed/.test(t.reason ?? ''));
    ctx.out.result(
      { ...res, report: reportPath ?? null, summary: { quantized: res.quantized, kept: res.kept, method: res.report.method } },
      (r) => [
        `${r.input}: ${sourceLabel(res.report.tensors)} ${formatBytes(r.sizeBefore)} → ${SCHEME_LABEL[scheme]} ${formatBytes(r.sizeAfter)} (${ratio(r.sizeBefore, r.sizeAfter)} smaller) → ${r.output}`,
        `${r.quantized} tensors quantized (${res.report.method}), ${r.kept} kept` +
          (unsupported.length ? `; ${unsupported.length} kept for unsupported dtype/op (see --report)` : '') +
          (reportPath ? `; report: ${reportPath}` : ''),
        ...(r.calibration
          ? [`calibration: agreement ${(r.calibration.agreementAll * 100).toFixed(2)} % all-int8 → ${(r.calibration.agreementFinal * 100).toFixed(2)} % with ${r.calibration.keptInFloat.length} sensitive tensor(s) in FP16 (${r.calibration.keptInFloat.map((k) => k.name).join(', ') || 'none'})`]
          : []),
      ],
    );
  },
});
