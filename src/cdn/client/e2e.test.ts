/**
 * End to end on loopback: the real origin (publish → pack → patch → signed manifest), an edge in
 * front of it, and the client pulling v1 (packed, unpacked while streaming) then v2 (patch route).
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { zstdDecompress } from '../../codec/index.ts';
import { startEdge, type EdgeServer } from '../edge/server.ts';
import { startOrigin, type OriginServer } from '../origin/server.ts';
import { collectFiles, publish } from '../origin/publish-client.ts';
import { sha256Hex } from '../../util/hash.ts';
import { pull } from './index.ts';

/** model-like float32 bytes: smooth values with a little noise (compressible, patchable) */
function modelBytes(n: number, seed: number): Buffer {
  const f = new Float32Array(Math.ceil(n / 4));
  let s = seed;
  for (let i = 0; i < f.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    f[i] = Math.round(Math.sin(i / 50) * 64 + ((s >>> 16) % 4)) / 64;
  }
  return Buffer.from(f.buffer, 0, n);
}

let dir: string;
let origin: OriginServer;
let edge: EdgeServer;
const v1 = modelBytes(400_000, 1);
const v2 = Buffer.from(v1);
for (let i = 5000; i < 6000; i++) v2[i] ^= 0x33;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcdn-e2e-'));
  origin = await startOrigin({ dataDir: join(dir, 'origin'), host: '127.0.0.1', port: 0 });
  const token = origin.registry.createToken('e2e').token;
  for (const [version, bytes] of [['1.0', v1], ['1.1', v2]] as const) {
    const d = join(dir, `src-${version}`);
    await mkdir(d);
    await writeFile(join(d, 'model.bin'), bytes);
    await writeFile(join(d, 'config.json'), JSON.stringify({ version, note: 'x'.repeat(200) }));
    const r = await publish({ server: origin.url, token, name: 'demo', version, files: await collectFiles([d]) });
    assert.equal(r.job?.status, 'done');
  }
  edge = await startEdge({ origin: origin.url, region: 'e2e', cacheDir: join(dir, 'edge'), cacheSizeBytes: 100 << 20, port: 0, demandIntervalMs: 0 });
});

after(async () => {
  await edge?.close();
  await origin?.close();
  await rm(dir, { recursive: true, force: true });
});

test('origin → edge → client: packed first pull, patch update, downgrade refused, encodings served', async () => {
  const out = join(dir, 'out');
  const home = join(dir, 'home');
  const r1 = await pull({ ref: 'demo@1.0', server: edge.url, outDir: out, home });
  assert.ok((await readFile(join(out, 'model.bin'))).equals(v1));
  const m1 = r1.files.find((f) => f.path === 'model.bin')!;
  assert.equal(m1.route, 'packed', 'the packed artifact is smaller than the raw file');
  assert.ok(r1.fetchedBytes < v1.length);

  const r2 = await pull({ ref: 'demo', server: edge.url, outDir: out, home });
  assert.equal(r2.version, '1.1');
  assert.equal(r2.previous, '1.0');
  assert.ok((await readFile(join(out, 'model.bin'))).equals(v2));
  const m2 = r2.files.find((f) => f.path === 'model.bin')!;
  assert.equal(m2.route, 'patch');
  assert.ok(r2.fetchedBytes < v2.length / 10, `update transferred ${r2.fetchedBytes} bytes`);

  await assert.rejects(pull({ ref: 'demo@1.0', server: edge.url, outDir: out, home }), /DOWNGRADE|newer than/);

  // a raw file through the edge, negotiated as zstd from the precompressed variant
  const body = await new Promise<{ enc: string | undefined; body: Buffer }>((resolve, reject) => {
    http
      .get(`${edge.url}/v1/models/demo/versions/1.1/files/model.bin`, { headers: { 'accept-encoding': 'zstd' } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => resolve({ enc: res.headers['content-encoding'] as string | undefined, body: Buffer.concat(parts) }));
      })
      .on('error', reject);
  });
  if (body.enc === 'zstd') assert.equal(sha256Hex(zstdDecompress(body.body)), sha256Hex(v2));
  else assert.equal(sha256Hex(body.body), sha256Hex(v2));

  // the edge reports demand to the real origin
  await edge.reporter.flush();
  assert.equal(edge.reporter.sent, 1);
  assert.equal(edge.reporter.failures, 0);
});

