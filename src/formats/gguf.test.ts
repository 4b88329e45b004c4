import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { gguf as hfGguf } from '@huggingface/gguf';
import { GgufType, parseGgufBytes, readGgufFile, serializeGguf, writeGguf, ggufToLayout, type GgufKV, type GgufWriteTensor } from './gguf.ts';
import { readModelLayout } from './layout.ts';
import { f32ToF16, f32ToBf16, quantizeQ8_0, quantizeQ4_0, readTensorAsF32 } from './numeric.ts';
import { openSource } from './source.ts';
import { isMcdnError } from '../errors.ts';
import { fuzzParser } from './fuzz-util.ts';

const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function sampleModel(): { metadata: GgufKV[]; tensors: GgufWriteTensor[] } {
  const w = new Float32Array(64 * 4).map((_, i) => Math.cos(i) * 2);
  return {
    metadata: [
      { key: 'general.architecture', type: GgufType.STRING, value: 'llama' },
      { key: 'general.name', type: GgufType.STRING, value: 'tiny ünïcode' },
      { key: 'general.alignment', type: GgufType.UINT32, value: 64 },
      { key: 'llama.block_count', type: GgufType.UINT32, value: 2 },
      { key: 't.u8', type: GgufType.UINT8, value: 255 },
      { key: 't.i8', type: GgufType.INT8, value: -128 },
      { key: 't.u16', type: GgufType.UINT16, value: 65535 },
      { key: 't.i16', type: GgufType.INT16, value: -32768 },
      { key: 't.i32', type: GgufType.INT32, value: -5 },
      { key: 't.f32', type: GgufType.FLOAT32, value: 0.5 },
      { key: 't.bool', type: GgufType.BOOL, value: true },
      { key: 't.u64', type: GgufType.UINT64, value: 18446744073709551615n },
      { key: 't.i64', type: GgufType.INT64, value: -9007199254740993n },
      { key: 't.f64', type: GgufType.FLOAT64, value: Math.PI },
      { key: 'tokenizer.ggml.tokens', type: GgufType.ARRAY, value: { elemType: GgufType.STRING, values: ['<s>', '</s>', 'hello', ''] } },
      { key: 'tokenizer.ggml.scores', type: GgufType.ARRAY, value: { elemType: GgufType.FLOAT32, values: [0, -1, -2.5, 3] } },
      { key: 't.nested', type: GgufType.ARRAY, value: { elemType: GgufType.ARRAY, values: [{ elemType: GgufType.INT32, values: [1, 2] }, { elemType: GgufType.INT32, values: [] }] } },
    ],
    tensors: [
      { name: 'tok_embd.weight', dtype: 'F32', shape: [4, 64], data: u8(w) },
      { name: 'blk.0.f16', dtype: 'F16', shape: [4, 64], data: u8(f32ToF16(w)) },
      { name: 'blk.0.bf16', dtype: 'BF16', shape: [3], data: u8(f32ToBf16(new Float32Array([1, 2, 3]))) },
      { name: 'blk.0.q8', dtype: 'Q8_0', shape: [4, 64], data: quantizeQ8_0(w) },
      { name: 'blk.0.q4', dtype: 'Q4_0', shape: [4, 64], data: quantizeQ4_0(w) },
      { name: 'blk.0.q4k', dtype: 'Q4_K', shape: [1, 256], data: new Uint8Array(144).fill(3) },
    ],
  };
}

