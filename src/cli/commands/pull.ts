/**
 * `modelcdn pull NAME[@VERSION|@CHANNEL]`: download a model version into a directory through an
 * origin or edge, verified against the pinned signing key. Thin CLI layer over
 * src/cdn/client/pull.ts (progress bar on a TTY, human or --json result).
 */
import { defineCommand, flagBool, flagNumber, flagString } from '../command.ts';
import { formatBytes, table } from '../output.ts';
import { inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'download a model version (verified, resumable, delta-aware) from an origin or edge',
  description:
    'Resolves NAME@VERSION or NAME@CHANNEL (default channel: latest), verifies the manifest signature against the ' +
    'key given by --trust or the key pinned for this server on first use (in $MODELCDN_HOME/trusted-keys.json), and ' +
    'refuses a version older than the one in the output directory unless --allow-downgrade. With an earlier version ' +
    'present it takes the cheapest patch route; otherwise it downloads the packed artifact and unpacks it as it ' +
    'streams in (raw file for formats the codec does not know). Downloads are parallel ranged requests that resume ' +
    'after an interruption or a restart; every file is sha256-checked before it is moved into place. See docs/client.md.',
  positionals: [{ name: 'ref', description: 'NAME, NAME@VERSION or NAME@CHANNEL', required: true }],
  flags: {
    output: { type: 'string', short: 'o', description: 'output directory (default: ./NAME)', placeholder: 'DIR' },
    server: { type: 'string', description: 'origin or edge URL (default: $MODELCDN_SERVER)', placeholder: 'URL' },
    parallel: { type: 'number', description: 'concurrent ranged requests', default: 4 },
    trust: { type: 'string', description: 'public key file of the origin (JSON document, PEM, or base64)', placeholder: 'KEYFILE' },
    'allow-downgrade': { type: 'boolean', description: 'allow installing a version older than the one present' },
    raw: { type: 'boolean', description: 'fetch raw files, never packed artifacts (fast links where unpacking is the bottleneck)' },
    'no-direct-io': { type: 'boolean', description: 'write large files through the page cache instead of O_DIRECT (also MODELCDN_DIRECT_IO=0)' },
    'stall-timeout': { type: 'number', description: 'seconds without data before a request is retried', default: 15 },
  },
  json: true,
  examples: [
    'modelcdn pull silero-vad --server http://127.0.0.1:8081',
    'modelcdn pull silero-vad@1.1 -o ./models/vad --trust origin.pub.json',
    'modelcdn pull movenet@stable --parallel 8 --json',
  ],
  async run(ctx) {
    const ref = ctx.args['ref'] as string;
    const server = flagString(ctx.flags, 'server') ?? ctx.env['MODELCDN_SERVER'];
    if (!server) throw inputError('NO_SERVER', 'pull: no server given', {}, 'pass --server URL or set MODELCDN_SERVER');
    const parallel = flagNumber(ctx.flags, 'parallel') ?? 4;
    if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) throw inputError('BAD_PARALLEL', `pull: --parallel must be 1..64, got ${parallel}`);
    const stall = flagNumber(ctx.flags, 'stall-timeout') ?? 15;
    if (!(stall > 0)) throw inputError('BAD_STALL_TIMEOUT', `pull: --stall-timeout must be positive, got ${stall}`);
    const { pull } = await import('../../cdn/client/index.ts');
    let bar: ReturnType<typeof ctx.out.progress> | undefined;
    const r = await pull({
      ref,
      server,
      parallel,
      stallMs: stall * 1000,
      allowDowngrade: flagBool(ctx.flags, 'allow-downgrade'),
      noPacked: flagBool(ctx.flags, 'raw'),
      directIo: !flagBool(ctx.flags, 'no-direct-io'),
      signal: ctx.signal,
      ...(flagString(ctx.flags, 'output') ? { outDir: flagString(ctx.flags, 'output')! } : {}),
      ...(flagString(ctx.flags, 'trust') ? { trustFile: flagString(ctx.flags, 'trust')! } : {}),
      ...(ctx.env['MODELCDN_HOME'] ? { home: ctx.env['MODELCDN_HOME'] } : {}),
      onNote: (m) => ctx.out.warn(`note: ${m}`),
      onProgress: (done, total) => {
        if (!bar) bar = ctx.out.progress(`pull ${ref}`, total, 'bytes');
        bar.setTotal(total);
        bar.set(done);
      },
    });
    bar?.done();
    ctx.out.result(r, (v) => [
      `${v.name}@${v.version}${v.previous ? ` (from ${v.previous})` : ''} → ${v.outDir}: ${v.files.length} files, ${formatBytes(v.totalBytes)}; ` +
        `transferred ${formatBytes(v.fetchedBytes)} in ${v.seconds.toFixed(1)} s (key ${v.keyId}, ${v.trust})`,
      table(
        ['file', 'size', 'route', 'bytes'],
        v.files.map((f) => [f.path, formatBytes(f.size), f.steps ? `${f.route} ${f.steps.map((s) => `${s.from}→${s.to}`).join(',')}` : f.route, formatBytes(f.bytes)]),
      ),
    ]);
  },
});
