import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { McdnError } from '../errors.ts';
import { packFile } from './pack.ts';
import { unpackFile, extractTensor, readMczHeader } from './unpack.ts';
import { ChunkPool } from './workers/pool.ts';
import { syntheticWeights } from './synth.ts';
import { main } from '../cli/main.ts';
import { ONNX_FIXTURES, TFJS_FIXTURE_DIRS, haveFixtures } from '../../test/fixtures.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcz-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const modelFiles = () => [...ONNX_FIXTURES, ...TFJS_FIXTURE_DIRS.flatMap((d) => readdirSync(d).map((f) => join(d, f)))];
/** only our outputs: no temp files left behind */
const leftovers = () => readdirSync(dir).filter((f) => f.includes('.tmp-'));

test('every fixture model file (onnx, tfjs shards and json) round-trips byte for byte', { skip: !haveFixtures() }, async () => {
  for (const f of modelFiles()) {
    const packed = join(dir, basename(f) + '.mcz');
    const out = join(dir, basename(f) + '.out');
    const r = await packFile(f, packed, { boost: 'off' }); // boost only changes levels; keep the suite fast
    assert.equal(r.packedSize, statSync(packed).size);
    assert.equal(r.sha256, sha(f));
    const u = await unpackFile(packed, out);
    assert.equal(u.sha256, r.sha256, f);
    assert.equal(sha(out), r.sha256, f);
    if (!f.endsWith('.json')) assert.ok(r.packedSize < r.originalSize, `${f} did not shrink`);
  }
  assert.deepEqual(leftovers(), []);
});

test('worker pool: pack and unpack on threads give the same bytes as inline', { skip: !haveFixtures() }, async () => {
  const pool = new ChunkPool(2);
  try {
    const f = ONNX_FIXTURES.find((p) => p.endsWith('ppocr_v4_det.onnx'))!;
    const a = join(dir, 'pool.mcz');
    const b = join(dir, 'inline.mcz');
    await packFile(f, a, { pool });
    await packFile(f, b, { pool: false });
    assert.equal(sha(a), sha(b));
    const u = await unpackFile(a, join(dir, 'pool.out'), { pool });
    assert.equal(u.sha256, sha(f));
    assert.equal(sha(join(dir, 'pool.out')), sha(f));
  } finally {
    await pool.close();
  }
});

test('a packed file with a flipped byte or cut short fails with McdnError naming file and chunk; no output left', { skip: !haveFixtures() }, async () => {
  const f = ONNX_FIXTURES.find((p) => p.endsWith('silero_vad_v5.onnx'))!;
  const packed = join(dir, 'flip-src.mcz');
  await packFile(f, packed);
  const good = readFileSync(packed);
  const header = await readMczHeader(packed);
  let seed = 12345;
  const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  for (let i = 0; i < 12; i++) {
    const bad = Buffer.from(good);
    const at = i < 2 ? rnd(header.headerLength) : header.headerLength + rnd(good.length - header.headerLength);
    bad[at] ^= 1 << rnd(8);
    const p = join(dir, `flip-${i}.mcz`);
    const out = join(dir, `flip-${i}.out`);
    writeFileSync(p, bad);
    await assert.rejects(unpackFile(p, out), (e: unknown) => {
      assert.ok(e instanceof McdnError, String(e));
      assert.ok(e.message.startsWith(p), e.message);
      if (at >= header.headerLength) assert.match(e.message, /chunk \d+/);
      return true;
    });
    assert.equal(existsSync(out), false);
  }
  for (const cut of [0, 7, 100, header.headerLength, header.headerLength + 1000, good.length - 1]) {
    const p = join(dir, `cut-${cut}.mcz`);
    writeFileSync(p, good.subarray(0, cut));
    await assert.rejects(unpackFile(p, join(dir, `cut-${cut}.out`)), (e: unknown) => e instanceof McdnError && e.code === (cut < 16 ? 'MCZ_TRUNCATED' : e.code));
    assert.equal(existsSync(join(dir, `cut-${cut}.out`)), false);
  }
  assert.deepEqual(leftovers(), []);
});

