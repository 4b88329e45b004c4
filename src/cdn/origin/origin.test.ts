/**
 * End-to-end tests of the origin on 127.0.0.1 (port 0): publish → job → signed manifest → blobs
 * (Range, HEAD, ETag/304, 416) → raw files in every encoding (decoded and hashed) → patches between
 * versions; resumable uploads; auth; traversal; malformed/oversized uploads leave no version; demand.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { zstdDecompress } from '../../codec/index.ts';
import { verifyManifestEnvelope, type Manifest } from '../manifest/index.ts';
import { sha256Hex } from '../../util/hash.ts';
import { startOrigin, type OriginServer } from './server.ts';
import { fileBuffersInUse } from '../http/send.ts';
import { collectFiles, publish, uploadFile } from './publish-client.ts';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A raw HTTP request (no path normalization, no automatic decoding). */
function raw(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Deterministic, compressible, model-like bytes (float32 values on a smooth curve with noise). */
function modelBytes(n: number, seed: number): Buffer {
  const f = new Float32Array(Math.ceil(n / 4));
  let s = seed;
  for (let i = 0; i < f.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    f[i] = Math.round(Math.sin(i / 50) * 64 + ((s >>> 16) % 4)) / 64;
  }
  return Buffer.from(f.buffer, 0, n);
}

const execFileP = promisify(execFile);
let dir: string;
let origin: OriginServer;
let token: string;
const MAX_UPLOAD = 4 * 1024 * 1024;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mcdn-origin-'));
  origin = await startOrigin({ dataDir: join(dir, 'data'), host: '127.0.0.1', port: 0, maxUploadBytes: MAX_UPLOAD });
  token = origin.registry.createToken('test').token;
});

