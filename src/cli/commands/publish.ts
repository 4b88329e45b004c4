/**
 * `modelcdn publish PATH... --name N --version V`: upload files to an origin (resumable, streamed),
 * commit them as a version and wait for the origin's background job (formats, precompression,
 * packing, patches, signing) to make it visible. Thin CLI layer over src/cdn/origin/publish-client.ts.
 */
import { defineCommand, flagBool, flagString } from '../command.ts';
import { inputError } from '../../errors.ts';
import { formatBytes } from '../output.ts';

export default defineCommand({
  summary: 'publish files as a new model version on an origin',
  description:
    'Each PATH is a file (published under its base name) or a directory (its files, by relative path). Files are ' +
    'hashed, uploaded in chunks (an interrupted upload resumes from what the origin already has; blobs it already ' +
    'stores are not sent again), committed with their sha256s, and processed by a background job on the origin. The ' +
    'version becomes visible — and the channel moves to it — only when that job is done. Needs a publish token ' +
    '(--token or MODELCDN_TOKEN; create one with `modelcdn token create`).',
  positionals: [{ name: 'paths', description: 'files or directories to publish', required: true, variadic: true }],
  flags: {
    name: { type: 'string', description: 'model name', placeholder: 'NAME' },
    version: { type: 'string', description: 'version (immutable once published)', placeholder: 'V' },
    channel: { type: 'string', description: "channel to move to this version ('none' to move none)", default: 'latest' },
    optimize: { type: 'string', description: 'int8: quantize .onnx/.safetensors/.gguf files to INT8 locally (src/optimize) before upload; the originals are recorded with the version', placeholder: 'MODE' },
    token: { type: 'string', description: 'publish token (default: $MODELCDN_TOKEN)', placeholder: 'TOKEN' },
    server: { type: 'string', description: 'origin URL (default: $MODELCDN_SERVER)', placeholder: 'URL' },
    'no-wait': { type: 'boolean', description: 'return after the commit without waiting for the job' },
  },
  json: true,
  examples: [
    'modelcdn publish model.onnx --name silero-vad --version 5.0 --token $TOKEN --server http://127.0.0.1:8080',
    'MODELCDN_SERVER=http://origin:8080 modelcdn publish ./movenet/ --name movenet --version 4 --channel stable --token $TOKEN',
  ],
  async run(ctx) {
    const name = flagString(ctx.flags, 'name');
    const version = flagString(ctx.flags, 'version');
    if (!name) throw inputError('NO_NAME', 'publish: --name is required');
    if (!version) throw inputError('NO_VERSION', 'publish: --version is required');
    const server = flagString(ctx.flags, 'server') ?? ctx.env['MODELCDN_SERVER'];
    if (!server) throw inputError('NO_SERVER', 'publish: no origin given', {}, 'pass --server URL or set MODELCDN_SERVER');
    const token = flagString(ctx.flags, 'token') ?? ctx.env['MODELCDN_TOKEN'];
    if (!token) throw inputError('NO_TOKEN', 'publish: a publish token is required', {}, 'pass --token or set MODELCDN_TOKEN (see `modelcdn token create`)');
    const optimize = flagString(ctx.flags, 'optimize');
    if (optimize !== undefined && optimize !== 'int8') throw inputError('BAD_OPTIMIZE', `publish: unknown --optimize '${optimize}' (supported: int8)`);
    const channelFlag = flagString(ctx.flags, 'channel') ?? 'latest';
    const { validateModelName, validateVersion, validateChannel } = await import('../../cdn/http/validate.ts');
    validateModelName(name);
    validateVersion(version);
    const channel = channelFlag === 'none' ? null : validateChannel(channelFlag);
    const { collectFiles, publish } = await import('../../cdn/origin/publish-client.ts');
    const files = await collectFiles(ctx.args['paths'] as string[]);
    const total = files.reduce((n, f) => n + f.size, 0);
    const bars: Record<string, ReturnType<typeof ctx.out.progress>> = {};
    const bar = (phase: string, t: number) => (bars[phase] ??= ctx.out.progress(phase === 'hash' ? 'hashing' : phase === 'upload' ? 'uploading' : 'processing', t));
    let uploadedBefore = 0;
    let currentFile = '';
    const r = await publish({
      server,
      token,
      name,
      version,
      channel,
      ...(optimize ? { optimize: 'int8' as const } : {}),
      files,
      wait: !flagBool(ctx.flags, 'no-wait'),
      signal: ctx.signal,
      onProgress: (e) => {
        if (e.phase === 'upload') {
          if (e.file !== currentFile) {
            uploadedBefore += files.find((f) => f.path === currentFile)?.size ?? 0;
            currentFile = e.file ?? '';
          }
          bar('upload', total).set(uploadedBefore + e.done);
        } else if (e.phase === 'process') {
          const b = bar('process', e.total);
          b.setTotal(e.total);
          b.set(e.done);
        } else bar(e.phase, e.total).set(e.done);
      },
    });
    for (const b of Object.values(bars)) b.done();
    ctx.out.result(
      { ...r, server, files: files.map((f) => ({ path: f.path, size: f.size })), totalBytes: total },
      (v) => [
        ...(v.optimized ?? []).map((o) => `int8: ${o.path} ${formatBytes(o.size)} → ${formatBytes(o.int8Size)}`),
        `published ${v.name}@${v.version}: ${v.files.length} file(s), ${formatBytes(v.totalBytes)} (${formatBytes(v.uploadedBytes)} uploaded, ${formatBytes(v.skippedBytes)} already on the origin)`,
        v.job ? `job ${v.jobId}: ${v.job.status}` : `job ${v.jobId} queued; follow it at ${server.replace(/\/+$/, '')}/v1/jobs/${v.jobId}`,
        ...(v.job?.dedup ? [`chunks: ${formatBytes(v.job.dedup.newBytes)} new, ${formatBytes(v.job.dedup.knownBytes)} already known (${formatBytes(v.job.dedup.newPackedBytes)} stored)`] : []),
      ],
    );
  },
});