test('extractTensor on packed fixtures returns the bytes the layout names', { skip: !haveFixtures() }, async () => {
  const { readModelLayout } = await import('../formats/index.ts');
  for (const f of [ONNX_FIXTURES.find((p) => p.endsWith('ppocr_mobile_v2_cls.onnx'))!, join(TFJS_FIXTURE_DIRS[0]!, 'movenet-lightning.bin')]) {
    const packed = join(dir, basename(f) + '.x.mcz');
    const r = await packFile(f, packed, { boost: 'off' });
    assert.notEqual(r.format, 'unknown');
    const layout = await readModelLayout(f);
    const bytes = readFileSync(f);
    const picks = layout.tensors.filter((t) => !t.file || t.file === f).sort((a, b) => b.length - a.length);
    for (const t of [picks[0]!, picks[Math.floor(picks.length / 2)]!, picks[picks.length - 1]!]) {
      assert.deepEqual(await extractTensor(packed, t.name), new Uint8Array(bytes.subarray(t.offset, t.offset + t.length)), `${f} ${t.name}`);
    }
  }
});

test('extractTensor decodes only the chunks of one tensor', async () => {
  const big = syntheticWeights(300_000, 3); // 1.2 MB: its own chunk
  const small = syntheticWeights(1000, 4);
  const headerBytes = new TextEncoder().encode('HEADER'.repeat(100));
  const file = join(dir, 'synthetic.bin');
  writeFileSync(file, Buffer.concat([headerBytes, small, big, headerBytes]));
  const layout = {
    format: 'safetensors' as const,
    size: headerBytes.length * 2 + small.length + big.length,
    meta: {},
    tensors: [
      { name: 'small', dtype: 'F32' as const, shape: [1000], offset: headerBytes.length, length: small.length },
      { name: 'big', dtype: 'F32' as const, shape: [300_000], offset: headerBytes.length + small.length, length: big.length },
    ],
  };
  const packed = join(dir, 'synthetic.mcz');
  const r = await packFile(file, packed, { layout });
  assert.equal(r.format, 'safetensors');
  assert.ok(r.methods['planes'], JSON.stringify(r.methods));
  assert.deepEqual(await extractTensor(packed, 'big'), big);
  assert.deepEqual(await extractTensor(packed, 'small'), small);
  await assert.rejects(extractTensor(packed, 'nope'), (e: unknown) => e instanceof McdnError && e.code === 'MCZ_TENSOR_NOT_FOUND');
  // corrupt only the big tensor's chunk: the small one still extracts, the big one fails by chunk
  const h = await readMczHeader(packed);
  const bytes = readFileSync(packed);
  const bigChunk = h.chunks.findIndex((c) => c.offset === layout.tensors[1]!.offset);
  const at = h.chunks.slice(0, bigChunk).reduce((s, c) => s + c.packedLength, h.headerLength) + 10;
  bytes[at] ^= 0xff;
  writeFileSync(packed, bytes);
  assert.deepEqual(await extractTensor(packed, 'small'), small);
  await assert.rejects(extractTensor(packed, 'big'), new RegExp(`chunk ${bigChunk}`));
});

test('generic codecs: zstd, gzip and br streams decode with unpack and with the system tools', async () => {
  const file = join(dir, 'generic.bin');
  writeFileSync(file, Buffer.concat([syntheticWeights(20_000, 9), Buffer.from('tail'.repeat(1000))]));
  const tools: Record<string, string[]> = { zstd: ['zstd', '-d', '-c'], gzip: ['gzip', '-d', '-c'], br: ['brotli', '-d', '-c'] };
  for (const codec of ['zstd', 'gzip', 'br'] as const) {
    const packed = join(dir, `generic.${codec}`);
    const r = await packFile(file, packed, { codec, level: codec === 'br' ? 5 : undefined });
    assert.equal(r.sha256, sha(file));
    const u = await unpackFile(packed, join(dir, `generic.${codec}.out`));
    assert.equal(u.sha256, sha(file));
    const [cmd, ...args] = tools[codec]!;
    const sys = spawnSync(cmd!, [...args, packed]);
    if (sys.error) continue; // tool not installed here
    assert.equal(createHash('sha256').update(sys.stdout).digest('hex'), sha(file), codec);
  }
});