test('gguf: write, parse back (all value types, arrays, block types, alignment)', async () => {
  const m = sampleModel();
  const bytes = serializeGguf(m);
  const g = await parseGgufBytes(bytes);
  assert.equal(g.version, 3);
  assert.equal(g.alignment, 64);
  assert.equal(g.dataStart % 64, 0);
  assert.deepEqual(g.metadata, m.metadata);
  assert.deepEqual(g.tensors.map((t) => [t.name, t.dtype, t.length]), [
    ['tok_embd.weight', 'F32', 1024], ['blk.0.f16', 'F16', 512], ['blk.0.bf16', 'BF16', 6], ['blk.0.q8', 'Q8_0', 272], ['blk.0.q4', 'Q4_0', 144], ['blk.0.q4k', 'Q4_K', 144],
  ]);
  const l = ggufToLayout(g);
  assert.deepEqual(l.tensors[0]!.shape, [4, 64]);
  assert.deepEqual(l.tensors[0]!.extra?.['ne'], [64, 4]);
  for (const t of l.tensors) {
    assert.equal(t.offset % 64, 0);
    assert.deepEqual(bytes.subarray(t.offset, t.offset + t.length), m.tensors.find((x) => x.name === t.name)!.data);
  }
  const q8 = l.tensors.find((t) => t.name === 'blk.0.q8')!;
  const deq = readTensorAsF32(q8, bytes.subarray(q8.offset, q8.offset + q8.length));
  assert.ok(Math.abs(deq[5]! - Math.cos(5) * 2) < 0.02);
  assert.equal(l.meta['architecture'], 'llama');
});

test('gguf: files we write parse with @huggingface/gguf, and rewrite byte for byte', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mcdn-gguf-'));
  try {
    const p = join(dir, 'tiny.gguf');
    const m = sampleModel();
    await writeGguf(p, m);
    const hf = await hfGguf(p, { allowLocalFile: true });
    const md = hf.metadata as unknown as Record<string, unknown>;
    assert.equal(hf.metadata['general.architecture'], 'llama');
    assert.equal(md['general.alignment'], 64);
    assert.deepEqual(md['tokenizer.ggml.tokens'], ['<s>', '</s>', 'hello', '']);
    assert.equal(hf.tensorInfos.length, 6);
    assert.deepEqual(hf.tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype]), [
      ['tok_embd.weight', [64, 4], 0], ['blk.0.f16', [64, 4], 1], ['blk.0.bf16', [3], 30], ['blk.0.q8', [64, 4], 8], ['blk.0.q4', [64, 4], 2], ['blk.0.q4k', [256, 1], 12],
    ]);
    const ours = await readGgufFile(p);
    assert.deepEqual(hf.tensorInfos.map((t) => Number(t.offset)), ours.tensors.map((t) => t.relOffset));
    // unmodified rewrite: same bytes
    const src = await openSource(p);
    const tensors = [];
    for (const t of ours.tensors) tensors.push({ name: t.name, dtype: t.dtype, shape: [...t.ne].reverse(), data: await src.read(ours.dataStart + t.relOffset, t.length) });
    await src.close();
    const p2 = join(dir, 'again.gguf');
    await writeGguf(p2, { metadata: ours.metadata, tensors, version: ours.version });
    assert.deepEqual(await readFile(p2), await readFile(p));
    const l = await readModelLayout(p);
    assert.equal(l.format, 'gguf');
    assert.equal(l.tensors.length, 6);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('gguf: typed errors for bad input', async () => {
  const code = async (b: Uint8Array) => {
    try {
      await parseGgufBytes(b);
      return 'OK';
    } catch (e) {
      assert.ok(isMcdnError(e), String(e));
      return e.code;
    }
  };
  const good = serializeGguf(sampleModel());
  assert.equal(await code(good.subarray(0, 10)), 'GGUF_TOO_SMALL');
  const magic = good.slice();
  magic[0] = 0x46;
  assert.equal(await code(magic), 'GGUF_BAD_MAGIC');
  const v1 = good.slice();
  v1[4] = 1;
  assert.equal(await code(v1), 'GGUF_UNSUPPORTED_VERSION');
  const be = good.slice();
  be.set([0, 0, 0, 3], 4);
  assert.equal(await code(be), 'GGUF_BIG_ENDIAN');
  const count = good.slice();
  new DataView(count.buffer).setBigUint64(8, 1n << 40n, true);
  assert.equal(await code(count), 'GGUF_BAD_COUNT');
  assert.equal(await code(good.subarray(0, 300)), 'GGUF_TRUNCATED');
  assert.equal(await code(good.subarray(0, good.length - 60)), 'GGUF_DATA_TRUNCATED');
  const badType = serializeGguf({ metadata: [], tensors: [{ name: 'x', dtype: 'F32', shape: [1], data: new Uint8Array(4) }] });
  badType[24 + 8 + 1 + 4 + 8] = 99; // tensor type
  assert.equal(await code(badType), 'GGUF_UNKNOWN_TENSOR_TYPE');
  assert.throws(() => serializeGguf({ metadata: [], tensors: [{ name: 'q', dtype: 'Q8_0', shape: [33], data: new Uint8Array(34) }] }), (e) => isMcdnError(e) && e.code === 'GGUF_BAD_SHAPE');
  const dup = serializeGguf({ metadata: [{ key: 'a', type: GgufType.UINT8, value: 1 }, { key: 'a', type: GgufType.UINT8, value: 2 }], tensors: [] });
  assert.equal(await code(dup), 'GGUF_DUPLICATE_KEY');
});

