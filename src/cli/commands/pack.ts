/**
 * `modelcdn pack IN -o OUT.mcz`: tensor-aware lossless packing (or a plain zstd/gzip/brotli stream
 * with --codec). Thin CLI adapter over src/codec; writes only the output path (atomically).
 */
import { defineCommand, flagNumber, flagString } from '../command.ts';
import { McdnError } from '../../errors.ts';
import { formatBytes } from '../output.ts';

const CODECS = ['mcz', 'zstd', 'gzip', 'br'] as const;

export default defineCommand({
  summary: 'pack a model file losslessly (.mcz: tensor-aware chunks; or plain zstd/gzip/br)',
  description:
    'The .mcz container splits tensor data into chunks of at most 4 MiB aligned to tensors, groups the bytes of ' +
    'each element into planes (FP32 → 4, FP16/BF16 → 2) and keeps, per chunk, the smallest of byte planes + zstd, ' +
    'plain zstd, a sparse mode for mostly-zero chunks, or the raw bytes. Every chunk carries its sha256; ' +
    '`modelcdn unpack` restores the file byte for byte. --codec zstd|gzip|br writes a standard stream instead ' +
    '(decodable by zstd -d, gunzip, brotli -d). Spec: docs/spec/mcz.md.',
  positionals: [{ name: 'in', description: 'the file to pack', required: true }],
  flags: {
    output: { type: 'string', short: 'o', description: 'output path (default: IN.mcz / IN.zst / IN.gz / IN.br)', placeholder: 'OUT' },
    level: { type: 'number', description: 'compression level (mcz default 3; zstd 19, gzip 9, br 11)', placeholder: 'N' },
    codec: { type: 'string', description: 'mcz | zstd | gzip | br', default: 'mcz', placeholder: 'CODEC' },
    effort: {
      type: 'string',
      description: 'mcz: fast (no retries) | default (chunks < 60 % retried at zstd 19, files ≤ 256 MiB) | max (chunks < 70 % also try brotli 11; slow)',
      default: 'default',
      placeholder: 'E',
    },
  },
  examples: ['modelcdn pack model.onnx -o model.onnx.mcz', 'modelcdn pack weights.bin --effort max', 'modelcdn pack model.onnx --codec br -o model.onnx.br --json'],
  json: true,
  async run(ctx) {
    const input = ctx.args['in'] as string;
    const codec = flagString(ctx.flags, 'codec') ?? 'mcz';
    if (!(CODECS as readonly string[]).includes(codec)) {
      throw new McdnError('BAD_CODEC', 'input', `pack: unknown codec '${codec}'`, { remedy: `use one of ${CODECS.join(', ')}` });
    }
    const ext = { mcz: '.mcz', zstd: '.zst', gzip: '.gz', br: '.br' }[codec as (typeof CODECS)[number]];
    const output = flagString(ctx.flags, 'output') ?? input + ext;
    const level = flagNumber(ctx.flags, 'level');
    const effort = flagString(ctx.flags, 'effort') ?? 'default';
    const boosts = { fast: 'off', default: undefined, max: 'max' } as const;
    if (!(effort in boosts)) throw new McdnError('BAD_EFFORT', 'input', `pack: unknown effort '${effort}'`, { remedy: 'use fast, default or max' });
    const boost = boosts[effort as keyof typeof boosts];
    const { packFile } = await import('../../codec/index.ts');
    const bar = ctx.out.progress(`pack ${codec}`, 0);
    const r = await packFile(input, output, {
      codec: codec as (typeof CODECS)[number],
      ...(level !== undefined ? { level } : {}),
      ...(boost ? { boost } : {}),
      signal: ctx.signal,
      onProgress: (done, total) => {
        bar.setTotal(total);
        bar.set(done);
      },
    });
    bar.done();
    for (const w of r.warnings) ctx.out.warn(`warning: ${w}`);
    const ratio = r.originalSize > 0 ? r.packedSize / r.originalSize : 1;
    ctx.out.result(
      {
        input,
        output,
        codec: r.codec,
        format: r.format,
        originalSize: r.originalSize,
        packedSize: r.packedSize,
        ratio: Number(ratio.toFixed(4)),
        sha256: r.sha256,
        chunks: r.chunks.length,
        methods: r.methods,
      },
      (v) => {
        const lines = [`${input} → ${output}: ${formatBytes(v.originalSize)} → ${formatBytes(v.packedSize)} (${(ratio * 100).toFixed(1)} %, ${v.codec}${v.codec === 'mcz' ? `, ${v.format}, ${v.chunks} chunks` : ''})`];
        for (const [m, s] of Object.entries(v.methods)) {
          lines.push(`  ${m.padEnd(7)} ${String(s.chunks).padStart(5)} chunks  ${formatBytes(s.raw).padStart(9)} → ${formatBytes(s.packed).padStart(9)}`);
        }
        return lines;
      },
    );
  },
});
