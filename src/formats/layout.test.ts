import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ONNX_FIXTURES, TFJS_FIXTURE_DIRS, fixture } from '../../test/fixtures.ts';
import { readModelLayout, sniffFormat } from './layout.ts';
import { serializeSafetensors } from './safetensors.ts';
import { serializeGguf, GgufType } from './gguf.ts';
import { scanOnnx } from './onnx/scan.ts';
import { summarizeLayout } from './summary.ts';
import { fuzzParser } from './fuzz-util.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcdn-layout-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('readModelLayout: detects every fixture and generated safetensors/GGUF by content', async () => {
  for (const f of ONNX_FIXTURES) {
    const l = await readModelLayout(f);
    assert.equal(l.format, 'onnx', f);
    assert.ok(l.tensors.length > 100);
  }
  for (const d of TFJS_FIXTURE_DIRS) assert.equal((await readModelLayout(d)).format, 'tfjs');
  const st = serializeSafetensors([{ name: 'a', dtype: 'F16', shape: [4], data: new Uint8Array(8) }], { k: 'v' });
  const gg = serializeGguf({ metadata: [{ key: 'general.architecture', type: GgufType.STRING, value: 'x' }], tensors: [{ name: 't', dtype: 'F32', shape: [2], data: new Uint8Array(8) }] });
  for (const [name, bytes, format] of [['m.safetensors', st, 'safetensors'], ['noext1', st, 'safetensors'], ['m.gguf', gg, 'gguf'], ['noext2', gg, 'gguf']] as const) {
    await writeFile(join(dir, name), bytes);
    const l = await readModelLayout(join(dir, name));
    assert.equal(l.format, format, name);
    assert.equal(l.tensors.length, 1);
  }
  const onnxBytes = await readFile(ONNX_FIXTURES[4]!);
  await writeFile(join(dir, 'model.bin'), onnxBytes);
  assert.equal((await readModelLayout(join(dir, 'model.bin'))).format, 'onnx');
  assert.equal((await readModelLayout(fixture('models', 'onnx', 'ppocr_keys_v1.txt'))).format, 'unknown');
  assert.equal((await readModelLayout(fixture('data', 'digits.csv.gz'))).format, 'unknown');
  await writeFile(join(dir, 'config.json'), '{"hidden_size": 8}');
  assert.equal((await readModelLayout(join(dir, 'config.json'))).format, 'unknown');
  await writeFile(join(dir, 'tokenizer.json'), '{"model": ');
  assert.equal((await readModelLayout(join(dir, 'tokenizer.json'))).format, 'unknown');
  await writeFile(join(dir, 'model.json'), '{"format": "graph-model", ');
  await assert.rejects(readModelLayout(join(dir, 'model.json')), /not valid JSON/);
  await writeFile(join(dir, 'empty'), new Uint8Array(0));
  assert.equal((await readModelLayout(join(dir, 'empty'))).format, 'unknown');
  assert.equal(sniffFormat(new Uint8Array([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0]), 100), 'gguf');
});

test('summarizeLayout: parameter counts, dtype bytes, split tensors counted once', async () => {
  const s = summarizeLayout(await readModelLayout(fixture('models', 'tfjs', 'ssd-mobilenetv1-u8-sharded')));
  const single = summarizeLayout(await readModelLayout(fixture('models', 'tfjs', 'ssd-mobilenetv1-u8')));
  assert.equal(s.tensorCount, single.tensorCount);
  assert.equal(s.parameterCount, single.parameterCount);
  assert.deepEqual(s.dtypes, single.dtypes);
  const o = summarizeLayout(await readModelLayout(fixture('models', 'onnx', 'silero_vad_v5.onnx')));
  assert.equal(o.meta['opset'], 16);
  assert.equal(o.meta['producer'], 'spox');
  assert.ok(o.parameterCount > 500_000);
  assert.equal(o.largest.length, 10);
  assert.ok(o.largest[0]!.bytes >= o.largest[9]!.bytes);
});

