import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TFJS_FIXTURE_DIRS, fixture } from '../../test/fixtures.ts';
import { readTfjsLayout, readTfjsShardLayout, readTfjsWeights, writeTfjsModel, parseTfjsManifest, findTfjsJson, readTfjsWeightAsF32 } from './tfjs.ts';
import { readModelLayout } from './layout.ts';
import { isMcdnError } from '../errors.ts';
import { fuzzParser } from './fuzz-util.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcdn-tfjs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tensorBytes(t: { file?: string; offset: number; length: number }): Promise<Buffer> {
  return (await readFile(t.file!)).subarray(t.offset, t.offset + t.length);
}

test('tfjs: every fixture lays out exactly over its shards', async () => {
  for (const d of TFJS_FIXTURE_DIRS) {
    const l = await readTfjsLayout(d);
    const shards = l.meta['shards'] as { path: string; size: number }[];
    const total = shards.reduce((a, s) => a + s.size, 0);
    assert.equal(l.tensors.reduce((a, t) => a + t.length, 0), total, d);
    for (const t of l.tensors) assert.ok(t.offset + t.length <= (await stat(t.file!)).size);
  }
  const mv = await readTfjsLayout(fixture('models', 'tfjs', 'movenet-lightning-v3'));
  assert.equal(mv.meta['modelType'], 'graph');
  const f16 = mv.tensors.find((t) => (t.extra?.['quantization'] as { dtype?: string } | undefined)?.dtype === 'float16')!;
  assert.equal(f16.dtype, 'F16');
  assert.equal(f16.length, f16.shape.reduce((a, b) => a * b, 1) * 2);
  const u8 = await readTfjsLayout(fixture('models', 'tfjs', 'ssd-mobilenetv1-u8'));
  assert.equal(u8.meta['modelType'], 'weights-manifest');
  assert.ok(u8.tensors.every((t) => t.dtype === 'U8' || t.dtype === 'I32' || t.dtype === 'F32'));
});

test('tfjs: a tensor crossing a shard boundary becomes two pieces whose bytes equal the unsharded tensor', async () => {
  const single = await readTfjsLayout(fixture('models', 'tfjs', 'ssd-mobilenetv1-u8'));
  const sharded = await readTfjsLayout(fixture('models', 'tfjs', 'ssd-mobilenetv1-u8-sharded'));
  const pieces = sharded.tensors.filter((t) => t.extra?.['pieces'] === 2);
  assert.equal(pieces.length, 2);
  assert.equal(pieces[0]!.name, pieces[1]!.name);
  assert.equal(pieces[1]!.offset, 0);
  assert.equal(pieces[0]!.extra?.['pieceOffset'], 0);
  assert.equal(pieces[1]!.extra?.['pieceOffset'], pieces[0]!.length);
  const whole = single.tensors.find((t) => t.name === pieces[0]!.name)!;
  assert.deepEqual(Buffer.concat([await tensorBytes(pieces[0]!), await tensorBytes(pieces[1]!)]), await tensorBytes(whole));
  // a shard alone: offsets inside it, via readModelLayout
  const s2 = await readModelLayout(fixture('models', 'tfjs', 'ssd-mobilenetv1-u8-sharded', 'ssd_mobilenetv1_model-shard2'));
  assert.equal(s2.format, 'tfjs');
  assert.equal(s2.tensors[0]!.offset, 0);
  assert.equal(s2.tensors[0]!.extra?.['piece'], 1);
  assert.equal(s2.tensors.reduce((a, t) => a + t.length, 0), s2.size);
  assert.equal(await readTfjsShardLayout(fixture('models', 'onnx', 'ppocr_keys_v1.txt'), 1), undefined);
});