test('CLI: pack and unpack print sizes; a corrupt file is one error line and a non-zero exit', async () => {
  const src = join(dir, 'cli.bin');
  writeFileSync(src, Buffer.concat([syntheticWeights(50_000, 2), Buffer.alloc(5000)]));
  const run = async (argv: string[]) => {
    let stdout = '';
    let stderr = '';
    const mk = (f: (s: string) => void) => new Writable({ write: (c, _e, cb) => (f(String(c)), cb()) });
    const code = await main(argv, { stdout: mk((s) => (stdout += s)), stderr: mk((s) => (stderr += s)) });
    return { code, stdout, stderr };
  };
  const packed = join(dir, 'cli.mcz');
  const p = await run(['pack', src, '-o', packed, '--json']);
  assert.equal(p.code, 0, p.stderr);
  const j = JSON.parse(p.stdout) as { originalSize: number; packedSize: number; ratio: number };
  assert.equal(j.originalSize, 205_000);
  assert.ok(j.packedSize < j.originalSize && j.ratio < 1);
  const u = await run(['unpack', packed, '-o', join(dir, 'cli.out')]);
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stdout, /verified/);
  assert.equal(sha(join(dir, 'cli.out')), sha(src));
  const bad = readFileSync(packed);
  bad[bad.length - 5] ^= 0x20;
  writeFileSync(join(dir, 'cli-bad.mcz'), bad);
  const b = await run(['unpack', join(dir, 'cli-bad.mcz'), '-o', join(dir, 'cli-bad.out')]);
  assert.equal(b.code, 3);
  assert.equal(b.stderr.trim().split('\n').length, 1);
  assert.match(b.stderr, /^error: .*cli-bad\.mcz: chunk \d+: /);
  assert.equal(existsSync(join(dir, 'cli-bad.out')), false);
  const l = await run(['pack', src, '-o', join(dir, 'x.mcz'), '--level', '99']);
  assert.equal(l.code, 2);
  const m = await run(['pack', join(dir, 'missing.bin'), '-o', join(dir, 'y.mcz')]);
  assert.equal(m.code, 4);
  assert.deepEqual(leftovers(), []);
});

test('cancelling pack or unpack rejects with a cancelled McdnError and leaves no output', async () => {
  const src = join(dir, 'cancel.bin');
  writeFileSync(src, syntheticWeights(200_000, 5));
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(packFile(src, join(dir, 'cancel.mcz'), { signal: ac.signal }), (e: unknown) => e instanceof McdnError && e.category === 'cancelled');
  await packFile(src, join(dir, 'cancel-ok.mcz'));
  await assert.rejects(unpackFile(join(dir, 'cancel-ok.mcz'), join(dir, 'cancel.out'), { signal: ac.signal }), (e: unknown) => e instanceof McdnError && e.category === 'cancelled');
  assert.equal(existsSync(join(dir, 'cancel.mcz')), false);
  assert.equal(existsSync(join(dir, 'cancel.out')), false);
  assert.deepEqual(leftovers(), []);
});

