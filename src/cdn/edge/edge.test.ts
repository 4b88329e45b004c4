import assert from 'node:assert/strict';
import { mkdtemp, open, readdir, rm, stat, unlink } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { blobPath, type FillIo } from './blob-cache.ts';
import { startEdge, type EdgeOptions, type EdgeServer } from './server.ts';
import { randomBlob, sha256, startTestOrigin, type TestOrigin } from './test-origin.ts';

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** ms from request to the first body byte */
  ttfbMs: number;
  /** the response ended early (connection aborted) */
  aborted: boolean;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    // keep the raw path: no URL normalisation of '..' (path traversal tests)
    const req = http.request({ host: u.hostname, port: u.port, path: url.slice(u.origin.length), method, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      let ttfb = -1;
      let aborted = false;
      res.on('data', (c: Buffer) => {
        if (ttfb < 0) ttfb = performance.now() - t0;
        parts.push(c);
      });
      res.on('aborted', () => (aborted = true));
      res.on('error', () => (aborted = true));
      res.on('close', () => {
        const body = Buffer.concat(parts);
        const len = Number(res.headers['content-length']);
        if (Number.isFinite(len) && method !== 'HEAD' && res.statusCode !== 304 && body.length !== len) aborted = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ttfbMs: ttfb, aborted });
      });
    });
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') reject(err);
      else resolve({ status: 0, headers: {}, body: Buffer.alloc(0), ttfbMs: -1, aborted: true });
    });
    req.end();
  });
}

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mcdn-edge-'));
  dirs.push(d);
  return d;
}

let origin: TestOrigin;
const edges: EdgeServer[] = [];
async function edge(opts: Partial<EdgeOptions> = {}): Promise<EdgeServer> {
  const e = await startEdge({ origin: origin.url, region: 'test', cacheDir: opts.cacheDir ?? (await tempDir()), cacheSizeBytes: 64 << 20, port: 0, demandIntervalMs: 0, log: process.env.EDGE_DEBUG ? (m) => console.error(m) : undefined, ...opts });
  edges.push(e);
  return e;
}