test('tfjs: rewriting unmodified models reproduces model.json / manifest and shards byte for byte', async () => {
  for (const [d, json] of [
    ['ssd-mobilenetv1-u8-sharded', 'ssd_mobilenetv1_model-weights_manifest.json'],
    ['movenet-lightning-v3', 'movenet-lightning.json'],
  ] as const) {
    const src = fixture('models', 'tfjs', d, json);
    const r = await readTfjsWeights(src);
    const out = join(dir, `rw-${d}`);
    await (await import('node:fs/promises')).mkdir(out);
    const g = r.manifest.groups[0]!;
    await writeTfjsModel(out, r.weights, {
      ...(r.manifest.model ? { model: r.manifest.model } : {}),
      jsonName: json,
      shardSizes: r.shardSizes[0]!,
      shardNames: g.paths,
      originalJson: r.json,
    });
    for (const f of [json, ...g.paths]) assert.deepEqual(await readFile(join(out, f)), await readFile(fixture('models', 'tfjs', d, f)), `${d}/${f}`);
  }
});

test('tfjs: writer splits shards, handles string weights, and the result reads back', async () => {
  const out = join(dir, 'written');
  await (await import('node:fs/promises')).mkdir(out);
  const enc = new TextEncoder();
  const strs = ['a', 'hello', ''];
  const sdata = Buffer.concat(strs.map((s) => { const b = Buffer.alloc(4 + enc.encode(s).length); b.writeUInt32LE(enc.encode(s).length); b.set(enc.encode(s), 4); return b; }));
  const w1 = new Uint8Array(new Float32Array(700).map((_, i) => i).buffer);
  const weights = [
    { name: 'w1', shape: [700], dtype: 'float32' as const, data: w1 },
    { name: 'vocab', shape: [3], dtype: 'string' as const, data: new Uint8Array(sdata) },
    { name: 'q', shape: [10], dtype: 'float32' as const, quantization: { dtype: 'uint8' as const, scale: 0.1, min: -1 }, data: new Uint8Array(10).fill(5) },
  ];
  const r = await writeTfjsModel(out, weights, { model: { format: 'layers-model', modelTopology: { class_name: 'Sequential' } }, shardBytes: 1000 });
  assert.equal(r.shards.length, 3);
  assert.deepEqual((await readdir(out)).sort(), ['group1-shard1of3.bin', 'group1-shard2of3.bin', 'group1-shard3of3.bin', 'model.json']);
  const l = await readModelLayout(out);
  assert.equal(l.meta['modelType'], 'layers');
  const vocab = l.tensors.filter((t) => t.name === 'vocab');
  assert.equal(vocab.reduce((a, t) => a + t.length, 0), sdata.length);
  const w1p = l.tensors.filter((t) => t.name === 'w1');
  assert.equal(w1p.length, 3);
  assert.deepEqual(Buffer.concat(await Promise.all(w1p.map(tensorBytes))), Buffer.from(w1));
  const back = await readTfjsWeights(join(out, 'model.json'));
  assert.deepEqual(back.weights.map((w) => Buffer.from(w.data)), weights.map((w) => Buffer.from(w.data)));
});