const scalarKV = fc.oneof(
  fc.record({ type: fc.constant(GgufType.UINT32), value: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
  fc.record({ type: fc.constant(GgufType.INT16), value: fc.integer({ min: -32768, max: 32767 }) }),
  fc.record({ type: fc.constant(GgufType.FLOAT32), value: fc.float({ noNaN: true }).map(Math.fround) }),
  fc.record({ type: fc.constant(GgufType.FLOAT64), value: fc.double({ noNaN: true }) }),
  fc.record({ type: fc.constant(GgufType.BOOL), value: fc.boolean() }),
  fc.record({ type: fc.constant(GgufType.STRING), value: fc.string({ maxLength: 20 }) }),
  fc.record({ type: fc.constant(GgufType.INT64), value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) }),
  fc.record({ type: fc.constant(GgufType.ARRAY), value: fc.array(fc.integer({ min: -128, max: 127 }), { maxLength: 5 }).map((values) => ({ elemType: GgufType.INT8, values })) }),
);

test('gguf: parse(serialize(x)) == x (property)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== 'general.alignment'), scalarKV), { selector: (x) => x[0], maxLength: 6 }),
      fc.array(fc.tuple(fc.constantFrom('F32', 'F16', 'Q8_0', 'Q4_0', 'I8') as fc.Arbitrary<'F32' | 'F16' | 'Q8_0' | 'Q4_0' | 'I8'>, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), { maxLength: 4 }),
      async (kvs, ts) => {
        const metadata = kvs.map(([key, v]) => ({ key, ...v }) as GgufKV);
        const tensors = ts.map(([dtype, a, b], i) => {
          const inner = dtype.startsWith('Q') ? 32 * b : b;
          const per = dtype === 'F32' ? 4 : dtype === 'F16' ? 2 : dtype === 'I8' ? 1 : 0;
          const len = per ? a * inner * per : (a * inner / 32) * (dtype === 'Q8_0' ? 34 : 18);
          return { name: `t${i}`, dtype, shape: [a, inner], data: new Uint8Array(len).map((_, j) => (j * 7 + i) & 255) } as GgufWriteTensor;
        });
        const bytes = serializeGguf({ metadata, tensors });
        const g = await parseGgufBytes(bytes);
        assert.deepEqual(g.metadata, metadata);
        const l = ggufToLayout(g);
        tensors.forEach((t, i) => assert.deepEqual(bytes.subarray(l.tensors[i]!.offset, l.tensors[i]!.offset + l.tensors[i]!.length), t.data));
      },
    ),
    { numRuns: 150 },
  );
});

test('gguf: random truncations and byte flips are parsed or rejected with McdnError', async () => {
  const good = serializeGguf(sampleModel());
  const r = await fuzzParser(good, (b) => parseGgufBytes(b), { truncations: 80, flips: 300, flipRegion: 900, seed: 11 });
  assert.ok(r.rejected > 50);
});