test('a forged payload (CRC fixed up) fails unpackFile on the file sha256 and a streaming decode on the chunk sha256', async () => {
  const { packBytes } = await import('./pack.ts');
  const { decodeHeader, encodeHeaderV2, encodeLayoutV2 } = await import('./format.ts');
  const { createUnpackStream } = await import('./unpack.ts');
  const { crc32 } = await import('node:zlib');
  const { Readable } = await import('node:stream');
  const { pipeline } = await import('node:stream/promises');
  const raw = new Uint8Array((await import('node:crypto')).randomBytes(200_000)); // incompressible: STORED
  const mcz = packBytes(raw);
  const h = decodeHeader(mcz);
  assert.equal(h.chunks.length, 1);
  assert.equal(h.chunks[0]!.method, 0);
  const forged = mcz.slice();
  forged[h.headerLength + 1000] ^= 0x55; // a different but well-formed payload
  h.chunks[0]!.crc32 = crc32(forged.subarray(h.headerLength)) >>> 0; // with a matching CRC in a valid header
  forged.set(encodeHeaderV2(h, encodeLayoutV2(h.layout)), 0);
  const path = join(dir, 'forged.mcz');
  writeFileSync(path, forged);
  const out = join(dir, 'forged.out');
  await assert.rejects(unpackFile(path, out), (e: unknown) => e instanceof McdnError && e.code === 'MCZ_FILE_HASH_MISMATCH');
  assert.equal(existsSync(out), false);
  assert.deepEqual(leftovers(), []);
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  await assert.rejects(pipeline(Readable.from([forged]), createUnpackStream({ pool: false }), sink), (e: unknown) => e instanceof McdnError && e.code === 'MCZ_CHUNK_HASH_MISMATCH');
  // the untouched container still unpacks
  writeFileSync(path, mcz);
  assert.equal((await unpackFile(path, out)).sha256, createHash('sha256').update(raw).digest('hex'));
  assert.deepEqual(new Uint8Array(readFileSync(out)), raw);
});

test('recycled output chunks: decoded memory goes back to the workers, REF-repeated chunks are never reused early', async () => {
  const { packBytes } = await import('./pack.ts');
  const { decodeHeader } = await import('./format.ts');
  const { createUnpackStream } = await import('./unpack.ts');
  const { METHOD_REF } = await import('./chunk.ts');
  const { randomBytes } = await import('node:crypto');
  const a = new Uint8Array(randomBytes(4 << 20));
  const b = new Uint8Array(4 << 20).map((_, i) => (i * 31) & 255);
  // six more distinct, compressible chunks: decoded by zstd into memory that recycled chunks provide
  const rest = Array.from({ length: 6 }, (_, k) => new Uint8Array(4 << 20).map((_, i) => ((i >> (k + 2)) * (k + 3)) & 255));
  const raw = new Uint8Array(4 * a.length + rest.length * a.length);
  raw.set(a, 0);
  raw.set(b, a.length);
  raw.set(a, 2 * a.length); // a REF to chunk 0
  raw.set(b, 3 * a.length); // a REF to chunk 1
  rest.forEach((r, k) => raw.set(r, (4 + k) * a.length));
  const mcz = packBytes(raw);
  assert.ok(decodeHeader(mcz).chunks.some((x) => x.method === METHOD_REF), 'the container repeats chunks by REF');
  const pool = new ChunkPool(2);
  try {
    for (let round = 0; round < 2; round++) {
      const u = createUnpackStream({ pool, chunkHashes: false });
      const got: Uint8Array[] = [];
      u.on('data', (chunk: Buffer) => {
        got.push(Uint8Array.from(chunk));
        const before = u.recycled;
        u.recycle(chunk);
        // memory given back is the decoder's again: scribble over it, as a worker decoding into it
        // would; a chunk that a later REF repeats must not have been taken back
        if (u.recycled > before) chunk.fill(0xee);
      });
      const done = new Promise<void>((res, rej) => {
        u.on('end', res);
        u.on('error', rej);
      });
      for (let i = 0; i < mcz.length; i += 1 << 20) u.write(Buffer.from(mcz.subarray(i, Math.min(mcz.length, i + (1 << 20)))));
      u.end();
      await done;
      const out = Buffer.concat(got);
      assert.ok(out.equals(Buffer.from(raw)), `round ${round}: output intact`);
      assert.equal(u.recycled, rest.length, 'exactly the chunks no REF repeats were taken back');
    }
  } finally {
    await pool.close();
  }
});