before(async () => {
  origin = await startTestOrigin();
});
after(async () => {
  for (const e of edges) await e.close().catch(() => {});
  await origin.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('edge blob cache', () => {
  test('a miss streams to the client while the cache fills', async () => {
    const data = randomBlob(2 << 20, 11);
    const h = origin.add(data);
    origin.pace = { chunk: 64 << 10, delayMs: 8 }; // ~32 writes, ≥ 250 ms total
    const e = await edge();
    try {
      const t0 = performance.now();
      const r = await get(`${e.url}/v1/blobs/${h}`);
      const total = performance.now() - t0;
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-cache'], 'MISS');
      assert.equal(sha256(r.body), h);
      assert.ok(r.ttfbMs < total / 3, `first byte after ${r.ttfbMs.toFixed(0)} ms of ${total.toFixed(0)} ms: the client waited for the whole blob`);
      assert.equal(origin.gets.get(h), 1);
      const again = await get(`${e.url}/v1/blobs/${h}`);
      assert.equal(again.headers['x-cache'], 'HIT');
      assert.equal(sha256(again.body), h);
      assert.equal(again.headers.etag, `"${h}"`);
      assert.equal(origin.gets.get(h), 1);
    } finally {
      origin.pace = { chunk: 0, delayMs: 0 };
    }
  });

  test('100 concurrent cold requests share exactly one upstream fetch', async () => {
    const data = randomBlob(3 << 20, 12);
    const h = origin.add(data);
    origin.pace = { chunk: 256 << 10, delayMs: 5 };
    const e = await edge();
    try {
      const rs = await Promise.all(Array.from({ length: 100 }, (_, i) => get(`${e.url}/v1/blobs/${h}`, i % 10 === 0 ? { range: `bytes=${i * 1000}-${i * 1000 + 99999}` } : {})));
      assert.equal(origin.gets.get(h), 1);
      for (const [i, r] of rs.entries()) {
        assert.equal(r.aborted, false);
        if (i % 10 === 0) {
          assert.equal(r.status, 206);
          assert.ok(r.body.equals(data.subarray(i * 1000, i * 1000 + 100000)));
        } else {
          assert.equal(r.status, 200);
          assert.equal(sha256(r.body), h);
        }
      }
      assert.equal(e.cache.getStats().misses, 1);
    } finally {
      origin.pace = { chunk: 0, delayMs: 0 };
    }
  });

  test('a range request is served from a partial fill as it grows', async () => {
    const data = randomBlob(2 << 20, 13);
    const h = origin.add(data);
    origin.pace = { chunk: 64 << 10, delayMs: 10 };
    const e = await edge();
    try {
      const full = get(`${e.url}/v1/blobs/${h}`);
      while (!e.cache.fillOf(h) || e.cache.fillOf(h)!.written < 256 << 10) await new Promise((r) => setTimeout(r, 5));
      const fill = e.cache.fillOf(h)!;
      assert.ok(fill.written < fill.size, 'fill should still be in progress');
      const r = await get(`${e.url}/v1/blobs/${h}`, { range: 'bytes=100000-199999' });
      assert.equal(r.status, 206);
      assert.equal(r.headers['x-cache'], 'MISS-COALESCED');
      assert.equal(r.headers['content-range'], `bytes 100000-199999/${data.length}`);
      assert.ok(r.body.equals(data.subarray(100000, 200000)));
      const suffix = await get(`${e.url}/v1/blobs/${h}`, { range: 'bytes=-1000' });
      assert.ok(suffix.body.equals(data.subarray(data.length - 1000)));
      assert.equal(sha256((await full).body), h);
      assert.equal(origin.gets.get(h), 1);
      const bad = await get(`${e.url}/v1/blobs/${h}`, { range: `bytes=${data.length}-` });
      assert.equal(bad.status, 416);
    } finally {
      origin.pace = { chunk: 0, delayMs: 0 };
    }
  });

  test('bad upstream bytes are never completed as valid; the next request refetches', async () => {
    const data = randomBlob(1 << 20, 14);
    const h = origin.add(data);
    origin.corrupt.add(h);
    const e = await edge();
    const r = await get(`${e.url}/v1/blobs/${h}`);
    assert.equal(r.aborted, true, 'a response of bytes that fail the hash must not complete');
    assert.equal(e.cache.peek(h), undefined);
    assert.equal(e.cache.getStats().corruptDetected, 1);
    origin.corrupt.delete(h);
    const ok = await get(`${e.url}/v1/blobs/${h}`);
    assert.equal(sha256(ok.body), h);
    assert.equal(origin.gets.get(h), 2);
    assert.ok(e.cache.peek(h));
  });

  test('a byte flipped in a cached file is detected and refetched, never served', async () => {
    const data = randomBlob(1 << 20, 15);
    const h = origin.add(data);
    const e = await edge();
    assert.equal(sha256((await get(`${e.url}/v1/blobs/${h}`)).body), h);
    const p = blobPath(e.cache.dir, h);
    const fh = await open(p, 'r+');
    const st0 = await fh.stat();
    await fh.write(Buffer.from([data[5000]! ^ 0x01]), 0, 1, 5000);
    await fh.close();
    // even with the mtime put back, ctime moved
    const { utimes } = await import('node:fs/promises');
    await utimes(p, st0.atime, st0.mtime);
    const r = await get(`${e.url}/v1/blobs/${h}`);
    assert.equal(r.aborted, false);
    assert.equal(sha256(r.body), h);
    assert.equal(origin.gets.get(h), 2, 'refetched from upstream');
    assert.equal(e.cache.getStats().corruptDetected, 1);
    assert.equal(sha256((await get(`${e.url}/v1/blobs/${h}`)).body), h);
  });

  test('hot blobs are served from a verified RAM copy; a disk flip never reaches clients', async () => {
    const data = randomBlob(1 << 20, 17);
    const h = origin.add(data);
    const e = await edge({ memoryBytes: 4 << 20 });
    await get(`${e.url}/v1/blobs/${h}`); // fill
    await get(`${e.url}/v1/blobs/${h}`); // disk hit 1
    await get(`${e.url}/v1/blobs/${h}`); // disk hit 2: loads the RAM copy
    await e.cache.memory.settled(h);
    const r = await get(`${e.url}/v1/blobs/${h}`, { range: 'bytes=1000-1999' });
    assert.equal(r.headers['x-cache'], 'HIT-MEM');
    assert.ok(r.body.equals(data.subarray(1000, 2000)));
    const fh = await open(blobPath(e.cache.dir, h), 'r+');
    await fh.write(Buffer.from([data[77]! ^ 0xff]), 0, 1, 77);
    await fh.close();
    const full = await get(`${e.url}/v1/blobs/${h}`);
    assert.equal(sha256(full.body), h, 'the verified RAM copy is served, not the flipped disk bytes');
    // too big for the RAM budget: stays on disk
    const big = origin.add(randomBlob(4 << 20, 18));
    for (let i = 0; i < 4; i++) await get(`${e.url}/v1/blobs/${big}`);
    await e.cache.memory.settled(big);
    assert.equal((await get(`${e.url}/v1/blobs/${big}`)).headers['x-cache'], 'HIT');
    assert.ok(e.cache.memory.usedBytes <= 4 << 20);
  });

  test('verify=always checks blocks on serve; a scrub drops silent corruption', async () => {
    const data = randomBlob(3 << 20, 16);
    const h = origin.add(data);
    const e = await edge({ verify: 'always' });
    await get(`${e.url}/v1/blobs/${h}`);
    const entry = e.cache.peek(h)!;
    // simulate bit rot that the fingerprint cannot see: forge the recorded fingerprint
    const fh = await open(entry.path, 'r+');
    await fh.write(Buffer.from([data[(2 << 20) + 7]! ^ 0x80]), 0, 1, (2 << 20) + 7);
    await fh.close();
    entry.fingerprint = (await import('./blocks.ts')).fingerprintOf(await stat(entry.path));
    // a range in an intact block is still served
    const ok = await get(`${e.url}/v1/blobs/${h}`, { range: 'bytes=0-99' });
    assert.ok(ok.body.equals(data.subarray(0, 100)));
    // the corrupt block aborts the response before any of its bytes are sent
    const r = await get(`${e.url}/v1/blobs/${h}`);
    assert.equal(r.aborted, true);
    assert.ok(r.body.length <= 2 << 20, 'no byte of the corrupt block was sent');
    assert.equal(e.cache.peek(h), undefined);
    const again = await get(`${e.url}/v1/blobs/${h}`);
    assert.equal(sha256(again.body), h);
    // scrub: corrupt silently again and let the scrubber find it
    const e2 = e.cache.peek(h)!;
    const fh2 = await open(e2.path, 'r+');
    await fh2.write(Buffer.from([data[10]! ^ 0x01]), 0, 1, 10);
    await fh2.close();
    assert.equal(await e.cache.scrub(), 1);
    assert.equal(e.cache.peek(h), undefined);
  });
});

describe('edge budget, disk full, restart', () => {
  test('the byte budget holds at all times; a blob larger than the budget streams through', async () => {
    const dir = await tempDir();
    const e = await edge({ cacheDir: dir, cacheSizeBytes: 3 << 20, policy: 'lru' });
    const hs = Array.from({ length: 6 }, (_, i) => origin.add(randomBlob((1 << 20) - 1000 * i, 100 + i)));
    for (const h of hs) {
      const r = await get(`${e.url}/v1/blobs/${h}`);
      assert.equal(sha256(r.body), h);
      assert.ok(e.cache.usedBytes <= 3 << 20, `used ${e.cache.usedBytes}`);
      let onDisk = 0;
      for (const d of await readdir(join(dir, 'blobs'))) for (const f of await readdir(join(dir, 'blobs', d))) onDisk += (await stat(join(dir, 'blobs', d, f))).size;
      assert.ok(onDisk <= 3 << 20, `on disk ${onDisk}`);
    }
    assert.equal(e.cache.list().length, 3);
    const big = randomBlob(4 << 20, 120);
    const hb = origin.add(big);
    const r = await get(`${e.url}/v1/blobs/${hb}`);
    assert.equal(r.headers['x-cache'], 'BYPASS');
    assert.equal(sha256(r.body), hb);
    const rr = await get(`${e.url}/v1/blobs/${hb}`, { range: 'bytes=10-19' });
    assert.equal(rr.status, 206);
    assert.ok(rr.body.equals(big.subarray(10, 20)));
    assert.equal(e.cache.peek(hb), undefined);
    // pinned blobs are never evicted
    const pinned = hs[5]!;
    e.cache.pin(pinned, 'test');
    for (let i = 0; i < 4; i++) await get(`${e.url}/v1/blobs/${origin.add(randomBlob(1 << 20, 200 + i))}`);
    assert.ok(e.cache.peek(pinned), 'pinned blob survived eviction');
  });

  test('ENOSPC while filling: the response completes from upstream, cached blobs keep being served', async () => {
    let failAfter = Infinity;
    let written = 0;
    const io: FillIo = {
      async write(fh, buf, pos) {
        if (written + buf.length > failAfter) {
          const err = new Error('ENOSPC: no space left on device, write') as NodeJS.ErrnoException;
          err.code = 'ENOSPC';
          throw err;
        }
        written += buf.length;
        const { bytesWritten } = await fh.write(buf, 0, buf.length, pos);
        return bytesWritten;
      },
    };
    const e = await edge({ io, diskFullBackoffMs: 60_000 });
    const cached = origin.add(randomBlob(512 << 10, 30));
    assert.equal(sha256((await get(`${e.url}/v1/blobs/${cached}`)).body), cached);
    failAfter = written + (700 << 10); // the disk fills up 700 KiB into the next fill
    const data = randomBlob(2 << 20, 31);
    const h = origin.add(data);
    origin.pace = { chunk: 64 << 10, delayMs: 2 };
    try {
      const r = await get(`${e.url}/v1/blobs/${h}`);
      assert.equal(r.aborted, false);
      assert.equal(sha256(r.body), h);
    } finally {
      origin.pace = { chunk: 0, delayMs: 0 };
    }
    assert.ok(e.cache.getStats().diskFullEvents >= 1);
    assert.equal(e.cache.peek(h), undefined);
    assert.equal((await readdir(join(e.cache.dir, 'tmp'))).length, 0, 'no partial file left');
    // while the disk is full: new misses stream through, hits still served
    const h2 = origin.add(randomBlob(100 << 10, 32));
    const r2 = await get(`${e.url}/v1/blobs/${h2}`);
    assert.equal(r2.headers['x-cache'], 'BYPASS');
    assert.equal(sha256(r2.body), h2);
    const hit = await get(`${e.url}/v1/blobs/${cached}`);
    assert.equal(sha256(hit.body), cached);
    assert.ok(hit.headers['x-cache'] === 'HIT' || e.cache.getStats().diskFullEvents > 0);
  });

  test('the index survives a restart; stray and corrupt files are reconciled', async () => {
    const dir = await tempDir();
    const a = origin.add(randomBlob(300 << 10, 40));
    const b = origin.add(randomBlob(200 << 10, 41));
    const e1 = await edge({ cacheDir: dir });
    await get(`${e1.url}/v1/blobs/${a}`);
    await get(`${e1.url}/v1/blobs/${b}`);
    e1.cache.pin(b, 'staged');
    await e1.close();
    edges.splice(edges.indexOf(e1), 1);
    const before = origin.gets.get(a);
    const e2 = await edge({ cacheDir: dir });
    const r = await get(`${e2.url}/v1/blobs/${a}`);
    assert.equal(r.headers['x-cache'], 'HIT');
    assert.equal(sha256(r.body), a);
    assert.equal(origin.gets.get(a), before);
    assert.equal(e2.cache.pins().get(b), 'staged');
    // unclean shutdown with a damaged file: the next start re-verifies everything
    const p = blobPath(dir, b);
    await e2.close();
    edges.splice(edges.indexOf(e2), 1);
    await unlink(join(dir, 'clean-shutdown'));
    const fh = await open(p, 'r+');
    await fh.write(Buffer.from('X'), 0, 1, 3);
    await fh.close();
    const e3 = await edge({ cacheDir: dir });
    assert.ok(e3.cache.peek(a));
    assert.equal(e3.cache.peek(b), undefined, 'corrupt file dropped at startup');
    assert.equal(sha256((await get(`${e3.url}/v1/blobs/${b}`)).body), b);
  });
});

describe('edge tiers', () => {
  test('a child edge fills from its parent edge; when the parent is down it goes to the origin', async () => {
    const data = randomBlob(700 << 10, 60);
    const h = origin.add(data);
    const parent = await edge();
    const child = await edge({ parent: parent.url });
    const r = await get(`${child.url}/v1/blobs/${h}`);
    assert.equal(sha256(r.body), h);
    assert.ok(parent.cache.peek(h), 'the parent cached it on the way');
    assert.ok(child.cache.peek(h));
    assert.equal(origin.gets.get(h), 1);
    const h2 = origin.add(randomBlob(300 << 10, 61));
    await parent.close();
    edges.splice(edges.indexOf(parent), 1);
    const r2 = await get(`${child.url}/v1/blobs/${h2}`);
    assert.equal(sha256(r2.body), h2);
    assert.equal(origin.gets.get(h2), 1);
  });
});

describe('edge metadata, outages, safety', () => {
  test('origin down: stale manifest and cached blobs are still served', async () => {
    const blob = origin.add(randomBlob(100 << 10, 50));
    const manifestPath = '/v1/models/m1/versions/1.0/manifest';
    const payload = Buffer.from(JSON.stringify({ schema: 1, name: 'm1', version: '1.0', createdAt: '2026-01-01T00:00:00Z', files: [{ path: 'w.bin', size: 100 << 10, sha256: blob, format: 'unknown', patches: [] }] }));
    origin.meta.set(manifestPath, { body: JSON.stringify({ payload: payload.toString('base64'), signature: 'AA==', keyId: 'k' }), cacheControl: 'public, max-age=0' });
    origin.meta.set('/v1/models/m1/channels/latest', { body: JSON.stringify({ name: 'm1', channel: 'latest', version: '1.0' }), cacheControl: 'public, max-age=5' });
    const e = await edge();
    const m1 = await get(`${e.url}${manifestPath}`);
    assert.equal(m1.status, 200);
    assert.equal(m1.headers['x-cache'], 'MISS');
    await get(`${e.url}/v1/models/m1/channels/latest`);
    const f1 = await get(`${e.url}/v1/models/m1/versions/1.0/files/w.bin`);
    assert.equal(sha256(f1.body), blob);
    const c2 = await get(`${e.url}/v1/models/m1/channels/latest`);
    assert.equal(c2.headers['x-cache'], 'HIT');
    origin.offline = true;
    try {
      const m2 = await get(`${e.url}${manifestPath}`);
      assert.equal(m2.status, 200);
      assert.equal(m2.headers['x-cache'], 'STALE');
      assert.ok(m2.body.equals(m1.body));
      const b2 = await get(`${e.url}/v1/blobs/${blob}`);
      assert.equal(b2.headers['x-cache'], 'HIT');
      assert.equal(sha256(b2.body), blob);
      const f2 = await get(`${e.url}/v1/models/m1/versions/1.0/files/w.bin`);
      assert.equal(sha256(f2.body), blob);
      const miss = await get(`${e.url}/v1/blobs/${sha256(Buffer.from('nope'))}`);
      assert.equal(miss.status, 502);
    } finally {
      origin.offline = false;
    }
    // demand: the blob was attributed to m1@1.0 through the manifest
    origin.demandReports.length = 0;
    await e.reporter.flush();
    const rep = origin.demandReports[0] as { region: string; items: { model: string; version: string; blob: string; requests: number; hits: number }[] };
    assert.equal(rep.region, 'test');
    const it = rep.items.find((x) => x.blob === blob)!;
    assert.equal(it.model, 'm1');
    assert.equal(it.version, '1.0');
    assert.ok(it.requests >= 3 && it.hits >= 2);
  });

  test('path traversal and malformed names are refused', async () => {
    const e = await edge();
    for (const p of [
      '/v1/blobs/../../etc/passwd',
      '/v1/blobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/v1/blobs/..%2f..%2findex.sqlite',
      '/v1/models/..%2f..%2f/versions/1/manifest',
      '/v1/models/m1/versions/1.0/files/../../index.sqlite',
      '/v1/models/m1/versions/1.0/files/%2e%2e/%2e%2e/index.sqlite',
      '/v1/models/m1/versions/1.0/files/a%252e%252e/b',
      '/v1/models/m1/versions/1.0/files/a%5c..%5cb',
      '/v1/models/m1/versions/1.0/files/a%00b',
      '/v1/blobs/ABCDEF',
    ]) {
      const r = await get(`${e.url}${p}`);
      assert.ok(r.status === 400 || r.status === 404, `${p} → ${r.status}`);
      assert.ok(!r.body.toString().includes('SQLite'), p);
    }
    const post = await get(`${e.url}/v1/blobs/${'0'.repeat(64)}`, {}, 'POST');
    assert.equal(post.status, 405);
  });
});
