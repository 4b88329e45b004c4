/**
 * `modelcdn patch OLD PATCH -o NEW`: apply a patch made by `modelcdn diff` (or a BSDIFF40 file made
 * by bsdiff). OLD's sha256 is checked first (a wrong base writes nothing); NEW is streamed into a
 * temp file beside the target and renamed into place only after its sha256 matches.
 */
import { defineCommand, flagString } from '../command.ts';
import { formatBytes } from '../output.ts';
import { McdnError } from '../../errors.ts';

export default defineCommand({
  summary: 'apply a delta patch to OLD, writing NEW (verified by sha256)',
  positionals: [
    { name: 'old', description: 'the file the patch was made from', required: true },
    { name: 'patch', description: 'patch file (modelcdn patch container or BSDIFF40)', required: true },
  ],
  flags: {
    output: { type: 'string', short: 'o', description: 'where to write the new file', placeholder: 'NEW' },
  },
  json: true,
  examples: ['modelcdn patch v1.onnx v1-v2.patch -o v2.onnx', 'modelcdn patch old.bin p.bsdiff -o new.bin --json'],
  async run(ctx) {
    const out = flagString(ctx.flags, 'output');
    if (!out) throw new McdnError('BAD_ARGUMENTS', 'input', 'patch: missing -o NEW', { remedy: 'see `modelcdn patch --help`' });
    const { applyPatch } = await import('../../delta/index.ts');
    const t0 = performance.now();
    const r = await applyPatch(String(ctx.args['old']), String(ctx.args['patch']), out);
    const ms = Math.round(performance.now() - t0);
    ctx.out.result({ output: out, ...r, ms }, (v) => `wrote ${out}: ${formatBytes(v.size)}, sha256 ${v.sha256} (${v.method} patch, ${ms} ms)`);
  },
});
