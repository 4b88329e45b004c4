/**
 * `modelcdn optimize IN -o OUT.mcz --quantize int8 [--prune 0.5]`: prune, quantize and pack in one
 * step, ending with one line such as `FP32 10.8 MB → INT8 2.8 MB → packed 2.4 MB`. Thin layer over
 * src/optimize/pipeline.
 */
import { defineCommand, flagBool, flagNumber, flagString } from '../command.ts';
import { formatBytes } from '../output.ts';
import { inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'prune + quantize + pack a model in one step (→ .mcz)',
  positionals: [{ name: 'in', description: 'model file (.onnx, .safetensors, .gguf)', required: true }],
  flags: {
    output: { type: 'string', short: 'o', description: 'packed output (.mcz)', placeholder: 'OUT.mcz' },
    quantize: { type: 'string', description: 'int8 | fp16 | bf16 | none', default: 'int8' },
    granularity: { type: 'string', description: 'per-channel | per-tensor | per-block (int8)', default: 'per-channel' },
    plain: { type: 'boolean', description: 'int8 per-channel: no default sensitivity rules (FP16 for weights feeding Log/Reciprocal/Div denominators, per-block where the per-channel error > 1 %)' },
    prune: { type: 'string', description: 'prune this fraction of weights first (e.g. 0.5)', placeholder: 'S' },
    scope: { type: 'string', description: 'pruning scope: global | per-tensor', default: 'global' },
    pattern: { type: 'string', description: 'pruning pattern: unstructured | 2:4', default: 'unstructured' },
    exclude: { type: 'string', description: 'leave tensors whose name matches this regular expression', placeholder: 'REGEX' },
    'min-elements': { type: 'number', description: 'leave tensors with fewer elements', default: 1024 },
    level: { type: 'number', description: 'zstd level for packing' },
    'model-out': { type: 'string', description: 'also write the optimized (unpacked) model here', placeholder: 'FILE' },
  },
  examples: ['modelcdn optimize model.onnx -o model.mcz --quantize int8', 'modelcdn optimize model.onnx -o model.mcz --quantize int8 --prune 0.5 --model-out model.int8.onnx'],
  json: true,
  async run(ctx) {
    const { optimizeFile } = await import('../../optimize/pipeline.ts');
    const { checkSparsity } = await import('../../optimize/prune/index.ts');
    const { parseExclude, checkMinElements, SCHEME_LABEL } = await import('../../optimize/cli-shared.ts');
    const out = flagString(ctx.flags, 'output');
    if (!out) throw inputError('MISSING_OUTPUT', 'optimize: missing -o OUT.mcz', {}, 'see `modelcdn optimize --help`');
    const q = flagString(ctx.flags, 'quantize')!;
    if (!['int8', 'fp16', 'bf16', 'none'].includes(q)) throw inputError('BAD_SCHEME', `--quantize must be int8, fp16, bf16 or none, got '${q}'`);
    const granularity = flagString(ctx.flags, 'granularity')!;
    if (!['per-channel', 'per-tensor', 'per-block'].includes(granularity)) throw inputError('BAD_GRANULARITY', `--granularity must be per-channel, per-tensor or per-block, got '${granularity}'`);
    const scope = flagString(ctx.flags, 'scope')!;
    const pattern = flagString(ctx.flags, 'pattern')!;
    if (scope !== 'global' && scope !== 'per-tensor') throw inputError('BAD_SCOPE', `--scope must be global or per-tensor, got '${scope}'`);
    if (pattern !== 'unstructured' && pattern !== '2:4') throw inputError('BAD_PATTERN', `--pattern must be unstructured or 2:4, got '${pattern}'`);
    const p = flagString(ctx.flags, 'prune');
    const sparsity = p === undefined ? undefined : checkSparsity(p.trim() === '' ? NaN : Number(p));
    const exclude = parseExclude(flagString(ctx.flags, 'exclude'));
    const level = flagNumber(ctx.flags, 'level');
    const modelOut = flagString(ctx.flags, 'model-out');
    const r = await optimizeFile(ctx.args['in'] as string, out, {
      quantize: q as 'int8',
      granularity: granularity as 'per-channel',
      ...(flagBool(ctx.flags, 'plain') ? { plain: true } : {}),
      ...(sparsity !== undefined ? { prune: { sparsity, scope, pattern } } : {}),
      ...(exclude ? { exclude } : {}),
      minElements: checkMinElements(flagNumber(ctx.flags, 'min-elements')),
      ...(level !== undefined ? { level } : {}),
      ...(modelOut ? { modelOut } : {}),
      signal: ctx.signal,
    });
    const mid = [r.pruned ? `pruned ${Math.round(r.pruned.sparsity * 100)} %` : '', r.scheme !== 'none' ? SCHEME_LABEL[r.scheme] : ''].filter(Boolean).join(' + ');
    ctx.out.result(r, (x) => `${x.sourceDType} ${formatBytes(x.sizeOriginal)} → ${mid} ${formatBytes(x.sizeOptimized)} → packed ${formatBytes(x.sizePacked)} (${(x.sizeOriginal / x.sizePacked).toFixed(2)}x smaller) → ${x.output}`);
  },
});
