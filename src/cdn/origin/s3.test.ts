/**
 * The origin on S3-compatible object storage (OpenStack Swift's s3api, started by the test):
 * publish stores blobs and derived artifacts in the bucket, blobs and raw files are served with
 * Range and encodings from it, and --redirect-blobs hands out presigned URLs that really work.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3BlobStore } from '../../store/s3.ts';
import { startSwift, swiftAvailable, type SwiftHandle } from '../../../test/support/swift.ts';
import { sha256Hex } from '../../util/hash.ts';
import { verifyManifestEnvelope } from '../manifest/index.ts';
import { startOrigin, type OriginServer } from './server.ts';
import { collectFiles, publish } from './publish-client.ts';

const available = swiftAvailable();
let swift: SwiftHandle | undefined;
let client: S3Client | undefined;
let origin: OriginServer | undefined;
let dir: string;

before(async () => {
  if (!available) return;
  dir = mkdtempSync(join(tmpdir(), 'mcdn-origin-s3-'));
  swift = await startSwift();
  client = new S3Client({ endpoint: swift.endpoint, region: swift.region, forcePathStyle: true, credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey }, maxAttempts: 6 });
  await client.send(new CreateBucketCommand({ Bucket: 'origin-blobs' }));
  const store = new S3BlobStore({ client, bucket: 'origin-blobs', prefix: 'm/', spoolDir: join(dir, 'spool') });
  origin = await startOrigin({ dataDir: join(dir, 'data'), port: 0, store, redirectBlobs: true, encodings: ['gzip', 'zstd'] });
});

after(async () => {
  await origin?.close();
  client?.destroy();
  await swift?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('publish into S3, serve ranges and encodings from it, redirect to working presigned URLs', { skip: available ? false : 'swift packages not installed (.ci/run installs them)' }, async () => {
  const o = origin!;
  const token = o.registry.createToken('s3').token;
  const body = Buffer.from(JSON.stringify({ weights: Array.from({ length: 20_000 }, (_, i) => Math.sin(i / 30).toFixed(3)) }));
  const f = join(dir, 'model.json');
  writeFileSync(f, body);
  const r = await publish({ server: o.url, token, name: 's3model', version: '1', files: await collectFiles([f]) });
  assert.equal(r.job?.status, 'done');
  const h = sha256Hex(body);
  assert.equal(await o.store.has(h), true, 'blob is in the bucket');
  const m = verifyManifestEnvelope(await (await fetch(`${o.url}/v1/models/s3model/versions/1/manifest`)).json(), o.keys.publicKey);
  assert.ok(m.files[0]!.encodings?.gzip && (await o.store.has(m.files[0]!.encodings.gzip.blob)), 'variant stored in the bucket');

  // blob GET → 302 to a presigned URL that the bucket honours
  const red = await fetch(`${o.url}/v1/blobs/${h}`, { redirect: 'manual' });
  assert.equal(red.status, 302);
  const followed = await fetch(`${o.url}/v1/blobs/${h}`);
  assert.equal(followed.status, 200);
  assert.equal(sha256Hex(Buffer.from(await followed.arrayBuffer())), h);
  // HEAD and raw files are served by the origin from the bucket (Range included)
  const head = await fetch(`${o.url}/v1/blobs/${h}`, { method: 'HEAD' });
  assert.equal(head.headers.get('content-length'), String(body.length));
  const part = await fetch(`${o.url}/v1/models/s3model/versions/1/files/model.json`, { headers: { range: 'bytes=100-199', 'accept-encoding': 'identity' } });
  assert.equal(part.status, 206);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), body.subarray(100, 200));
  const gz = await fetch(`${o.url}/v1/models/s3model/versions/1/files/model.json`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers.get('content-encoding'), 'gzip');
  assert.equal(sha256Hex(Buffer.from(await gz.arrayBuffer())), h); // fetch decodes gzip
});