/** Publish `bytes` as `name@1.0` (one file, weights.bin) on the real origin. */
async function publishOne(name: string, bytes: Buffer): Promise<void> {
  const d = join(dir, `src-${name}`);
  await mkdir(d);
  await writeFile(join(d, 'weights.bin'), bytes);
  const token = origin.registry.createToken(name).token;
  const r = await publish({ server: origin.url, token, name, version: '1.0', files: await collectFiles([d]) });
  assert.equal(r.job?.status, 'done');
}

/** An onProgress that stops the origin once 1 MiB has arrived and starts it again on the same port 300 ms later. */
function restartOriginMidway(): { onProgress: (done: number) => void; restarted: () => Promise<void> | undefined } {
  const port = Number(new URL(origin.url).port);
  let restarted: Promise<void> | undefined;
  return {
    onProgress: (done) => {
      if (!restarted && done > 1 << 20) {
        restarted = (async () => {
          await origin.close();
          await new Promise((res) => setTimeout(res, 300));
          origin = await startOrigin({ dataDir: join(dir, 'origin'), host: '127.0.0.1', port });
        })();
      }
    },
    restarted: () => restarted,
  };
}

test('the real origin stopped mid-transfer and restarted: the pull resumes and ends with the right hash', async () => {
  const big = Buffer.alloc(6 << 20);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(((Math.imul(i, 2654435761) >>> 0) ^ (i >>> 7)) >>> 0, i);
  await publishOne('big', big);
  const out = join(dir, 'out-big');
  const mid = restartOriginMidway();
  const r = await pull({ ref: 'big@1.0', server: origin.url, outDir: out, home: join(dir, 'home-big'), parallel: 2, segmentSize: 256 << 10, noPacked: true, onProgress: mid.onProgress });
  assert.ok(mid.restarted(), 'the origin was restarted during the pull');
  await mid.restarted();
  assert.equal(sha256Hex(await readFile(join(out, 'weights.bin'))), sha256Hex(big));
  assert.ok(r.fetchedBytes < 2 * big.length, `resumed, not restarted (${r.fetchedBytes} bytes)`);
});

test('a packed file large enough for worker threads (chunk workers → sink worker), with the origin restarted mid-transfer', async () => {
  const { POOL_MIN_BYTES } = await import('../../codec/workers/pool.ts');
  const { syntheticWeights } = await import('../../codec/synth.ts');
  // FP32 weights ~ N(0, 0.02²): the packed artifact is ~85 % of the file, so the transfer takes a while
  const w = syntheticWeights((POOL_MIN_BYTES + (3 << 20)) / 4 + 31, 7, 0.02);
  const big = Buffer.from(w.buffer, w.byteOffset, w.byteLength);
  await publishOne('pool', big);
  const out = join(dir, 'out-pool');
  const mid = restartOriginMidway();
  const r = await pull({ ref: 'pool@1.0', server: origin.url, outDir: out, home: join(dir, 'home-pool'), parallel: 2, segmentSize: 512 << 10, onProgress: mid.onProgress });
  assert.ok(mid.restarted(), 'the origin was restarted during the pull');
  await mid.restarted();
  assert.equal(r.files[0]!.route, 'packed');
  assert.ok((await readFile(join(out, 'weights.bin'))).equals(big));
});

test('a packed pull cancelled mid-transfer stops its sink worker and leaves nothing placed', async () => {
  const out = join(dir, 'out-pool-cancel');
  const ac = new AbortController();
  const workersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Worker' || r === 'MessagePort').length;
  await assert.rejects(
    pull({ ref: 'pool@1.0', server: origin.url, outDir: out, home: join(dir, 'home-pool-cancel'), segmentSize: 512 << 10, signal: ac.signal, onProgress: (done) => done > 2 << 20 && ac.abort() }),
    (e: unknown) => (e as { category?: string }).category === 'cancelled',
  );
  await assert.rejects(readFile(join(out, 'weights.bin')), /ENOENT/);
  // the sink worker was terminated (chunk workers stay, idle and unref'd, for the next file)
  await new Promise((res) => setTimeout(res, 100));
  const after = process.getActiveResourcesInfo().filter((r) => r === 'Worker' || r === 'MessagePort').length;
  assert.ok(after <= workersBefore, `no worker or port left running (${workersBefore} before, ${after} after)`);
});