test('every fixture, cut at random offsets or with flipped bytes, parses or fails with McdnError', async () => {
  let seed = 100;
  for (const f of ONNX_FIXTURES) {
    const good = new Uint8Array(await readFile(f));
    await fuzzParser(good, (b) => scanOnnx(b, f), { truncations: 8, flips: 8, seed: seed++ });
  }
  // through the file adapters and format detection, with the real extension
  for (const f of [ONNX_FIXTURES[4]!, fixture('models', 'tfjs', 'ssd-mobilenetv1-u8-sharded', 'ssd_mobilenetv1_model-shard2')]) {
    const good = new Uint8Array(await readFile(f));
    const ext = f.endsWith('.onnx') ? '.onnx' : '';
    let i = 0;
    await fuzzParser(good, async (b) => {
      const p = join(dir, `cut${i++}${ext}`);
      await writeFile(p, b);
      return readModelLayout(p);
    }, { truncations: 6, flips: 4, seed: seed++ });
  }
});

test('multi-GB files: only headers are read (sparse 3 GB safetensors, GGUF, and ONNX external data)', async () => {
  const { open } = await import('node:fs/promises');
  const { encodeSafetensorsHeader } = await import('./safetensors.ts');
  const { encodeGgufHeader } = await import('./gguf.ts');
  const { writeOnnxModel, makeOnnxTensor } = await import('./onnx/index.ts');
  const GB3 = 3 * 1024 ** 3;
  const sparse = async (path: string, head: Uint8Array, size: number) => {
    const fh = await open(path, 'w');
    await fh.write(head, 0, head.length, 0);
    await fh.truncate(size);
    await fh.close();
  };
  const n = GB3 / 4;
  const sh = encodeSafetensorsHeader([{ name: 'huge', dtype: 'F32', shape: [n], length: GB3 }, { name: 'b', dtype: 'F32', shape: [2], length: 8 }]);
  const prefix = new Uint8Array(8 + sh.length);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(sh.length), true);
  prefix.set(sh, 8);
  await sparse(join(dir, 'huge.safetensors'), prefix, prefix.length + GB3 + 8);
  const rss0 = process.memoryUsage().rss;
  const st = await readModelLayout(join(dir, 'huge.safetensors'));
  assert.equal(st.tensors[1]!.offset, prefix.length + GB3);
  const { header } = encodeGgufHeader([], [{ name: 'huge', dtype: 'Q8_0', shape: [n / 32, 32], length: (n / 32) * 34 }]);
  await sparse(join(dir, 'huge.gguf'), header, header.length + (n / 32) * 34);
  const gg = await readModelLayout(join(dir, 'huge.gguf'));
  assert.equal(gg.tensors[0]!.length, (n / 32) * 34);
  // ONNX whose weights live in a 3 GB external file
  const model = { opset_import: [{ domain: '', version: 17 }], metadata_props: [], training_info: [], functions: [], graph: { node: [], name: 'g', initializer: [makeOnnxTensor('small', 'F32', [1], new Uint8Array(4))], sparse_initializer: [], input: [], output: [], value_info: [], quantization_annotation: [], metadata_props: [] } };
  const t = model.graph.initializer[0]!;
  delete t.raw_data;
  t.dims = [n];
  t.data_location = 1;
  t.external_data = [{ key: 'location', value: 'w.bin' }, { key: 'offset', value: '0' }, { key: 'length', value: String(GB3) }];
  await writeOnnxModel(join(dir, 'big.onnx'), model);
  await sparse(join(dir, 'w.bin'), new Uint8Array(1), GB3);
  const ox = await readModelLayout(join(dir, 'big.onnx'));
  assert.equal(ox.tensors[0]!.file, join(dir, 'w.bin'));
  assert.equal(ox.tensors[0]!.length, GB3);
  assert.ok(process.memoryUsage().rss - rss0 < 200 * 1024 * 1024, 'no multi-GB allocation');
});
