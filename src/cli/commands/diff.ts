/**
 * `modelcdn diff OLD NEW -o PATCH`: make a delta patch (tensor, binary, bsdiff, or auto = the
 * smallest). In auto mode, when no patch beats the packed full file, nothing is written and the
 * command exits with EXIT_NO_BENEFIT (10) so scripts download the full file instead. Writes only
 * the patch path (temp file + rename); all work is done by src/delta.
 */
import { defineCommand, flagNumber, flagString } from '../command.ts';
import { formatBytes } from '../output.ts';
import { EXIT_NO_BENEFIT, McdnError } from '../../errors.ts';

const METHODS = ['auto', 'tensor', 'binary', 'bsdiff'] as const;

export default defineCommand({
  summary: 'make a delta patch from OLD to NEW (tensor-aware, zstd patch-from, or bsdiff)',
  description: [
    'Methods: tensor (tensors matched by name/content; XOR or difference of bit patterns, byte planes, zstd),',
    'binary (zstd with OLD as reference, any file), bsdiff (a plain BSDIFF40 file Debian\'s bspatch applies),',
    'auto (tries what fits, keeps the smallest). In auto mode, if no patch is smaller than the packed full',
    `file, nothing is written and the exit code is ${EXIT_NO_BENEFIT} (download the full file instead).`,
  ].join('\n'),
  positionals: [
    { name: 'old', description: 'the version the client has', required: true },
    { name: 'new', description: 'the version to update to', required: true },
  ],
  flags: {
    output: { type: 'string', short: 'o', description: 'patch file to write', placeholder: 'PATCH' },
    method: { type: 'string', description: `one of ${METHODS.join(', ')}`, default: 'auto', placeholder: 'METHOD' },
    level: { type: 'number', description: 'zstd level for tensor/binary payloads', default: 19 },
    'full-size': { type: 'number', description: 'packed size of NEW to compare against in auto mode (default: pack NEW with the codec and measure)', placeholder: 'BYTES' },
  },
  json: true,
  examples: ['modelcdn diff v1.onnx v2.onnx -o v1-v2.patch', 'modelcdn diff old.bin new.bin -o p.bsdiff --method bsdiff', 'modelcdn diff a.safetensors b.safetensors -o p --json'],
  async run(ctx) {
    const out = flagString(ctx.flags, 'output');
    if (!out) throw new McdnError('BAD_ARGUMENTS', 'input', 'diff: missing -o PATCH', { remedy: 'see `modelcdn diff --help`' });
    const method = flagString(ctx.flags, 'method') ?? 'auto';
    if (!(METHODS as readonly string[]).includes(method)) {
      throw new McdnError('BAD_ARGUMENTS', 'input', `diff: unknown method '${method}'`, { remedy: `use one of ${METHODS.join(', ')}` });
    }
    const level = flagNumber(ctx.flags, 'level') ?? 19;
    if (!Number.isInteger(level) || level < 1 || level > 22) throw new McdnError('BAD_ARGUMENTS', 'input', `diff: --level ${level} is out of range 1..22`);
    const full = flagNumber(ctx.flags, 'full-size');
    const { makePatch } = await import('../../delta/index.ts');
    const r = await makePatch(String(ctx.args['old']), String(ctx.args['new']), out, {
      method: method as (typeof METHODS)[number],
      level,
      ...(full !== undefined ? { fullPackedSize: full } : {}),
    });
    const pct = (n: number) => (r.newSize ? ((100 * n) / r.newSize).toFixed(2) : '0.00') + ' %';
    ctx.out.result({ ...r, output: r.beneficial ? out : null }, (v) => [
      ...v.candidates.map((c) => `  ${c.method.padEnd(7)} ${formatBytes(c.size).padStart(9)}  ${pct(c.size).padStart(9)} of new  ${c.ms} ms`),
      v.beneficial
        ? `wrote ${out}: ${v.method} patch, ${formatBytes(v.size)} (${pct(v.size)} of ${formatBytes(v.newSize)})`
        : `no patch is smaller than the packed full file (${formatBytes(v.fullPackedSize ?? 0)}); nothing written — download the full file`,
    ]);
    return r.beneficial ? 0 : EXIT_NO_BENEFIT;
  },
});
