import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateSigningKey, publicKeyDocument, signManifest, type KeyPair, type Manifest } from '../manifest/index.ts';
import { startEdge, type EdgeServer } from '../edge/server.ts';
import { randomBlob, sha256, startTestOrigin, type TestOrigin } from '../edge/test-origin.ts';
import { compareVersions, parseRef, pull, type PullOptions } from './index.ts';
import { isMcdnError } from '../../errors.ts';

let origin: TestOrigin;
let keys: KeyPair;
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mcdn-client-'));
  dirs.push(d);
  return d;
}

/** Publish a version on the test origin: blobs, signed manifest, channel, listing, key. */
function publish(name: string, version: string, files: { path: string; data: Buffer }[], createdAt: string, channel = 'latest'): Manifest {
  const m: Manifest = {
    schema: 1,
    name,
    version,
    createdAt,
    files: files.map((f) => ({ path: f.path, size: f.data.length, sha256: origin.add(f.data), format: 'unknown', patches: [] })),
  };
  origin.meta.set(`/v1/models/${name}/versions/${version}/manifest`, { body: JSON.stringify(signManifest(m, keys)) });
  origin.meta.set(`/v1/models/${name}/channels/${channel}`, { body: JSON.stringify({ name, channel, version }), cacheControl: 'public, max-age=0' });
  const listing = JSON.parse(String(origin.meta.get(`/v1/models/${name}`)?.body ?? `{"name":"${name}","versions":[],"channels":{}}`)) as { versions: unknown[]; channels: Record<string, string> };
  listing.versions.push({ version, createdAt, status: 'ready' });
  listing.channels[channel] = version;
  origin.meta.set(`/v1/models/${name}`, { body: JSON.stringify(listing), cacheControl: 'no-cache' });
  return m;
}

async function opts(extra: Partial<PullOptions> & { ref: string }): Promise<PullOptions> {
  return { server: origin.url, outDir: await tempDir(), home: await tempDir(), parallel: 4, segmentSize: 256 << 10, stallMs: 2000, ...extra };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(isMcdnError(e), `expected McdnError, got ${e}`);
    return e.code;
  }
  return 'OK';
}

/**
 * A loopback server for one blob that the raw fetcher cannot take as is: 'chunked' answers ranges
 * with chunked transfer encoding (the client falls back to node:http), 'ignore-range' always sends
 * the whole blob with 200 (the client skips to its range).
 */
