import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { BOOTSTRAP_URL, bundle, chunkWorkerEntry, STAMP } from './entry.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { ChunkPool } from './pool.ts';
import { runEncode } from '../jobs.ts';

function roundTrip(url: URL): Promise<{ sha256: string }> {
  const w = new Worker(url, { execArgv: [] });
  return new Promise<{ sha256: string }>((resolve, reject) => {
    w.once('message', (m: { ok: boolean; result: { sha256: string }; error?: unknown }) => (m.ok ? resolve(m.result) : reject(new Error(JSON.stringify(m.error)))));
    w.once('error', reject);
    w.postMessage({ id: 1, job: { op: 'encode', raw: new Uint8Array(4096).fill(7), opts: { width: 4 } } });
  }).finally(() => w.terminate());
}

test('chunk workers start from a bundle in node_modules/.cache, and the tsx bootstrap still works', async () => {
  const url = chunkWorkerEntry();
  assert.notEqual(url.href, BOOTSTRAP_URL.href, 'esbuild is installed here: the bundle should be used');
  assert.ok(existsSync(fileURLToPath(url)));
  assert.match(url.pathname, /node_modules\/\.cache\/modelcdn\/chunk-worker-[0-9a-f]{16}\.mjs$/);
  const expected = runEncode({ op: 'encode', raw: new Uint8Array(4096).fill(7), opts: { width: 4 } }).sha256;
  assert.equal((await roundTrip(url)).sha256, expected);
  assert.equal((await roundTrip(BOOTSTRAP_URL)).sha256, expected, 'the fallback entry runs the same jobs');
  // a pool on the bundled entry encodes and decodes
  const pool = new ChunkPool(2);
  try {
    const raw = Uint8Array.from({ length: 1 << 16 }, (_, i) => (i * 31) & 255);
    const enc = await pool.encode({ op: 'encode', raw: raw.slice(), opts: { width: 4 } });
    const dec = await pool.decode({ op: 'decode', payload: enc.payload.slice(), method: enc.method, width: enc.width, rawLength: raw.length, sha256: enc.sha256, crc32: enc.crc32, index: 0 });
    assert.deepEqual(dec, raw);
  } finally {
    await pool.close();
  }
});

test('a stamp of the bundle\'s inputs lets a new process skip esbuild until a source changes', () => {
  const url = bundle();
  type Stamp = { file: string; inputs: [string, number, number][] };
  const st = JSON.parse(readFileSync(STAMP, 'utf8')) as Stamp;
  assert.equal(st.file, fileURLToPath(url));
  const names = st.inputs.map(([p]) => p);
  for (const f of ['codec/workers/chunk-worker.ts', 'codec/workers/sink.ts', 'codec/jobs.ts', 'util/direct-io.ts']) {
    assert.ok(names.some((p) => p.endsWith(f)), `the stamp lists ${f}`);
  }
  // an input that no longer matches its stamp (as after an edit) makes the next call bundle again
  const stale: Stamp = { ...st, inputs: st.inputs.map(([p, size, m], i) => [p, i === 0 ? size + 1 : size, m]) };
  writeFileSync(STAMP, JSON.stringify(stale));
  assert.equal(bundle().href, url.href);
  assert.deepEqual((JSON.parse(readFileSync(STAMP, 'utf8')) as Stamp).inputs, st.inputs, 'the stamp is written afresh');
});
