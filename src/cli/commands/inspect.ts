/**
 * `modelcdn inspect FILE [--json]`: what a model file holds — format, tensor and parameter counts,
 * bytes per dtype, the largest tensors, and format facts (ONNX opset/producer, safetensors/GGUF
 * metadata, tfjs graph vs layers). Reads headers only; never modifies anything.
 */
import { defineCommand, flagNumber } from '../command.ts';
import { formatBytes, table } from '../output.ts';
import { inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'show the tensors and metadata of a model file (ONNX, safetensors, GGUF, TensorFlow.js)',
  description:
    'Detects the format from the content (a TensorFlow.js model.json, weights manifest, shard, or a directory holding one also works) and lists tensor count, parameter count, bytes per dtype, the largest tensors and format metadata. Only headers are read.',
  positionals: [{ name: 'file', description: 'model file, tfjs model.json / manifest, or a directory containing one', required: true }],
  flags: { top: { type: 'number', description: 'how many of the largest tensors to list', default: 10, placeholder: 'N' } },
  examples: ['modelcdn inspect model.onnx', 'modelcdn inspect ./movenet --json', 'modelcdn inspect llama.gguf --top 20'],
  json: true,
  async run(ctx) {
    const { readModelLayout } = await import('../../formats/layout.ts');
    const { summarizeLayout } = await import('../../formats/summary.ts');
    const file = ctx.args['file'] as string;
    const top = flagNumber(ctx.flags, 'top') ?? 10;
    if (!Number.isInteger(top) || top < 0) throw inputError('BAD_ARGUMENTS', `inspect: --top must be a non-negative integer, got ${top}`);
    const layout = await readModelLayout(file);
    if (layout.format === 'unknown') {
      throw inputError('UNKNOWN_FORMAT', `${file}: not a recognized model file (ONNX, safetensors, GGUF or TensorFlow.js)`, {}, 'pass a .onnx, .safetensors, .gguf file or a tfjs model.json / directory');
    }
    const s = summarizeLayout(layout, top);
    ctx.out.result({ file, ...s }, (v) => human(v));
  },
});

function fmtMeta(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 100 ? s.slice(0, 97) + '...' : s;
}

function human(v: { file: string } & import('../../formats/summary.ts').LayoutSummary): string[] {
  const m = v.meta;
  const lines = [
    `${v.file}`,
    `  format       ${v.format}${m['modelType'] ? ` (${m['modelType']})` : ''}`,
    `  size         ${formatBytes(v.size)} (${v.size} bytes)`,
    `  tensors      ${v.tensorCount}`,
    `  parameters   ${v.parameterCount.toLocaleString('en-US')}`,
    `  tensor data  ${formatBytes(v.tensorBytes)}; container ${formatBytes(v.containerBytes)}`,
  ];
  if (v.format === 'onnx') {
    if (m['opset'] !== undefined) lines.push(`  opset        ${m['opset']}`);
    if (m['producer']) lines.push(`  producer     ${m['producer']}`);
    if (m['irVersion'] !== undefined) lines.push(`  ir version   ${m['irVersion']}`);
    if (m['nodeCount'] !== undefined) lines.push(`  nodes        ${m['nodeCount']}`);
  }
  if (v.format === 'gguf') lines.push(`  gguf         v${m['version']}, alignment ${m['alignment']}${m['architecture'] ? `, architecture ${m['architecture']}` : ''}`);
  if (v.format === 'tfjs') {
    const shards = (m['shards'] as { path: string; size: number }[] | undefined) ?? [];
    lines.push(`  shards       ${shards.length} (${formatBytes(shards.reduce((a, s) => a + s.size, 0))})`);
    if (m['quantization']) lines.push(`  quantized    ${Object.entries(m['quantization'] as Record<string, number>).map(([k, n]) => `${n} × ${k}`).join(', ')}`);
    for (const k of ['generatedBy', 'convertedBy']) if (m[k]) lines.push(`  ${k.padEnd(12)} ${m[k]}`);
  }
  const md = (m['metadata'] ?? undefined) as Record<string, unknown> | undefined;
  if (md && Object.keys(md).length) {
    lines.push('', 'metadata:');
    for (const [k, x] of Object.entries(md)) lines.push(`  ${k} = ${fmtMeta(x)}`);
  }
  lines.push('', table(['dtype', 'tensors', 'parameters', 'bytes'], Object.entries(v.dtypes).sort((a, b) => b[1].bytes - a[1].bytes).map(([d, x]) => [d, x.count, x.parameters, formatBytes(x.bytes)])));
  if (v.largest.length) {
    lines.push('', `largest ${v.largest.length} tensors:`);
    lines.push(table(['name', 'dtype', 'shape', 'bytes'], v.largest.map((t) => [t.name.length > 60 ? '…' + t.name.slice(-59) : t.name, t.dtype, `[${t.shape.join(',')}]`, formatBytes(t.bytes)])));
  }
  return lines;
}