async function startOddServer(data: Buffer, mode: 'chunked' | 'ignore-range'): Promise<{ url: string; close(): Promise<void> }> {
  const http = await import('node:http');
  const server = http.createServer((req, res) => {
    if (mode === 'ignore-range') return res.writeHead(200, { 'content-length': data.length }).end(data);
    const m = /bytes=(\d+)-(\d+)/.exec(String(req.headers.range));
    const a = Number(m?.[1] ?? 0);
    const b = Number(m?.[2] ?? data.length - 1);
    res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${data.length}`, 'transfer-encoding': 'chunked' });
    res.end(data.subarray(a, b + 1));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

before(async () => {
  origin = await startTestOrigin();
  keys = generateSigningKey();
  origin.meta.set('/.well-known/modelcdn/public-key', { body: JSON.stringify(publicKeyDocument(keys.publicKey)) });
});
after(async () => {
  await origin.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('client pull', () => {
  test('parses refs and compares versions', () => {
    assert.deepEqual(parseRef('vad@1.2'), { name: 'vad', tag: '1.2' });
    assert.deepEqual(parseRef('vad'), { name: 'vad', tag: undefined });
    assert.throws(() => parseRef('../x@1'), /invalid model name/);
    assert.throws(() => parseRef('x@../1'), /invalid version/);
    assert.ok(compareVersions('1.10', '1.9') > 0);
    assert.ok(compareVersions('2.0-beta', '2.0') > 0 || compareVersions('2.0-beta', '2.0') < 0);
  });

  test('parallel ranged pull, trust on first use, files verified and placed; a second pull fetches nothing', async () => {
    const a = randomBlob((3 << 20) + 12345, 1);
    const b = randomBlob(1000, 2);
    publish('alpha', '1.0', [{ path: 'model.bin', data: a }, { path: 'sub/config.json', data: b }, { path: 'copy/model.bin', data: a }], '2026-01-01T00:00:00Z');
    const o = await opts({ ref: 'alpha' });
    let lastDone = 0;
    const r = await pull({ ...o, onProgress: (d) => (lastDone = d) });
    assert.equal(r.version, '1.0');
    assert.equal(r.trust, 'first-use');
    assert.equal(r.fetchedBytes, a.length + b.length);
    assert.equal(lastDone, a.length + b.length);
    assert.ok((await readFile(join(o.outDir!, 'model.bin'))).equals(a));
    assert.ok((await readFile(join(o.outDir!, 'sub/config.json'))).equals(b));
    assert.ok((await readFile(join(o.outDir!, 'copy/model.bin'))).equals(a), 'duplicate content placed once downloaded');
    assert.equal(r.files.find((f) => f.path === 'copy/model.bin')!.route, 'cache');
    assert.equal((await readdir(join(o.outDir!, '.modelcdn', 'partial'))).length, 0);
    const pins = JSON.parse(await readFile(join(o.home!, 'trusted-keys.json'), 'utf8')) as Record<string, { keyId: string }>;
    assert.equal(pins[origin.url]!.keyId, keys.keyId);
    const again = await pull({ ...o, ref: 'alpha@1.0' });
    assert.equal(again.trust, 'pinned');
    assert.equal(again.fetchedBytes, 0);
    assert.ok(again.files.every((f) => f.route === 'present'));
    // a file shared with another model comes from the local content cache
    publish('beta', '1.0', [{ path: 'weights.bin', data: a }], '2026-01-02T00:00:00Z');
    const other = await pull({ ...o, ref: 'beta', outDir: await tempDir() });
    assert.equal(other.files[0]!.route, 'cache');
    assert.equal(other.fetchedBytes, 0);
    assert.ok((await readFile(join(other.outDir, 'weights.bin'))).equals(a));
  });

  test('origin killed mid-transfer: the client resumes when it returns and ends with the right hash', async () => {
    const data = randomBlob(4 << 20, 3);
    publish('gamma', '1.0', [{ path: 'w.bin', data }], '2026-01-01T00:00:00Z');
    const o = await opts({ ref: 'gamma@1.0', parallel: 2 });
    origin.pace = { chunk: 64 << 10, delayMs: 10 };
    let got = 0;
    let killed = false;
    try {
      const r = await pull({
        ...o,
        onProgress: (d) => {
          got = d;
          if (!killed && got > 1 << 20) {
            killed = true;
            origin.offline = true;
            origin.dropConnections();
            setTimeout(() => (origin.offline = false), 800);
          }
        },
      });
      assert.ok(killed);
      assert.equal(sha256(await readFile(join(o.outDir!, 'w.bin'))), sha256(data));
      assert.equal(r.files[0]!.sha256, sha256(data));
    } finally {
      origin.pace = { chunk: 0, delayMs: 0 };
      origin.offline = false;
    }
  });

  test('resume after a process restart: partial state on disk is reused; stalls are retried', async () => {
    const data = randomBlob(4 << 20, 4);
    publish('delta', '1.0', [{ path: 'w.bin', data }], '2026-01-01T00:00:00Z');
    const o = await opts({ ref: 'delta@1.0', parallel: 2 });
    origin.pace = { chunk: 64 << 10, delayMs: 5 };
    const ac = new AbortController();
    try {
      const c = await code(pull({ ...o, signal: ac.signal, onProgress: (d) => d > 2 << 20 && ac.abort() }));
      assert.equal(c, 'CANCELLED');
    } finally {
      origin.pace = { chunk: 0, delayMs: 0 };
    }
    const partial = await readdir(join(o.outDir!, '.modelcdn', 'partial'));
    assert.ok(partial.some((f) => f.endsWith('.part.json')), 'sidecar kept');
    await assert.rejects(stat(join(o.outDir!, 'w.bin')), 'no file placed before verification');
    origin.stall = { remaining: 1, after: 10 << 10 };
    const r = await pull({ ...o, stallMs: 300 });
    assert.ok(r.fetchedBytes < data.length - (1 << 20), `fetched ${r.fetchedBytes} of ${data.length}: did not resume`);
    assert.ok((await readFile(join(o.outDir!, 'w.bin'))).equals(data));
    assert.equal(origin.stall.remaining, 0, 'the stalled response was hit and retried');
  });

  test('tampered manifests, wrong keys, substituted versions and bad blobs are rejected', async () => {
    const data = randomBlob(50_000, 5);
    const m = publish('eps', '1.0', [{ path: 'w.bin', data }], '2026-01-01T00:00:00Z');
    const path = '/v1/models/eps/versions/1.0/manifest';
    const env = JSON.parse(String(origin.meta.get(path)!.body)) as { payload: string; signature: string; keyId: string };
    // payload changed, signature kept
    const forged = { ...m, files: [{ ...m.files[0]!, sha256: sha256(Buffer.from('evil')) }] };
    origin.meta.set(path, { body: JSON.stringify({ ...env, payload: Buffer.from(JSON.stringify(forged)).toString('base64') }) });
    assert.equal(await code(pull(await opts({ ref: 'eps@1.0' }))), 'MANIFEST_SIGNATURE_INVALID');
    // signature flipped
    const sig = Buffer.from(env.signature, 'base64');
    sig[3] ^= 1;
    origin.meta.set(path, { body: JSON.stringify({ ...env, signature: sig.toString('base64') }) });
    assert.equal(await code(pull(await opts({ ref: 'eps@1.0' }))), 'MANIFEST_SIGNATURE_INVALID');
    // signed by another key, client trusts the real one via --trust
    const other = generateSigningKey();
    origin.meta.set(path, { body: JSON.stringify(signManifest(m, other)) });
    const keyFile = join(await tempDir(), 'origin.pub.json');
    await writeFile(keyFile, JSON.stringify(publicKeyDocument(keys.publicKey)));
    assert.equal(await code(pull(await opts({ ref: 'eps@1.0', trustFile: keyFile }))), 'MANIFEST_KEY_MISMATCH');
    // a validly signed manifest of another version served for this one
    publish('eps', '0.9', [{ path: 'w.bin', data }], '2025-12-01T00:00:00Z', 'old');
    origin.meta.set(path, { body: String(origin.meta.get('/v1/models/eps/versions/0.9/manifest')!.body) });
    assert.equal(await code(pull(await opts({ ref: 'eps@1.0', trustFile: keyFile }))), 'MANIFEST_WRONG_VERSION');
    // good manifest, corrupted blob bytes: nothing placed
    origin.meta.set(path, { body: JSON.stringify(env) });
    origin.corrupt.add(m.files[0]!.sha256);
    const o = await opts({ ref: 'eps@1.0', trustFile: keyFile });
    try {
      assert.equal(await code(pull(o)), 'BLOB_HASH_MISMATCH');
    } finally {
      origin.corrupt.delete(m.files[0]!.sha256);
    }
    await assert.rejects(stat(join(o.outDir!, 'w.bin')));
    // bad bytes once (a corrupt fill upstream), good bytes on the retry: the pull succeeds
    origin.corrupt.add(m.files[0]!.sha256);
    const notes: string[] = [];
    const o2 = await opts({ ref: 'eps@1.0', trustFile: keyFile });
    const r = await pull({ ...o2, onNote: (n) => (notes.push(n), origin.corrupt.delete(m.files[0]!.sha256)) });
    assert.ok(notes.some((n) => /downloading it again/.test(n)));
    assert.ok((await readFile(join(o2.outDir!, 'w.bin'))).equals(data));
    assert.equal(r.files[0]!.sha256, m.files[0]!.sha256);
  });

  test('an older version is refused unless --allow-downgrade', async () => {
    const v1 = randomBlob(10_000, 6);
    const v2 = randomBlob(10_000, 7);
    publish('zeta', '1.0', [{ path: 'w.bin', data: v1 }], '2026-01-01T00:00:00Z');
    publish('zeta', '2.0', [{ path: 'w.bin', data: v2 }], '2026-02-01T00:00:00Z');
    const o = await opts({ ref: 'zeta' });
    assert.equal((await pull(o)).version, '2.0');
    assert.equal(await code(pull({ ...o, ref: 'zeta@1.0' })), 'DOWNGRADE_REFUSED');
    const r = await pull({ ...o, ref: 'zeta@1.0', allowDowngrade: true });
    assert.equal(r.version, '1.0');
    assert.equal(r.previous, '2.0');
    assert.ok((await readFile(join(o.outDir!, 'w.bin'))).equals(v1));
  });
});

describe('client download engine', () => {
  test('a server that answers with chunked encoding is handled (falls back from the raw fetcher)', async () => {
    const { downloadBlob, Semaphore, ClientHttp } = await import('./index.ts');
    const data = randomBlob(300_000, 21);
    const server = await startOddServer(data, 'chunked');
    try {
      const client = new ClientHttp(server.url);
      const part = join(await tempDir(), 'x.part');
      const r = await downloadBlob({ http: client, hash: sha256(data), size: data.length, partPath: part, sem: new Semaphore(2), segmentSize: 64 << 10 });
      assert.equal(client.rawOk, false);
      assert.ok((await readFile(r.path)).equals(data));
      client.close();
    } finally {
      await server.close();
    }
  });
});

describe('client through an edge', () => {
  let edge: EdgeServer;
  before(async () => {
    edge = await startEdge({ origin: origin.url, region: 't', cacheDir: await tempDir(), cacheSizeBytes: 64 << 20, port: 0, demandIntervalMs: 0 });
  });
  after(async () => {
    await edge.close();
  });

  test('pull through the edge; the origin dies mid-fill and the pull still completes verified', async () => {
    const data = randomBlob(3 << 20, 8);
    const m = publish('eta', '1.0', [{ path: 'w.bin', data }], '2026-01-01T00:00:00Z');
    const o = await opts({ ref: 'eta', server: edge.url, parallel: 3 });
    origin.pace = { chunk: 64 << 10, delayMs: 8 };
    let killed = false;
    try {
      const r = await pull({
        ...o,
        onProgress: (d) => {
          if (!killed && d > 512 << 10) {
            killed = true;
            origin.offline = true;
            origin.dropConnections();
            setTimeout(() => (origin.offline = false), 600);
          }
        },
      });
      assert.ok(killed);
      assert.equal(r.files[0]!.sha256, m.files[0]!.sha256);
      assert.ok((await readFile(join(o.outDir!, 'w.bin'))).equals(data));
    } finally {
      origin.pace = { chunk: 0, delayMs: 0 };
      origin.offline = false;
    }
    // second client: served from the edge cache even with the origin down
    origin.offline = true;
    try {
      const o2 = await opts({ ref: 'eta@1.0', server: edge.url });
      const r2 = await pull(o2);
      assert.ok((await readFile(join(o2.outDir!, 'w.bin'))).equals(data));
      assert.equal(r2.fetchedBytes, data.length);
    } finally {
      origin.offline = false;
    }
  });
});

describe('direct I/O downloads (O_DIRECT from aligned ring blocks)', () => {
  const direct = { directMinBytes: 0, segmentSize: 256 << 10 };
  const supported = async () => {
    const { openDirect } = await import('../../util/direct-io.ts');
    const fh = await openDirect(join(await tempDir(), 'probe'), false);
    await fh?.close();
    return fh !== undefined;
  };

  test('a blob with an unaligned tail downloads exactly, over parallel segments', async () => {
    const { downloadBlob, Semaphore, ClientHttp } = await import('./index.ts');
    const data = randomBlob((3 << 20) + 12_345, 31);
    const h = origin.add(data);
    const client = new ClientHttp(origin.url);
    const part = join(await tempDir(), 'd.part');
    const r = await downloadBlob({ http: client, hash: h, size: data.length, partPath: part, sem: new Semaphore(3), ...direct });
    client.close();
    assert.equal(r.direct, await supported());
    const got = await readFile(r.path);
    assert.equal(got.length, data.length, 'the padded last block was cut off');
    assert.ok(got.equals(data));
  });

  test('connections cut at unaligned offsets: whole 4 KiB units are kept, the rest fetched again', async () => {
    const { downloadBlob, Semaphore, ClientHttp } = await import('./index.ts');
    const data = randomBlob((2 << 20) + 777, 32);
    const h = origin.add(data);
    origin.cut = { remaining: 5, after: 100_001 };
    try {
      const client = new ClientHttp(origin.url, { retries: 10 });
      const r = await downloadBlob({ http: client, hash: h, size: data.length, partPath: join(await tempDir(), 'c.part'), sem: new Semaphore(2), ...direct });
      client.close();
      assert.ok((await readFile(r.path)).equals(data));
      assert.equal(r.fetched, data.length, 'counted once: a dropped tail was never counted');
      assert.ok((origin.gets.get(h) ?? 0) > Math.ceil(data.length / (256 << 10)) + 2, `each cut segment was asked for again (${origin.gets.get(h)} GETs)`);
    } finally {
      origin.cut = { remaining: 0, after: 0 };
    }
  });

  test('resumes a part file left by a page-cache download at an unaligned point', async () => {
    const { downloadBlob, Semaphore, ClientHttp } = await import('./index.ts');
    const data = randomBlob((2 << 20) + 5, 33);
    const h = origin.add(data);
    const part = join(await tempDir(), 'r.part');
    const ac = new AbortController();
    origin.pace = { chunk: 10_007, delayMs: 2 };
    const client = new ClientHttp(origin.url);
    try {
      await assert.rejects(
        downloadBlob({ http: client, hash: h, size: data.length, partPath: part, sem: new Semaphore(2), signal: ac.signal, directIo: false, segmentSize: 256 << 10, onBytes: () => ac.abort() }),
      );
    } finally {
      origin.pace = { chunk: 0, delayMs: 0 };
    }
    const sidecar = JSON.parse(await readFile(`${part}.json`, 'utf8')) as { done: number[] };
    assert.ok(sidecar.done.some((d) => d % 4096 !== 0), 'left off at an unaligned point');
    const r = await downloadBlob({ http: client, hash: h, size: data.length, partPath: part, sem: new Semaphore(2), ...direct });
    client.close();
    assert.ok(r.resumedFrom > 0);
    assert.equal(r.direct, await supported());
    assert.ok((await readFile(r.path)).equals(data));
  });

  test('a server that ignores Range, and one that sends chunked bodies (copied into blocks)', async () => {
    const { downloadBlob, Semaphore, ClientHttp } = await import('./index.ts');
    const data = randomBlob((1 << 20) + 3000, 34);
    for (const mode of ['ignore-range', 'chunked'] as const) {
      const server = await startOddServer(data, mode);
      try {
        const client = new ClientHttp(server.url);
        const r = await downloadBlob({ http: client, hash: sha256(data), size: data.length, partPath: join(await tempDir(), `${mode}.part`), sem: new Semaphore(2), ...direct });
        client.close();
        assert.ok((await readFile(r.path)).equals(data), mode);
      } finally {
        await server.close();
      }
    }
  });

  test('a follower that hands chunks back reads ring blocks in order', async () => {
    const { downloadBlob, Semaphore, ClientHttp } = await import('./index.ts');
    const { releaseReadBuffer } = await import('../http/raw-fetch.ts');
    const data = randomBlob((2 << 20) + 99, 36);
    const h = origin.add(data);
    const client = new ClientHttp(origin.url);
    const seen: Buffer[] = [];
    const r = await downloadBlob({
      http: client,
      hash: h,
      size: data.length,
      partPath: join(await tempDir(), 'f.part'),
      sem: new Semaphore(3),
      ...direct,
      followerReleases: true,
      follower: async (c) => {
        seen.push(Buffer.from(c)); // a copy; then the block goes back
        await new Promise((res) => setImmediate(res));
        releaseReadBuffer(c);
      },
    });
    client.close();
    assert.equal(r.direct, await supported());
    assert.ok(Buffer.concat(seen).equals(data));
    assert.ok((await readFile(r.path)).equals(data));
  });

  test('on a fast link a follower download stops writing resume state; an interrupted one resumes from what was written', async () => {
    const { downloadBlob, Semaphore, ClientHttp } = await import('./index.ts');
    const { releaseReadBuffer } = await import('../http/raw-fetch.ts');
    if (!(await supported())) return; // only direct follower downloads skip the writes
    const data = randomBlob((3 << 20) + 4321, 38);
    const h = origin.add(data);
    const client = new ClientHttp(origin.url);
    const follow = (seen: Buffer[]) => async (c: Buffer) => {
      seen.push(Buffer.from(c));
      releaseReadBuffer(c);
    };
    const always = { probeBytes: 512 << 10, bytesPerSecond: 1 }; // every link counts as fast
    // a whole download: the follower gets every byte, the part file is not the blob
    const seen: Buffer[] = [];
    const r = await downloadBlob({ http: client, hash: h, size: data.length, partPath: join(await tempDir(), 'fast.part'), sem: new Semaphore(2), ...direct, followerReleases: true, follower: follow(seen), fastLink: always });
    assert.equal(r.complete, false);
    assert.ok(Buffer.concat(seen).equals(data));
    // 'always' (and MODELCDN_RESUME_STATE=always) keeps writing
    const seen2: Buffer[] = [];
    const r2 = await downloadBlob({ http: client, hash: h, size: data.length, partPath: join(await tempDir(), 'keep.part'), sem: new Semaphore(2), ...direct, followerReleases: true, follower: follow(seen2), fastLink: always, resumeState: 'always' });
    assert.equal(r2.complete, true);
    assert.ok((await readFile(r2.path)).equals(data));
    // interrupted after the writes stopped: the sidecar claims only bytes that are on disk, and the
    // next call (resume state kept) starts from there and ends with the right bytes
    const part = join(await tempDir(), 'cut.part');
    const ac = new AbortController();
    let got = 0;
    origin.pace = { chunk: 65_536, delayMs: 1 };
    try {
      await assert.rejects(
        downloadBlob({ http: client, hash: h, size: data.length, partPath: part, sem: new Semaphore(2), ...direct, signal: ac.signal, followerReleases: true, fastLink: always,
          follower: async (c) => {
            got += c.length;
            releaseReadBuffer(c);
            if (got >= 2 << 20) ac.abort();
          } }),
      );
    } finally {
      origin.pace = { chunk: 0, delayMs: 0 };
    }
    const side = JSON.parse(await readFile(`${part}.json`, 'utf8')) as { done: number[]; segmentSize: number };
    const onDisk = await readFile(part);
    side.done.forEach((d, i) => {
      const at = i * side.segmentSize;
      assert.ok(onDisk.subarray(at, at + d).equals(data.subarray(at, at + d)), `segment ${i}: the ${d} bytes the sidecar claims are on disk`);
    });
    assert.ok(side.done.reduce((a, b) => a + b, 0) < 2 << 20, 'bytes taken after the writes stopped are not claimed');
    const seen3: Buffer[] = [];
    const r3 = await downloadBlob({ http: client, hash: h, size: data.length, partPath: part, sem: new Semaphore(2), ...direct, followerReleases: true, follower: follow(seen3), resumeState: 'always' });
    client.close();
    assert.ok(r3.resumedFrom > 0, 'resumed');
    assert.ok(Buffer.concat(seen3).equals(data), 'the follower still sees the whole blob, resumed bytes read from the part file');
    assert.ok((await readFile(r3.path)).equals(data));
  });

  test('MODELCDN_DIRECT_IO=0 writes through the page cache', async () => {
    const { downloadBlob, Semaphore, ClientHttp } = await import('./index.ts');
    const data = randomBlob((1 << 20) + 17, 37);
    const h = origin.add(data);
    const client = new ClientHttp(origin.url);
    process.env.MODELCDN_DIRECT_IO = '0';
    try {
      const r = await downloadBlob({ http: client, hash: h, size: data.length, partPath: join(await tempDir(), 'p.part'), sem: new Semaphore(2), ...direct });
      assert.equal(r.direct, false);
      assert.ok((await readFile(r.path)).equals(data));
    } finally {
      delete process.env.MODELCDN_DIRECT_IO;
      client.close();
    }
  });

  test('a file system that refuses a direct write: receiveDirect says so (DirectIoRefused) and gives every block back', async () => {
    const { receiveDirect, DirectIoRefused } = await import('./direct-body.ts');
    const { BlockRing } = await import('../../util/direct-io.ts');
    const { EventEmitter } = await import('node:events');
    const ring = new BlockRing(4);
    const body = Object.assign(new EventEmitter(), {
      headers: {},
      statusCode: 206,
      readInto: undefined as (() => Uint8Array | undefined) | undefined,
      paused: false,
      pause() {
        this.paused = true;
        return this;
      },
      resume() {
        this.paused = false;
        return this;
      },
      isPaused() {
        return this.paused;
      },
      destroy() {
        return this;
      },
    });
    const refusing = { writev: async () => Promise.reject(Object.assign(new Error('EINVAL: invalid argument, write'), { code: 'EINVAL' })) } as unknown as import('node:fs/promises').FileHandle;
    const p = receiveDirect(body, { ring, fh: refusing, pos: 0, maxLen: 3 << 20, skip: 0, size: 3 << 20, reserve: () => 0, onWritten: () => assert.fail('nothing was written') });
    body.emit('data', Buffer.alloc(2 << 20, 1)); // copied in: fills two blocks, the first write is refused
    await assert.rejects(p, (e: unknown) => e instanceof DirectIoRefused);
    assert.ok(ring.idle, 'every block is back in the ring');
  });

  test('a corrupt blob is discarded in direct mode too', async () => {
    const { downloadBlob, Semaphore, ClientHttp } = await import('./index.ts');
    const data = randomBlob(1 << 20, 35);
    const h = origin.add(data);
    origin.corrupt.add(h);
    try {
      const client = new ClientHttp(origin.url);
      const part = join(await tempDir(), 'bad.part');
      assert.equal(await code(downloadBlob({ http: client, hash: h, size: data.length, partPath: part, sem: new Semaphore(2), ...direct })), 'BLOB_HASH_MISMATCH');
      client.close();
      await assert.rejects(stat(part));
    } finally {
      origin.corrupt.delete(h);
    }
  });
});

test('installed-file checks: sha256File and fileMatches (thread pool where the addon is built)', async () => {
  const { sha256File, fileMatches } = await import('./local-state.ts');
  const d = await mkdtemp(join(tmpdir(), 'mcdn-client-hash-'));
  try {
    const bytes = randomBlob(3 << 20, 5);
    const p = join(d, 'model.bin');
    await writeFile(p, bytes);
    assert.equal(await sha256File(p), sha256(bytes));
    assert.equal(await fileMatches(p, sha256(bytes), bytes.length), true);
    assert.equal(await fileMatches(p, sha256(bytes), bytes.length + 1), false, 'size differs');
    const changed = Uint8Array.from(bytes);
    changed[changed.length - 1] ^= 1;
    await writeFile(p, changed);
    assert.equal(await fileMatches(p, sha256(bytes), bytes.length), false, 'content differs');
    assert.equal(await sha256File(join(d, 'missing')), undefined);
    assert.equal(await sha256File(d), undefined, 'a directory');
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});
