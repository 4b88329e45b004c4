import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { McdnError } from '../../errors.ts';
import { zstdDecompress } from '../../codec/index.ts';
import { looksCompressible, sniffFormat, startProcessorWorker, type Processors } from './processors.ts';

let dir: string;
let worker: Processors & { close(): Promise<void> };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mcdn-proc-'));
  worker = await startProcessorWorker();
});
after(async () => {
  await worker.close();
  rmSync(dir, { recursive: true, force: true });
});

test('worker encodes zstd, br and gzip variants that decode to the input', async () => {
  const src = join(dir, 'in.json');
  const data = Buffer.from(JSON.stringify({ v: Array.from({ length: 5000 }, (_, i) => i % 13) }));
  writeFileSync(src, data);
  const dec = { zstd: (b: Buffer) => Buffer.from(zstdDecompress(b)), br: brotliDecompressSync, gzip: gunzipSync };
  for (const c of ['zstd', 'br', 'gzip'] as const) {
    const out = join(dir, `out.${c}`);
    const size = await worker.encode(src, out, c, data.length);
    const enc = readFileSync(out);
    assert.equal(size, enc.length);
    assert.ok(size < data.length / 5);
    assert.deepEqual(dec[c](enc), data);
  }
  assert.equal(typeof worker.pack, 'function', 'codec packFile is bound');
  assert.equal(typeof worker.makePatch, 'function', 'delta makePatch is bound');
});

test('errors from the worker arrive as McdnError; after close calls are refused', async () => {
  await assert.rejects(worker.encode(join(dir, 'missing'), join(dir, 'x'), 'gzip', 1), (e: Error) => e instanceof McdnError);
  const w2 = await startProcessorWorker();
  await w2.close();
  await assert.rejects(w2.detectFormat(join(dir, 'in.json'), 'in.json'), (e: McdnError) => e.code === 'PROCESSOR_STOPPED');
});

test('format sniffing and the compressibility probe', async () => {
  const st = join(dir, 'm.safetensors');
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(st, Buffer.concat([len, header, Buffer.alloc(4)]));
  assert.equal(await sniffFormat(st, 'weights'), 'safetensors');
  const gg = join(dir, 'g');
  writeFileSync(gg, Buffer.concat([Buffer.from('GGUF'), Buffer.alloc(20)]));
  assert.equal(await sniffFormat(gg, 'model'), 'gguf');
  writeFileSync(join(dir, 'vocab.txt'), 'a\nb\n');
  assert.equal(await sniffFormat(join(dir, 'vocab.txt'), 'tok/vocab.txt'), 'text');
  assert.equal(await sniffFormat(join(dir, 'vocab.txt'), 'model.json'), 'tfjs-json');
  assert.equal(await sniffFormat(join(dir, 'vocab.txt'), 'group1-shard1of2.bin'), 'tfjs-bin');
  const rnd = join(dir, 'rnd');
  writeFileSync(rnd, randomBytes(3 << 20));
  assert.equal(await looksCompressible(rnd), false);
  const zeros = join(dir, 'zeros');
  writeFileSync(zeros, Buffer.alloc(3 << 20));
  assert.equal(await looksCompressible(zeros), true);
  writeFileSync(join(dir, 'empty'), '');
  assert.equal(await looksCompressible(join(dir, 'empty')), false);
});
