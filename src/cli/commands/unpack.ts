/**
 * `modelcdn unpack IN.mcz -o OUT`: restore a packed file byte for byte (also .zst/.gz/.br streams).
 * Every chunk and the whole file are verified by sha256 before the output is renamed into place;
 * a corrupt input leaves no output file. Thin CLI adapter over src/codec.
 */
import { defineCommand, flagString } from '../command.ts';
import { formatBytes } from '../output.ts';

export default defineCommand({
  summary: 'unpack a .mcz (or .zst/.gz/.br) file back to the original bytes, verified',
  description:
    'Decodes chunk by chunk, checks every chunk\'s sha256 and the original file\'s sha256, and only then renames ' +
    'the output into place. A corrupted or truncated input gives one error naming the file and the chunk.',
  positionals: [{ name: 'in', description: 'the packed file', required: true }],
  flags: {
    output: { type: 'string', short: 'o', description: 'output path (default: IN without its .mcz/.zst/.gz/.br suffix)', placeholder: 'OUT' },
  },
  examples: ['modelcdn unpack model.onnx.mcz -o model.onnx'],
  json: true,
  async run(ctx) {
    const input = ctx.args['in'] as string;
    const stripped = input.replace(/\.(mcz|zst|gz|br)$/, '');
    const output = flagString(ctx.flags, 'output') ?? (stripped !== input ? stripped : input + '.out');
    const { unpackFile } = await import('../../codec/index.ts');
    const bar = ctx.out.progress('unpack', 0);
    const r = await unpackFile(input, output, {
      signal: ctx.signal,
      onProgress: (done, total) => {
        bar.setTotal(total);
        bar.set(done);
      },
    });
    bar.done();
    ctx.out.result({ input, output, codec: r.codec, size: r.size, sha256: r.sha256 }, (v) => `${input} → ${output}: ${formatBytes(v.size)} (${v.codec}), sha256 ${v.sha256} verified`);
  },
});