test('tfjs: bad manifests give typed errors', async () => {
  const code = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      return 'OK';
    } catch (e) {
      assert.ok(isMcdnError(e), String(e));
      assert.ok(!e.message.includes('\n'));
      return e.code;
    }
  };
  const d = join(dir, 'bad');
  await (await import('node:fs/promises')).mkdir(d);
  const put = async (name: string, text: string) => {
    await writeFile(join(d, name), text);
    return join(d, name);
  };
  assert.equal(await code(async () => readTfjsLayout(await put('a.json', '{"weightsManifest": [{"paths": ["nope.bin"], "weights": []}]}'))), 'TFJS_SHARD_MISSING');
  await writeFile(join(d, 'small.bin'), new Uint8Array(4));
  assert.equal(await code(async () => readTfjsLayout(await put('b.json', '[{"paths": ["small.bin"], "weights": [{"name": "x", "shape": [2], "dtype": "float32"}]}]'))), 'TFJS_SHARDS_TOO_SMALL');
  assert.equal(await code(async () => readTfjsLayout(await put('c.json', '{"weightsManifest": '))), 'TFJS_INVALID_JSON');
  assert.equal(await code(async () => readTfjsLayout(await put('d.json', '{"hello": 1}'))), 'TFJS_NOT_A_MODEL');
  assert.equal(await code(async () => readTfjsLayout(await put('e.json', '[{"paths": ["../x.bin"], "weights": []}]'))), 'TFJS_SHARD_PATH_ESCAPES');
  assert.equal(await code(async () => readTfjsLayout(await put('f.json', '[{"paths": ["small.bin"], "weights": [{"name": "x", "shape": [1], "dtype": "float64"}]}]'))), 'TFJS_UNKNOWN_DTYPE');
  assert.equal(await code(async () => readTfjsLayout(await put('g.json', '[{"paths": ["small.bin"], "weights": [{"name": "x", "shape": [4], "dtype": "float32", "quantization": {"dtype": "uint8"}}]}]'))), 'TFJS_BAD_QUANTIZATION');
  assert.equal(await code(async () => readTfjsLayout(await put('h.json', '[{"paths": ["small.bin"], "weights": [{"name": "x", "shape": [-1], "dtype": "float32"}]}]'))), 'TFJS_BAD_WEIGHT');
  assert.throws(() => parseTfjsManifest({ weightsManifest: 3 }, d), (e) => isMcdnError(e) && e.code === 'TFJS_BAD_MANIFEST');
  const empty = join(dir, 'empty');
  await (await import('node:fs/promises')).mkdir(empty);
  assert.equal(await code(() => findTfjsJson(empty)), 'TFJS_NO_MANIFEST');
});

test('tfjs: truncated or corrupted model.json is parsed or rejected with McdnError', async () => {
  const d = join(dir, 'fuzz');
  await (await import('node:fs/promises')).mkdir(d);
  const src = fixture('models', 'tfjs', 'facemesh-fp16');
  await symlink(join(src, 'facemesh.bin'), join(d, 'facemesh.bin'));
  const good = new Uint8Array(await readFile(join(src, 'facemesh.json')));
  let i = 0;
  await fuzzParser(good, async (b) => {
    const p = join(d, `m${i++}.json`);
    await writeFile(p, b);
    return readTfjsLayout(p);
  }, { truncations: 15, flips: 25, seed: 21 });
});

test('tfjs: quantized weights decode like tfjs (uint8 scale/min, float16), fp16 model matches its fp32 sibling', async () => {
  const u8 = await readTfjsWeights(fixture('models', 'tfjs', 'ssd-mobilenetv1-u8', 'ssd_mobilenetv1_model-weights_manifest.json'));
  const w = u8.weights.find((x) => x.quantization?.dtype === 'uint8')!;
  const v = readTfjsWeightAsF32(w, w.data);
  assert.equal(v[0], Math.fround(w.data[0]! * w.quantization!.scale! + w.quantization!.min!));
  const f16 = await readTfjsWeights(fixture('models', 'tfjs', 'facemesh-fp16', 'facemesh.json'));
  let compared = 0;
  for (const b of f16.weights) {
    if (b.quantization?.dtype !== 'float16') continue;
    const y = readTfjsWeightAsF32(b, b.data);
    assert.equal(y.length, b.shape.reduce((p, d) => p * d, 1));
    const bits = b.data[0]! | (b.data[1]! << 8);
    const sign = bits & 0x8000 ? -1 : 1;
    const e = (bits >> 10) & 31;
    const m = bits & 1023;
    const ref = e === 0 ? sign * m * 2 ** -24 : sign * (1 + m / 1024) * 2 ** (e - 15);
    if (e !== 31) assert.equal(y[0], ref);
    assert.ok(y.every((x) => Number.isFinite(x) && Math.abs(x) < 1e5), b.name);
    compared++;
  }
  assert.ok(compared > 100, `compared ${compared}`);
});