after(async () => {
  await origin.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('publish and read', () => {
  let v1: Buffer;
  let v2: Buffer;
  let manifest: Manifest;

  before(async () => {
    v1 = modelBytes(96_000, 1);
    v2 = Buffer.from(v1);
    for (let i = 1000; i < 1400; i++) v2[i] ^= 0x5a; // a small change
    const d1 = join(dir, 'v1');
    const d2 = join(dir, 'v2');
    for (const [d, bytes] of [[d1, v1], [d2, v2]] as const) {
      mkdirSync(join(d, 'weights'), { recursive: true });
      writeFileSync(join(d, 'weights', 'model.bin'), bytes);
      writeFileSync(join(d, 'config.json'), JSON.stringify({ layers: 12, hidden: 768, note: 'x'.repeat(2000) }));
    }
    const r1 = await publish({ server: origin.url, token, name: 'demo', version: '1.0', files: await collectFiles([d1]) });
    assert.equal(r1.job?.status, 'done');
    const r2 = await publish({ server: origin.url, token, name: 'demo', version: '1.1', files: await collectFiles([d2]) });
    assert.equal(r2.job?.status, 'done');
    // config.json is identical in both versions: nothing to upload the second time
    assert.ok(r2.skippedBytes > 0);
    const env = JSON.parse((await raw(origin.url, 'GET', '/v1/models/demo/versions/1.1/manifest')).body.toString());
    manifest = verifyManifestEnvelope(env, origin.keys.publicKey);
  });

  test('model, channel and listings', async () => {
    const models = JSON.parse((await raw(origin.url, 'GET', '/v1/models')).body.toString());
    assert.deepEqual(models, { models: [{ name: 'demo', latest: '1.1', versions: 2 }] });
    const m = JSON.parse((await raw(origin.url, 'GET', '/v1/models/demo')).body.toString());
    assert.deepEqual(m.versions.map((v: { version: string }) => v.version), ['1.0', '1.1']);
    assert.deepEqual(m.channels, { latest: '1.1' });
    assert.equal(m.versions[1].createdAt, manifest.createdAt, 'listing and manifest agree on createdAt');
    const ch = await raw(origin.url, 'GET', '/v1/models/demo/channels/latest');
    assert.equal(ch.headers['cache-control'], 'public, max-age=5');
    assert.deepEqual(JSON.parse(ch.body.toString()), { name: 'demo', channel: 'latest', version: '1.1' });
    assert.equal((await raw(origin.url, 'GET', '/v1/models/demo/channels/stable')).status, 404);
    assert.equal((await raw(origin.url, 'GET', '/v1/models/nope')).status, 404);
  });

  test('signed manifest lists files, encodings, packed artifact and patches; public key is served', async () => {
    assert.equal(manifest.name, 'demo');
    assert.equal(manifest.version, '1.1');
    const bin = manifest.files.find((f) => f.path === 'weights/model.bin')!;
    assert.equal(bin.sha256, sha256Hex(v2));
    assert.equal(bin.size, v2.length);
    assert.ok(bin.encodings?.zstd && bin.encodings.br && bin.encodings.gzip, 'all three encodings stored');
    if (origin.jobs && bin.packed) assert.equal(bin.packed.codec, 'mcz');
    const patch = bin.patches.find((p) => p.fromVersion === '1.0');
    assert.ok(patch, 'patch from 1.0');
    assert.equal(patch.fromSha256, sha256Hex(v1));
    assert.ok(patch.size < v2.length / 4, `patch is small (${patch.size})`);
    const cfg = manifest.files.find((f) => f.path === 'config.json')!;
    assert.equal(cfg.format, 'json');
    assert.equal(cfg.patches.length, 0, 'unchanged file has no patch');
    const pk = JSON.parse((await raw(origin.url, 'GET', '/.well-known/modelcdn/public-key')).body.toString());
    assert.equal(pk.keyId, origin.keys.keyId);
    assert.deepEqual(verifyManifestEnvelope((await raw(origin.url, 'GET', '/v1/models/demo/versions/1.1/manifest')).body, pk.publicKey), manifest);
    const m304 = await raw(origin.url, 'GET', '/v1/models/demo/versions/1.1/manifest');
    assert.equal((await raw(origin.url, 'GET', '/v1/models/demo/versions/1.1/manifest', { 'if-none-match': m304.headers['etag'] as string })).status, 304);
    // every blob named in the manifest is served
    for (const f of manifest.files) {
      for (const h of [f.sha256, f.packed?.blob, ...Object.values(f.encodings ?? {}).map((e) => e.blob), ...f.patches.map((p) => p.blob)]) {
        if (h) assert.equal((await raw(origin.url, 'HEAD', `/v1/blobs/${h}`)).status, 200, h);
      }
    }
  });

  test('blobs: immutable caching, strong ETag, HEAD, 304, single range 206, 416, multi-range → 200', async () => {
    const h = sha256Hex(v2);
    const full = await raw(origin.url, 'GET', `/v1/blobs/${h}`);
    assert.equal(full.status, 200);
    assert.equal(sha256Hex(full.body), h);
    assert.equal(full.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(full.headers['etag'], `"${h}"`);
    assert.equal(full.headers['accept-ranges'], 'bytes');
    assert.equal(full.headers['content-length'], String(v2.length));
    const head = await raw(origin.url, 'HEAD', `/v1/blobs/${h}`);
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(v2.length));
    assert.equal((await raw(origin.url, 'GET', `/v1/blobs/${h}`, { 'if-none-match': `"${h}"` })).status, 304);
    const part = await raw(origin.url, 'GET', `/v1/blobs/${h}`, { range: 'bytes=1000-1999' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 1000-1999/${v2.length}`);
    assert.deepEqual(part.body, v2.subarray(1000, 2000));
    const suffix = await raw(origin.url, 'GET', `/v1/blobs/${h}`, { range: 'bytes=-10' });
    assert.deepEqual(suffix.body, v2.subarray(v2.length - 10));
    const bad = await raw(origin.url, 'GET', `/v1/blobs/${h}`, { range: `bytes=${v2.length}-` });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers['content-range'], `bytes */${v2.length}`);
    assert.equal((await raw(origin.url, 'GET', `/v1/blobs/${h}`, { range: 'bytes=0-1,5-6' })).status, 200);
    assert.equal((await raw(origin.url, 'GET', `/v1/blobs/${'0'.repeat(64)}`)).status, 404);
  });

  test('raw files: Accept-Encoding negotiation from precompressed variants, decoded bytes match', async () => {
    const want = sha256Hex(v2);
    const enc = manifest.files.find((f) => f.path === 'weights/model.bin')!.encodings!;
    const smallest = (['zstd', 'br', 'gzip'] as const).reduce((a, b) => (enc[b]!.size < enc[a]!.size ? b : a));
    const decoders = { zstd: (b: Buffer) => zstdDecompress(b), br: (b: Buffer) => brotliDecompressSync(b), gzip: (b: Buffer) => gunzipSync(b) };
    const cases: [string | undefined, string | undefined, (b: Buffer) => Uint8Array][] = [
      [undefined, undefined, (b) => b],
      ['zstd', 'zstd', (b) => zstdDecompress(b)],
      ['br', 'br', (b) => brotliDecompressSync(b)],
      ['gzip', 'gzip', (b) => gunzipSync(b)],
      // equal q-values: the smallest stored variant wins
      ['gzip, deflate, br, zstd', smallest, decoders[smallest]],
      ['gzip;q=1, br;q=0.5', 'gzip', (b) => gunzipSync(b)],
      ['identity', undefined, (b) => b],
    ];
    for (const [accept, enc, decode] of cases) {
      const r = await raw(origin.url, 'GET', '/v1/models/demo/versions/1.1/files/weights/model.bin', accept ? { 'accept-encoding': accept } : {});
      assert.equal(r.status, 200, String(accept));
      assert.equal(r.headers['content-encoding'], enc, String(accept));
      assert.equal(r.headers['vary'], 'Accept-Encoding');
      assert.equal(sha256Hex(decode(r.body)), want, String(accept));
      if (enc) assert.ok(r.body.length < v2.length);
    }
    const old = await raw(origin.url, 'GET', '/v1/models/demo/versions/1.0/files/weights/model.bin');
    assert.equal(sha256Hex(old.body), sha256Hex(v1));
    const cfg = await raw(origin.url, 'GET', '/v1/models/demo/versions/1.1/files/config.json');
    assert.match(String(cfg.headers['content-type']), /application\/json/);
    assert.equal((await raw(origin.url, 'GET', '/v1/models/demo/versions/1.1/files/missing.bin')).status, 404);
    assert.equal((await raw(origin.url, 'GET', '/v1/models/demo/versions/9.9/files/config.json')).status, 404);
  });

  test('curl --compressed yields the exact bytes', { skip: spawnSync('curl', ['--version']).status !== 0 ? 'curl not installed' : false }, async () => {
    // async: the server runs in this process, a sync child would deadlock it
    const { stdout } = await execFileP('curl', ['-sS', '--compressed', '-D', '-', '-o', join(dir, 'curl.bin'), `${origin.url}/v1/models/demo/versions/1.1/files/weights/model.bin`]);
    assert.match(stdout, /content-encoding: (zstd|br|gzip)/i);
    assert.equal(sha256Hex(readFileSync(join(dir, 'curl.bin'))), sha256Hex(v2));
  });

  test('republishing an existing version is a conflict', async () => {
    const r = await raw(origin.url, 'POST', '/v1/publish/versions', { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      JSON.stringify({ name: 'demo', version: '1.0', files: [{ path: 'weights/model.bin', size: v1.length, sha256: sha256Hex(v1) }] }));
    assert.equal(r.status, 409);
    assert.equal(JSON.parse(r.body.toString()).error.code, 'VERSION_EXISTS');
  });
});

describe('security', () => {
  test('path traversal in names, versions, file paths and hashes is refused', async () => {
    const paths = [
      '/v1/models/..%2f..%2fetc',
      '/v1/models/%2e%2e',
      '/v1/models/%252e%252e%252fetc',
      '/v1/models/demo/versions/../manifest',
      '/v1/models/demo/versions/%2e%2e/manifest',
      '/v1/models/demo/versions/1.1%2f..%2f1.0/manifest',
      '/v1/models/demo/versions/1.1/files/../../registry.db',
      '/v1/models/demo/versions/1.1/files/weights/%2e%2e/%2e%2e/registry.db',
      '/v1/models/demo/versions/1.1/files/weights%2f..%2f..%2fkeys%2fmodelcdn-ed25519.key',
      '/v1/models/demo/versions/1.1/files/%252e%252e%252fkeys',
      '/v1/blobs/../registry.db',
      '/v1/blobs/..%2f..%2fregistry.db',
      '/v1/blobs/%2e%2e%2fkeys',
      '/v1/blobs/' + 'a'.repeat(63) + 'G',
      '/v1/models/demo/channels/..%5c..%5c',
    ];
    for (const p of paths) {
      const r = await raw(origin.url, 'GET', p);
      assert.ok(r.status === 400 || r.status === 404, `${p} → ${r.status}`);
      assert.ok(!r.body.toString().includes('PRIVATE KEY') && !r.body.toString().startsWith('SQLite'), p);
    }
    // the worst ones are refused outright with 400, not merely not found
    assert.equal((await raw(origin.url, 'GET', '/v1/blobs/..%2f..%2fregistry.db')).status, 400);
    assert.equal((await raw(origin.url, 'GET', '/v1/models/demo/versions/1.1/files/../../registry.db')).status, 400);
  });

  test('publishing without a token, with a wrong one, or a revoked one → 401', async () => {
    const body = JSON.stringify({ sha256: sha256Hex('x'), size: 1 });
    const none = await raw(origin.url, 'POST', '/v1/publish/uploads', { 'content-type': 'application/json' }, body);
    assert.equal(none.status, 401);
    assert.match(String(none.headers['www-authenticate']), /Bearer/);
    assert.equal(JSON.parse(none.body.toString()).error.code, 'AUTH_REQUIRED');
    const wrong = await raw(origin.url, 'POST', '/v1/publish/uploads', { authorization: 'Bearer mcdn_0000_nope', 'content-type': 'application/json' }, body);
    assert.equal(wrong.status, 401);
    assert.equal(JSON.parse(wrong.body.toString()).error.code, 'AUTH_INVALID');
    const t = origin.registry.createToken('short-lived');
    origin.registry.revokeToken(t.id);
    const revoked = await raw(origin.url, 'POST', '/v1/publish/versions', { authorization: `Bearer ${t.token}` }, '{}');
    assert.equal(revoked.status, 401);
    const put = await raw(origin.url, 'PUT', '/v1/publish/uploads/up_x', { 'upload-offset': '0' }, Buffer.alloc(10));
    assert.equal(put.status, 401);
    await assert.rejects(publish({ server: origin.url, token: 'mcdn_bad', name: 'x', version: '1', files: [{ localPath: __filename_(), path: 'a', size: 1 }] }), (e: Error) => /not valid/.test(e.message));
  });

  test('malformed or oversized uploads leave no partial version', async () => {
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    // declared size over the limit → 413
    const big = await raw(origin.url, 'POST', '/v1/publish/uploads', auth, JSON.stringify({ sha256: sha256Hex('big'), size: MAX_UPLOAD + 1 }));
    assert.equal(big.status, 413);
    // more bytes than declared → 413, nothing stored
    const data = modelBytes(50_000, 7);
    const s = JSON.parse((await raw(origin.url, 'POST', '/v1/publish/uploads', auth, JSON.stringify({ sha256: sha256Hex(data), size: 1000 }))).body.toString());
    const over = await raw(origin.url, 'PUT', `/v1/publish/uploads/${s.id}`, { authorization: `Bearer ${token}`, 'upload-offset': '0' }, data);
    assert.equal(over.status, 413);
    // bytes that do not hash to the declared sha256 → 400, session dropped
    const s2 = JSON.parse((await raw(origin.url, 'POST', '/v1/publish/uploads', auth, JSON.stringify({ sha256: sha256Hex('other'), size: data.length }))).body.toString());
    const mism = await raw(origin.url, 'PUT', `/v1/publish/uploads/${s2.id}`, { authorization: `Bearer ${token}`, 'upload-offset': '0' }, data);
    assert.equal(mism.status, 400);
    assert.equal(JSON.parse(mism.body.toString()).error.code, 'UPLOAD_HASH_MISMATCH');
    assert.equal(await origin.store.has(sha256Hex(data)), false);
    // commits that are malformed or reference missing blobs
    const commits: [string, number, string][] = [
      ['{not json', 400, 'BODY_NOT_JSON'],
      [JSON.stringify({ name: 'bad', version: '1', files: [] }), 400, 'BAD_FILES'],
      [JSON.stringify({ name: 'bad', version: '1', files: [{ path: '../x', size: 1, sha256: sha256Hex('x') }] }), 400, 'BAD_FILE_PATH'],
      [JSON.stringify({ name: 'bad', version: '1', files: [{ path: 'x', size: 1, sha256: sha256Hex('never uploaded') }] }), 400, 'BLOB_NOT_UPLOADED'],
      [JSON.stringify({ name: '../bad', version: '1', files: [] }), 400, 'BAD_MODEL_NAME'],
      [JSON.stringify({ name: 'bad', version: '%2e%2e', files: [] }), 400, 'BAD_VERSION'],
      [JSON.stringify({ name: 'bad', version: '1', optimize: 'int3', files: [] }), 400, 'BAD_OPTIMIZE'],
    ];
    for (const [body, status, code] of commits) {
      const r = await raw(origin.url, 'POST', '/v1/publish/versions', auth, body);
      assert.equal(r.status, status, body);
      assert.equal(JSON.parse(r.body.toString()).error.code, code, body);
    }
    const huge = await raw(origin.url, 'POST', '/v1/publish/versions', auth, Buffer.alloc(17 * 1024 * 1024, 0x20));
    assert.equal(huge.status, 413);
    assert.equal(origin.registry.listVersions('bad', { all: true }).length, 0);
    assert.equal((await raw(origin.url, 'GET', '/v1/models/bad')).status, 404);
  });
});

describe('resumable upload', () => {
  test('an interrupted upload resumes from the offset the server reports', async () => {
    const data = modelBytes(400_000, 3);
    const sha = sha256Hex(data);
    const auth = { authorization: `Bearer ${token}` };
    const s = JSON.parse((await raw(origin.url, 'POST', '/v1/publish/uploads', { ...auth, 'content-type': 'application/json' }, JSON.stringify({ sha256: sha, size: data.length }))).body.toString());
    assert.equal(s.offset, 0);
    // send the first 150 000 bytes, then cut the connection mid-body
    await new Promise<void>((resolve) => {
      const u = new URL(origin.url);
      const req = request({ host: u.hostname, port: u.port, method: 'PUT', path: `/v1/publish/uploads/${s.id}`, headers: { ...auth, 'upload-offset': '0', 'content-length': String(data.length) } });
      req.on('error', () => resolve());
      req.write(data.subarray(0, 150_000), () => setTimeout(() => req.destroy(), 100));
    });
    await new Promise((r) => setTimeout(r, 100));
    const st = JSON.parse((await raw(origin.url, 'GET', `/v1/publish/uploads/${s.id}`, auth)).body.toString());
    assert.equal(st.complete, false);
    assert.ok(st.offset > 0 && st.offset <= 150_000, `server kept ${st.offset} bytes`);
    // a PUT at the wrong offset is a conflict that names the right one
    const wrong = await raw(origin.url, 'PUT', `/v1/publish/uploads/${s.id}`, { ...auth, 'upload-offset': '0' }, data.subarray(0, 10));
    assert.equal(wrong.status, 409);
    assert.equal(wrong.headers['upload-offset'], String(st.offset));
    // creating the session again (e.g. after a client restart) returns the same one
    const again = JSON.parse((await raw(origin.url, 'POST', '/v1/publish/uploads', { ...auth, 'content-type': 'application/json' }, JSON.stringify({ sha256: sha, size: data.length }))).body.toString());
    assert.equal(again.id, s.id);
    assert.equal(again.offset, st.offset);
    // the client library continues from there and sends only the rest
    const path = join(dir, 'resume.bin');
    writeFileSync(path, data);
    const sent = await uploadFile(origin.url, token, { localPath: path, path: 'resume.bin', size: data.length, sha256: sha }, { chunkBytes: 100_000 });
    assert.equal(sent, data.length - st.offset);
    assert.equal(await origin.store.has(sha), true);
  });
});

describe('jobs and demand', () => {
  test('a version is invisible until its job is done; the job reports progress', async () => {
    const path = join(dir, 'slow.bin');
    writeFileSync(path, modelBytes(48_000, 9));
    const ready = new Promise<{ name: string; version: string }>((res) => origin.events.once('version-ready', res));
    const moved = new Promise<unknown>((res) => origin.events.once('channel', res));
    const r = await publish({ server: origin.url, token, name: 'slow', version: '1', files: await collectFiles([path]), wait: false });
    const seen: string[] = [];
    for (;;) {
      const j = JSON.parse((await raw(origin.url, 'GET', `/v1/jobs/${r.jobId}`)).body.toString());
      seen.push(j.status);
      for (const k of ['id', 'status', 'step', 'done', 'total', 'progress']) assert.ok(k in j, k);
      if (j.status !== 'done') {
        // not yet visible anywhere
        const m = await raw(origin.url, 'GET', '/v1/models/slow/versions/1/manifest');
        const after = JSON.parse((await raw(origin.url, 'GET', `/v1/jobs/${r.jobId}`)).body.toString());
        if (after.status !== 'done') assert.equal(m.status, 404);
      } else {
        assert.equal(j.progress, 1);
        break;
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal((await raw(origin.url, 'GET', '/v1/models/slow/versions/1/manifest')).status, 200);
    assert.deepEqual({ ...(await ready) }.version, '1');
    assert.deepEqual(await moved, { name: 'slow', channel: 'latest', version: '1' });
    assert.equal((await raw(origin.url, 'GET', '/v1/jobs/job_nope')).status, 404);
  });

  test('demand reports are stored per region/model/version/blob; bad ones refused', async () => {
    const h = sha256Hex('blob');
    const ok = await raw(origin.url, 'POST', '/v1/demand', { 'content-type': 'application/json' }, JSON.stringify({
      region: 'eu-west', from: 1_700_000_000_000, to: '2023-11-14T22:14:00Z',
      items: [{ model: 'demo', version: '1.1', blob: h, requests: 5, bytes: 1234, hits: 4 }, { blob: h, requests: 1, bytes: 10, hits: 0 }],
    }));
    assert.equal(ok.status, 202);
    assert.deepEqual(JSON.parse(ok.body.toString()), { stored: 2 });
    const rows = origin.registry.demandRows('eu-west');
    assert.equal(rows.length, 2);
    assert.deepEqual({ ...rows[0], receivedAt: 0 }, { region: 'eu-west', from: 1_700_000_000_000, to: Date.parse('2023-11-14T22:14:00Z'), receivedAt: 0, model: 'demo', version: '1.1', blob: h, requests: 5, bytes: 1234, hits: 4 });
    for (const bad of [{ region: '../x', from: 0, to: 1, items: [] }, { region: 'a', from: 5, to: 1, items: [] }, { region: 'a', from: 0, to: 1, items: [{ requests: -1, bytes: 0 }] }, { region: 'a', from: 0, to: 1, items: [{ blob: '../', requests: 1, bytes: 0 }] }]) {
      assert.equal((await raw(origin.url, 'POST', '/v1/demand', { 'content-type': 'application/json' }, JSON.stringify(bad))).status, 400, JSON.stringify(bad));
    }
  });

  test('CORS: reads are usable from web pages; preflight allows Range; publishing is not exposed', async () => {
    const r = await raw(origin.url, 'GET', '/v1/models');
    assert.equal(r.headers['access-control-allow-origin'], '*');
    const pre = await raw(origin.url, 'OPTIONS', '/v1/models/demo/versions/1.1/files/weights/model.bin', { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' });
    assert.equal(pre.status, 204);
    assert.match(String(pre.headers['access-control-allow-headers']), /Range/);
    assert.match(String(pre.headers['access-control-expose-headers'] ?? ''), /Content-Range/);
    assert.equal((await raw(origin.url, 'OPTIONS', '/v1/nothing')).status, 404);
    const pub = await raw(origin.url, 'POST', '/v1/publish/uploads', { 'content-type': 'application/json' }, '{}');
    assert.equal(pub.headers['access-control-allow-origin'], undefined);
  });

  test('health, openapi and unknown routes', async () => {
    const h = JSON.parse((await raw(origin.url, 'GET', '/healthz')).body.toString());
    assert.equal(h.ok, true);
    assert.equal(h.role, 'origin');
    assert.equal((await raw(origin.url, 'GET', '/nope')).status, 404);
    assert.equal((await raw(origin.url, 'DELETE', '/v1/models')).status, 405);
  });
});

function __filename_(): string {
  return new URL(import.meta.url).pathname;
}


describe('publish --optimize int8', () => {
  const onnx = new URL('../../../../shared/fixtures/models/onnx/ppocr_mobile_v2_cls.onnx', import.meta.url).pathname;
  test('quantizes ONNX files locally, uploads the INT8 model and records the original', { skip: !existsSync(onnx) ? 'fixture missing' : false }, async () => {
    const files = await collectFiles([onnx]);
    const r = await publish({ server: origin.url, token, name: 'cls', version: '1', optimize: 'int8', files });
    assert.equal(r.job?.status, 'done');
    assert.equal(r.optimized?.length, 1);
    const o = r.optimized![0]!;
    assert.equal(o.size, files[0]!.size);
    assert.ok(o.int8Size < o.size * 0.6, `int8 ${o.int8Size} vs ${o.size}`);
    const env = JSON.parse((await raw(origin.url, 'GET', '/v1/models/cls/versions/1/manifest')).body.toString());
    const m = verifyManifestEnvelope(env, origin.keys.publicKey);
    assert.equal(m.files[0]!.size, o.int8Size);
    assert.equal(m.files[0]!.format, 'onnx');
    assert.deepEqual(origin.registry.getVersion('cls', '1')?.options, { optimize: 'int8', original: [{ path: o.path, size: o.size, sha256: o.sha256 }] });
  });
});

describe('fuzz', () => {
  test('random request paths never cause a 5xx', async () => {
    const fc = (await import('fast-check')).default;
    const seg = fc.oneof(
      fc.constantFrom('v1', 'models', 'demo', 'versions', '1.1', 'files', 'weights', 'model.bin', 'blobs', 'channels', 'manifest', 'latest', '..', '.', '%2e%2e', '%2f', '%252e', '%00', '%', '%zz', ''),
      fc.stringMatching(/^[A-Za-z0-9._~%-]{0,12}$/),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(seg, { minLength: 1, maxLength: 9 }), fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE'), async (parts, method) => {
        const r = await raw(origin.url, method, '/' + parts.join('/'));
        assert.ok(r.status < 500, `${method} /${parts.join('/')} → ${r.status} ${r.body.toString().slice(0, 200)}`);
      }),
      { numRuns: 300 },
    );
  });
});

describe('concurrent blob serving', () => {
  test('concurrent full and ranged downloads get exact bytes; aborted ones do not disturb the others', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 12345);
    const { hash } = await origin.store.put(big);
    const u = new URL(origin.url);
    const aborted = Array.from({ length: 6 }, () =>
      new Promise<void>((resolve) => {
        const req = request({ host: u.hostname, port: u.port, path: `/v1/blobs/${hash}` }, (res) => {
          res.once('data', () => req.destroy());
          res.on('error', () => resolve());
          res.on('close', () => resolve());
        });
        req.on('error', () => resolve());
        req.end();
      }),
    );
    const ranges = Array.from({ length: 24 }, (_, i) => {
      const start = (i * 131_071) % big.length;
      const end = Math.min(big.length, start + 1_500_000 + i * 10_000);
      return { start, end };
    });
    const [fulls, parts] = await Promise.all([
      Promise.all(Array.from({ length: 6 }, () => raw(origin.url, 'GET', `/v1/blobs/${hash}`))),
      Promise.all(ranges.map((r) => raw(origin.url, 'GET', `/v1/blobs/${hash}`, { range: `bytes=${r.start}-${r.end - 1}` }))),
      Promise.all(aborted),
    ]);
    for (const f of fulls) assert.equal(sha256Hex(f.body), hash);
    parts.forEach((p, i) => {
      assert.equal(p.status, 206);
      assert.ok(p.body.equals(big.subarray(ranges[i]!.start, ranges[i]!.end)), `range ${i}`);
    });
    // and the server is still fine afterwards, with every file buffer returned
    assert.equal(sha256Hex((await raw(origin.url, 'GET', `/v1/blobs/${hash}`)).body), hash);
    for (let i = 0; i < 100 && fileBuffersInUse() !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(fileBuffersInUse(), 0);
  });
});
