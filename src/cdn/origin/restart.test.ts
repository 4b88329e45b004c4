/**
 * Origin lifecycle and configuration: a publish job interrupted by a shutdown leaves the version
 * pending and invisible, and the next origin on the same data folder resumes it; `privateReads`
 * puts reads behind the token check.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startOrigin } from './server.ts';
import { loadProcessors, type Processors } from './processors.ts';
import { collectFiles, getJob, publish, uploadFile } from './publish-client.ts';
import { MemoryBlobStore, type BlobSource } from '../../store/index.ts';
import { McdnError } from '../../errors.ts';
import { sha256Hex } from '../../util/hash.ts';

const dir = mkdtempSync(join(tmpdir(), 'mcdn-restart-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('an interrupted publish job resumes after restart', async () => {
  const real = await loadProcessors();
  let entered!: () => void;
  const inEncode = new Promise<void>((r) => (entered = r));
  // the real processors, except that encoding waits until the origin is shut down
  const stalled: Processors = {
    ...real,
    encode: async () => {
      entered();
      await new Promise(() => {});
      return 0;
    },
  };
  const data = join(dir, 'data');
  const a = await startOrigin({ dataDir: data, port: 0, processors: stalled });
  const token = a.registry.createToken('t').token;
  const f = join(dir, 'm.json');
  writeFileSync(f, JSON.stringify({ x: 'y'.repeat(5000) }));
  const r = await publish({ server: a.url, token, name: 'm', version: '1', files: await collectFiles([f]), wait: false });
  await inEncode;
  assert.equal((await fetch(`${a.url}/v1/models/m/versions/1/manifest`)).status, 404);
  const closing = a.close();
  await Promise.race([closing, new Promise((r) => setTimeout(r, 500))]);
  // the stalled encode never returns; close() must not wait for it forever
  await closing;

  const b = await startOrigin({ dataDir: data, port: 0 });
  try {
    for (let i = 0; i < 200; i++) {
      const j = await getJob(b.url, r.jobId);
      if (j.status === 'done' || j.status === 'failed') break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal((await getJob(b.url, r.jobId)).status, 'done');
    assert.equal((await fetch(`${b.url}/v1/models/m/versions/1/manifest`)).status, 200);
    assert.deepEqual(((await (await fetch(`${b.url}/v1/models/m`)).json()) as { channels: unknown }).channels, { latest: '1' });
  } finally {
    await b.close();
  }
});

test('with privateReads, reads need a token; health and the public key stay open', async () => {
  const o = await startOrigin({ dataDir: join(dir, 'private'), port: 0, privateReads: true });
  try {
    const t = o.registry.createToken('reader').token;
    assert.equal((await fetch(`${o.url}/v1/models`)).status, 401);
    assert.equal((await fetch(`${o.url}/v1/blobs/${'a'.repeat(64)}`)).status, 401);
    assert.equal((await fetch(`${o.url}/v1/models`, { headers: { authorization: `Bearer ${t}` } })).status, 200);
    assert.equal((await fetch(`${o.url}/v1/blobs/${'a'.repeat(64)}`, { headers: { authorization: `Bearer ${t}` } })).status, 404);
    assert.equal((await fetch(`${o.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${o.url}/.well-known/modelcdn/public-key`)).status, 200);
  } finally {
    await o.close();
  }
});

test('any BlobStore plugs in: publish and ranged reads through a MemoryBlobStore', async () => {
  const { MemoryBlobStore } = await import('../../store/index.ts');
  const store = new MemoryBlobStore();
  const o = await startOrigin({ dataDir: join(dir, 'mem'), port: 0, store, encodings: ['gzip'] });
  try {
    const token = o.registry.createToken('t').token;
    const f = join(dir, 'mem.json');
    const body = JSON.stringify({ k: 'v'.repeat(10_000) });
    writeFileSync(f, body);
    const r = await publish({ server: o.url, token, name: 'mem', version: '1', files: await collectFiles([f]) });
    assert.equal(r.job?.status, 'done');
    const { sha256Hex } = await import('../../util/hash.ts');
    const h = sha256Hex(body);
    assert.equal(await store.has(h), true);
    const part = await fetch(`${o.url}/v1/blobs/${h}`, { headers: { range: 'bytes=2-5' } });
    assert.equal(part.status, 206);
    assert.equal(await part.text(), body.slice(2, 6));
    const gz = await fetch(`${o.url}/v1/models/mem/versions/1/files/mem.json`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers.get('content-encoding'), 'gzip');
    assert.equal(await gz.text(), body); // fetch decodes gzip
  } finally {
    await o.close();
  }
});

test('redirectBlobs: blob GETs answer 302 to the store\'s presigned URL; HEAD and conditionals are served directly', async () => {
  const { MemoryBlobStore } = await import('../../store/index.ts');
  // a store offering presigned URLs like S3BlobStore does (the URL points at a bucket we never contact)
  class PresigningStore extends MemoryBlobStore {
    async presignedUrl(hash: string, seconds = 300): Promise<string> {
      return `http://bucket.invalid/sha256/${hash}?X-Amz-Expires=${seconds}&X-Amz-Signature=abc`;
    }
  }
  const o = await startOrigin({ dataDir: join(dir, 'redirect'), port: 0, store: new PresigningStore(), redirectBlobs: true });
  try {
    const { hash } = await o.store.put(Buffer.from('hello blob'));
    const r = await fetch(`${o.url}/v1/blobs/${hash}`, { redirect: 'manual' });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), `http://bucket.invalid/sha256/${hash}?X-Amz-Expires=300&X-Amz-Signature=abc`);
    assert.match(r.headers.get('cache-control') ?? '', /private/);
    const head = await fetch(`${o.url}/v1/blobs/${hash}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '10');
    assert.equal((await fetch(`${o.url}/v1/blobs/${hash}`, { headers: { 'if-none-match': `"${hash}"` }, redirect: 'manual' })).status, 304);
    assert.equal((await fetch(`${o.url}/v1/blobs/${'e'.repeat(64)}`, { redirect: 'manual' })).status, 404);
  } finally {
    await o.close();
  }
});

test('a blob store failure after the last byte keeps the upload; the client retries and completes it', async () => {
  // object storage that is down for the first write (a real failure mode of S3 backends)
  class DownOnceStore extends MemoryBlobStore {
    failures = 1;
    override async put(data: BlobSource, expected?: string) {
      if (this.failures-- > 0) {
        if (!(data instanceof Uint8Array)) for await (const _ of data as AsyncIterable<Uint8Array>) void _;
        throw new McdnError('S3_ERROR', 'network', 'object storage unavailable');
      }
      return super.put(data, expected);
    }
  }
  const store = new DownOnceStore();
  const o = await startOrigin({ dataDir: join(dir, 'down'), port: 0, store });
  try {
    const token = o.registry.createToken('t').token;
    const f = join(dir, 'down.bin');
    const bytes = Buffer.alloc(70_000, 9);
    writeFileSync(f, bytes);
    const sent = await uploadFile(o.url, token, { localPath: f, path: 'down.bin', size: bytes.length, sha256: sha256Hex(bytes) });
    assert.equal(sent, bytes.length, 'the bytes were sent once');
    assert.equal(store.failures, -1, 'the first store attempt failed');
    assert.equal(await store.has(sha256Hex(bytes)), true);
  } finally {
    await o.close();
  }
});
