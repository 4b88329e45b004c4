/**
 * `modelcdn prune IN -o OUT --sparsity 0.5`: magnitude pruning of weight matrices and conv kernels
 * (global or per-tensor threshold, or 2:4 semi-structured), output in the same format. Thin layer
 * over src/optimize/prune.
 */
import { defineCommand, flagNumber, flagString } from '../command.ts';
import { formatBytes } from '../output.ts';
import { inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'zero the smallest weights (magnitude pruning), same format out',
  description:
    'Prunes weight matrices and conv kernels only (biases, norms, embeddings and small tensors are kept and listed in ' +
    '--report). --scope global uses one magnitude threshold for all tensors, per-tensor one per tensor; --pattern 2:4 ' +
    'keeps the 2 largest of every 4 weights along the input axis (50 %). The output runs unchanged; pack it ' +
    '(`modelcdn pack`) to turn zeros into bytes saved.',
  positionals: [{ name: 'in', description: 'model file (.onnx, .safetensors, .gguf, TF.js model.json or directory)', required: true }],
  flags: {
    output: { type: 'string', short: 'o', description: 'output file (TF.js: directory or model.json path)', placeholder: 'OUT' },
    sparsity: { type: 'string', description: 'fraction of weights to zero, 0 ≤ s < 1 (2:4: 0.5)', placeholder: 'S' },
    scope: { type: 'string', description: 'global | per-tensor', default: 'global' },
    pattern: { type: 'string', description: 'unstructured | 2:4', default: 'unstructured' },
    exclude: { type: 'string', description: 'keep tensors whose name matches this regular expression', placeholder: 'REGEX' },
    'min-elements': { type: 'number', description: 'keep tensors with fewer elements', default: 1024 },
    report: { type: 'string', description: 'write the per-tensor report as JSON', placeholder: 'FILE.json' },
  },
  examples: ['modelcdn prune model.onnx -o model.p50.onnx --sparsity 0.5', 'modelcdn prune model.safetensors -o model.24.safetensors --pattern 2:4 --exclude "lm_head"'],
  json: true,
  async run(ctx) {
    const { pruneFile, checkSparsity } = await import('../../optimize/prune/index.ts');
    const { parseExclude, checkMinElements, writeJsonReport } = await import('../../optimize/cli-shared.ts');
    const out = flagString(ctx.flags, 'output');
    if (!out) throw inputError('MISSING_OUTPUT', 'prune: missing -o OUT', {}, 'see `modelcdn prune --help`');
    const pattern = flagString(ctx.flags, 'pattern')!;
    if (pattern !== 'unstructured' && pattern !== '2:4') throw inputError('BAD_PATTERN', `--pattern must be unstructured or 2:4, got '${pattern}'`);
    const scope = flagString(ctx.flags, 'scope')!;
    if (scope !== 'global' && scope !== 'per-tensor') throw inputError('BAD_SCOPE', `--scope must be global or per-tensor, got '${scope}'`);
    const raw = flagString(ctx.flags, 'sparsity');
    if (raw === undefined && pattern !== '2:4') throw inputError('BAD_SPARSITY', 'prune: --sparsity is required (e.g. --sparsity 0.5)');
    const sparsity = raw === undefined ? 0.5 : checkSparsity(raw.trim() === '' ? NaN : Number(raw));
    const exclude = parseExclude(flagString(ctx.flags, 'exclude'));
    const r = await pruneFile(ctx.args['in'] as string, out, {
      sparsity,
      scope,
      pattern,
      minElements: checkMinElements(flagNumber(ctx.flags, 'min-elements')),
      ...(exclude ? { exclude } : {}),
    });
    const reportPath = flagString(ctx.flags, 'report');
    if (reportPath) await writeJsonReport(reportPath, r);
    const n = r.tensors.filter((t) => t.action === 'pruned').length;
    ctx.out.result({ ...r, report: reportPath ?? null }, (x) => [
      `${x.input}: ${(100 * x.zeros / Math.max(1, x.prunedTensorElements)).toFixed(1)} % of ${x.prunedTensorElements.toLocaleString('en-US')} weights in ${n} tensors are zero ` +
        `(${pattern === '2:4' ? '2:4' : `${scope}, target ${(sparsity * 100).toFixed(0)} %`}); ${formatBytes(x.sizeBefore)} → ${formatBytes(x.sizeAfter)} → ${x.output}`,
      `${x.tensors.length - n} tensors kept${reportPath ? `; report: ${reportPath}` : ''}; pack the output to turn zeros into savings`,
    ]);
  },
});
