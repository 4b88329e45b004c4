/**
 * `modelcdn dequantize IN -o OUT`: turn an int8 safetensors file (compressed-tensors layout, as
 * written by `modelcdn quantize`) back into dense F32 or F16 tensors. Thin layer over
 * src/optimize/quantize.
 */
import { defineCommand, flagString } from '../command.ts';
import { formatBytes } from '../output.ts';
import { inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'restore dense float tensors from an int8 safetensors file',
  positionals: [{ name: 'in', description: 'int8 safetensors file (weight I8 + weight_scale)', required: true }],
  flags: {
    output: { type: 'string', short: 'o', description: 'output safetensors file', placeholder: 'OUT' },
    dtype: { type: 'string', description: 'f32 | f16', default: 'f32' },
  },
  examples: ['modelcdn dequantize model.int8.safetensors -o model.safetensors', 'modelcdn dequantize model.int8.safetensors -o model.f16.safetensors --dtype f16'],
  json: true,
  async run(ctx) {
    const { dequantizeFile } = await import('../../optimize/quantize/index.ts');
    const out = flagString(ctx.flags, 'output');
    if (!out) throw inputError('MISSING_OUTPUT', 'dequantize: missing -o OUT', {}, 'see `modelcdn dequantize --help`');
    const dtype = flagString(ctx.flags, 'dtype')!.toLowerCase();
    if (dtype !== 'f32' && dtype !== 'f16') throw inputError('BAD_DTYPE', `--dtype must be f32 or f16, got '${dtype}'`);
    const r = await dequantizeFile(ctx.args['in'] as string, out, dtype === 'f32' ? 'F32' : 'F16');
    ctx.out.result(r, (x) => `${x.input}: INT8 ${formatBytes(x.sizeBefore)} → ${x.dtype} ${formatBytes(x.sizeAfter)} (${x.restored} tensors restored) → ${x.output}`);
  },
});
