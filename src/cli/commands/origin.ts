/**
 * `modelcdn origin --data DIR`: run the origin (registry, blob store, signing key under DIR, all
 * created on first run) until SIGINT/SIGTERM. Thin CLI layer over src/cdn/origin/server.ts.
 */
import { defineCommand, flagBool, flagNumber, flagString } from '../command.ts';
import { McdnError, inputError } from '../../errors.ts';
import { formatBytes, parseBytes } from '../output.ts';

export default defineCommand({
  summary: 'run the origin: registry, blob store, signed manifests, publish API',
  description:
    'Serves models, channels, signed manifests, immutable blobs by sha256 (Range, ETag, HEAD) and raw files with ' +
    'Accept-Encoding negotiation (zstd, br, gzip), plus the token-protected publish API and background publish jobs. ' +
    'DIR holds registry.db (SQLite), blobs/, uploads/, work/ and keys/ (an ed25519 key is created on first run). ' +
    'Create publish tokens with `modelcdn token create --data DIR`. API: docs/api.md, GET /openapi.json.',
  flags: {
    data: { type: 'string', description: 'data directory (created if missing)', placeholder: 'DIR' },
    port: { type: 'number', description: 'TCP port (0 picks a free one)', default: 8080 },
    host: { type: 'string', description: 'address to listen on', default: '127.0.0.1' },
    'patch-history': { type: 'number', description: 'earlier versions that get a patch to each new one', default: 3 },
    'max-upload': { type: 'string', description: 'largest single file accepted by publish', default: '64GiB', placeholder: 'SIZE' },
    store: { type: 'string', description: 'blob storage: fs (under --data) or s3 (credentials from the AWS environment variables)', default: 'fs' },
    's3-endpoint': { type: 'string', description: 'S3-compatible endpoint URL (with --store s3)', placeholder: 'URL' },
    bucket: { type: 'string', description: 'bucket for blobs (with --store s3)', placeholder: 'B' },
    's3-prefix': { type: 'string', description: 'key prefix inside the bucket (with --store s3)', default: '' },
    's3-region': { type: 'string', description: 'S3 region (default: $AWS_REGION or us-east-1)', placeholder: 'REGION' },
    'redirect-blobs': { type: 'boolean', description: 'answer blob GETs with a 302 to a presigned bucket URL (with --store s3)' },
    private: { type: 'boolean', description: 'require a token (Authorization: Bearer) for reads too; health and the public key stay open' },
    encodings: { type: 'string', description: 'precompressed variants to make at publish (comma list of zstd,br,gzip, or none)', default: 'zstd,br,gzip' },
  },
  json: true,
  examples: [
    'modelcdn origin --data ./origin-data',
    'modelcdn origin --data /srv/modelcdn --host 0.0.0.0 --port 8080 --encodings zstd,gzip',
    'modelcdn origin --data /srv/modelcdn --store s3 --s3-endpoint http://127.0.0.1:8888 --bucket models --redirect-blobs',
  ],
  async run(ctx) {
    const data = flagString(ctx.flags, 'data');
    if (!data) throw inputError('NO_DATA_DIR', 'origin: --data DIR is required');
    const port = flagNumber(ctx.flags, 'port') ?? 8080;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw inputError('BAD_PORT', `origin: --port ${port} is not a TCP port`);
    const k = flagNumber(ctx.flags, 'patch-history') ?? 3;
    if (!Number.isInteger(k) || k < 0 || k > 64) throw inputError('BAD_PATCH_HISTORY', `origin: --patch-history must be an integer 0..64, got ${k}`);
    const maxText = flagString(ctx.flags, 'max-upload') ?? '64GiB';
    const maxUploadBytes = parseBytes(maxText);
    if (!(maxUploadBytes > 0)) throw inputError('BAD_MAX_UPLOAD', `origin: --max-upload '${maxText}' is not a size`);
    const encText = (flagString(ctx.flags, 'encodings') ?? 'zstd,br,gzip').trim();
    const encodings = encText === 'none' || encText === '' ? [] : encText.split(',').map((s) => s.trim());
    for (const e of encodings) if (e !== 'zstd' && e !== 'br' && e !== 'gzip') throw inputError('BAD_ENCODING', `origin: unknown encoding '${e}' (use zstd, br, gzip or none)`);
    const storeKind = flagString(ctx.flags, 'store') ?? 'fs';
    if (storeKind !== 'fs' && storeKind !== 's3') throw inputError('BAD_STORE', `origin: --store must be fs or s3, got '${storeKind}'`);
    let store: import('../../store/index.ts').BlobStore | undefined;
    if (storeKind === 's3') {
      const bucket = flagString(ctx.flags, 'bucket');
      if (!bucket) throw inputError('NO_BUCKET', 'origin: --store s3 needs --bucket B');
      const endpoint = flagString(ctx.flags, 's3-endpoint');
      const { S3BlobStore } = await import('../../store/s3.ts');
      const { join } = await import('node:path');
      store = new S3BlobStore({
        bucket,
        prefix: flagString(ctx.flags, 's3-prefix') ?? '',
        spoolDir: join(data, 'work', 's3-spool'),
        clientConfig: {
          region: flagString(ctx.flags, 's3-region') ?? ctx.env['AWS_REGION'] ?? 'us-east-1',
          ...(endpoint ? { endpoint } : {}),
        },
      });
    } else if (flagBool(ctx.flags, 'redirect-blobs')) {
      throw inputError('REDIRECT_NEEDS_S3', 'origin: --redirect-blobs needs --store s3');
    }
    const { startOrigin } = await import('../../cdn/origin/server.ts');
    const origin = await startOrigin({
      dataDir: data,
      port,
      host: flagString(ctx.flags, 'host') ?? '127.0.0.1',
      patchHistory: k,
      maxUploadBytes,
      encodings: encodings as ('zstd' | 'br' | 'gzip')[],
      privateReads: flagBool(ctx.flags, 'private'),
      redirectBlobs: flagBool(ctx.flags, 'redirect-blobs'),
      ...(store ? { store } : {}),
    }).catch((e: unknown) => {
      if (e instanceof McdnError && e.code === 'LISTEN_FAILED' && /EADDRINUSE/.test(e.message)) {
        throw new McdnError('PORT_IN_USE', 'config', `origin: port ${port} is already in use`, { remedy: 'pick another --port' });
      }
      throw e;
    });
    ctx.out.result(
      { url: origin.url, data, store: storeKind, keyId: origin.keys.keyId, models: origin.registry.listModels().length, maxUploadBytes },
      (v) => `origin listening on ${v.url} (data ${v.data}, ${v.store} blob store, key ${v.keyId}, ${v.models} models, max upload ${formatBytes(v.maxUploadBytes)})`,
    );
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await origin.close();
    ctx.out.warn('origin stopped');
  },
});
