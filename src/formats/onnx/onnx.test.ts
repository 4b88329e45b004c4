import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ONNX_FIXTURES, fixture } from '../../../test/fixtures.ts';
import {
  decodeOnnxModel, encodeOnnxModel, forEachOnnxTensor, onnxTensorData, makeOnnxTensor, scanOnnx, onnxLayout,
  readOnnxLayout, readOnnxModel, writeOnnxModel, externalPath, type OnnxModel, type OnnxGraph, type OnnxNode, type OnnxTensor,
} from './index.ts';
import { readTensorAsF32 } from '../numeric.ts';
import { isMcdnError } from '../../errors.ts';
import { fuzzParser } from '../fuzz-util.ts';

const load = (p: string) => new Uint8Array(readFileSync(p));

test('onnx: decode/encode reproduces every fixture byte for byte, also from a structured clone', () => {
  for (const f of ONNX_FIXTURES) {
    const b = load(f);
    const m = decodeOnnxModel(b, f);
    assert.ok(Buffer.from(encodeOnnxModel(m)).equals(b), f);
    assert.ok(Buffer.from(encodeOnnxModel(structuredClone(m))).equals(b), `${f} (clone)`);
  }
});

test('onnx: wire scanner finds the same tensors and bytes as a full decode', () => {
  for (const f of ONNX_FIXTURES) {
    const b = load(f);
    const scan = scanOnnx(b, f);
    const model = decodeOnnxModel(b, f);
    const decoded: { t: OnnxTensor; kind: string }[] = [];
    forEachOnnxTensor(model, (t, w) => decoded.push({ t, kind: w.kind }));
    assert.equal(scan.tensors.length, decoded.length, f);
    const layout = onnxLayout(b, f);
    const byName = new Map<string, typeof layout.tensors>();
    for (const t of layout.tensors) byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
    let checked = 0;
    for (const { t } of decoded) {
      const data = onnxTensorData(t);
      const cands = byName.get(t.name || '') ?? [...layout.tensors];
      const hit = cands.find((c) => c.extra?.['encoding'] === 'raw' && c.length === data.bytes.length && Buffer.from(b.subarray(c.offset, c.offset + c.length)).equals(data.bytes));
      if (t.raw_data !== undefined) {
        assert.ok(hit, `${f}: raw tensor ${t.name} not found at its byte range`);
        checked++;
      }
    }
    assert.ok(checked > 0);
  }
});

test('onnx: PaddleOCR weights in Constant nodes are found and named by the node output', () => {
  const l = onnxLayout(load(fixture('models', 'onnx', 'ppocr_v4_rec.onnx')));
  const consts = l.tensors.filter((t) => t.extra?.['opType'] === 'Constant');
  assert.ok(consts.length > 100);
  const big = consts.reduce((a, b) => (b.length > a.length ? b : a));
  assert.equal(big.dtype, 'F32');
  assert.ok(big.length > 100_000);
  assert.equal(l.meta['opset'], 9);
  const total = l.tensors.reduce((s, t) => s + t.length, 0);
  assert.ok(total > 0.95 * l.size, 'weights are most of the file');
});

function graph(name: string, extra: Partial<OnnxGraph> = {}): OnnxGraph {
  return { node: [], name, initializer: [], sparse_initializer: [], input: [], output: [], value_info: [], quantization_annotation: [], metadata_props: [], ...extra };
}
function node(op: string, name: string, output: string[], attribute: OnnxNode['attribute'] = []): OnnxNode {
  return { input: [], output, name, op_type: op, attribute, metadata_props: [] };
}
function attr(name: string, x: Partial<OnnxNode['attribute'][number]>): OnnxNode['attribute'][number] {
  return { name, floats: [], ints: [], strings: [], tensors: [], graphs: [], sparse_tensors: [], type_protos: [], ...x };
}
const f32 = (xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);

function synthetic(): OnnxModel {
  const typed = makeOnnxTensor('typed', 'F32', [3], new Uint8Array(12));
  delete typed.raw_data;
  typed.float_data = [1.5, -2, 3];
  const body = graph('then', { initializer: [makeOnnxTensor('sub_w', 'F32', [2], f32([7, 8]))], node: [node('Constant', 'c_in_sub', ['sub_c'], [attr('value', { type: 4, t: makeOnnxTensor('', 'F32', [1], f32([9])) })])] });
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    producer_name: 'modelcdn-test',
    metadata_props: [{ key: 'k', value: 'v' }],
    training_info: [],
    functions: [],
    graph: graph('main', {
      initializer: [makeOnnxTensor('w', 'F32', [2, 2], f32([1, 2, 3, 4])), typed, makeOnnxTensor('h', 'F16', [2], new Uint8Array([0, 0x3c, 0, 0xc0]))],
      node: [
        node('Constant', 'c0', ['const_out'], [attr('value', { type: 4, t: makeOnnxTensor('', 'I64', [1], new Uint8Array(8).fill(1)) })]),
        node('If', 'if0', ['y'], [attr('then_branch', { type: 5, g: body }), attr('ends', { type: 7, ints: [9223372036854775807n, -1, 5] })]),
      ],
    }),
  };
}

test('onnx: synthetic model with typed fields, Constant nodes, subgraphs and int64 extremes', () => {
  const m = synthetic();
  const bytes = encodeOnnxModel(m);
  const back = decodeOnnxModel(bytes);
  assert.deepEqual(back.graph!.node[1]!.attribute[1]!.ints, [9223372036854775807n, -1, 5]);
  assert.ok(Buffer.from(encodeOnnxModel(back)).equals(Buffer.from(bytes)));
  const l = onnxLayout(bytes);
  const names = l.tensors.map((t) => t.name).sort();
  assert.deepEqual(names, ['const_out', 'h', 'sub_c', 'sub_w', 'typed', 'w']);
  const typed = l.tensors.find((t) => t.name === 'typed')!;
  assert.equal(typed.extra?.['encoding'], 'raw'); // packed float_data is little-endian f32
  assert.deepEqual(Array.from(readTensorAsF32(typed, bytes.subarray(typed.offset, typed.offset + typed.length))), [1.5, -2, 3]);
  const sub = l.tensors.find((t) => t.name === 'sub_w')!;
  assert.equal(sub.extra?.['graph'], '/if0.then_branch');
  assert.deepEqual(Array.from(readTensorAsF32(sub, bytes.subarray(sub.offset, sub.offset + sub.length))), [7, 8]);
  assert.deepEqual(onnxTensorData(back.graph!.initializer[1]!).bytes, f32([1.5, -2, 3]));
  assert.equal(l.meta['producer'], 'modelcdn-test');
});

test('onnx: unknown fields survive an unmodified round trip; edits are encoded', () => {
  const b = load(fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx'));
  const extra = new Uint8Array(b.length + 3);
  extra.set(b);
  extra.set([0xb8, 0x06, 0x2a], b.length); // field 103, varint 42: unknown to our schema
  const m = decodeOnnxModel(extra);
  assert.ok(Buffer.from(encodeOnnxModel(m)).equals(Buffer.from(extra)));
  m.producer_name = 'edited';
  const e = encodeOnnxModel(m);
  assert.equal(decodeOnnxModel(e).producer_name, 'edited');
  assert.notEqual(e.length, extra.length);
});

test('onnx: external data write, layout, load', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mcdn-onnx-'));
  try {
    const p = join(dir, 'model.onnx');
    const m = synthetic();
    const big = new Float32Array(300_000).map((_, i) => i % 97);
    m.graph!.initializer.push(makeOnnxTensor('big', 'F32', [300_000], new Uint8Array(big.buffer)));
    const r = await writeOnnxModel(p, m, { externalData: { location: 'model.onnx.data', minBytes: 16 } });
    assert.ok(r.externalSize! > 1_200_000 && r.size < 10_000);
    assert.ok(m.graph!.initializer[3]!.raw_data, 'the caller\'s model is not modified');
    const l = await readOnnxLayout(p);
    const t = l.tensors.find((x) => x.name === 'big')!;
    assert.equal(t.file, join(dir, 'model.onnx.data'));
    assert.equal(t.offset % 4096, 0);
    const data = new Uint8Array(await readFile(t.file!));
    assert.deepEqual(readTensorAsF32(t, data.subarray(t.offset, t.offset + t.length)).subarray(0, 5), big.subarray(0, 5));
    const w = l.tensors.find((x) => x.name === 'w')!;
    assert.ok(w.file, 'a 16-byte tensor went external too');
    const loaded = await readOnnxModel(p, { loadExternal: true });
    const bt = loaded.graph!.initializer.find((x) => x.name === 'big')!;
    assert.deepEqual(onnxTensorData(bt).bytes, new Uint8Array(big.buffer));
    const inline = join(dir, 'inline.onnx');
    await writeOnnxModel(inline, loaded);
    const li = await readOnnxLayout(inline);
    assert.ok(li.tensors.every((x) => !x.file) && li.tensors.length === l.tensors.length);
    // missing or escaping external files are clear errors
    await writeFile(join(dir, 'model.onnx.data'), new Uint8Array(10));
    await assert.rejects(readOnnxLayout(p), (e) => isMcdnError(e) && e.code === 'ONNX_EXTERNAL_OUT_OF_BOUNDS');
    assert.throws(() => externalPath(p, '../etc/passwd'), (e) => isMcdnError(e) && e.code === 'ONNX_EXTERNAL_PATH_ESCAPES');
    assert.throws(() => externalPath(p, '/etc/passwd'), (e) => isMcdnError(e) && e.code === 'ONNX_EXTERNAL_PATH_ESCAPES');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('onnx: malformed input gives typed errors', () => {
  const code = (b: Uint8Array) => {
    try {
      scanOnnx(b);
      return 'OK';
    } catch (e) {
      assert.ok(isMcdnError(e));
      return e.code;
    }
  };
  assert.equal(code(new Uint8Array(0)), 'ONNX_EMPTY');
  assert.equal(code(new Uint8Array([0x08, 0x08])), 'ONNX_NO_GRAPH');
  assert.equal(code(new Uint8Array([0x08, 0xff, 0xff])), 'ONNX_TRUNCATED');
  assert.equal(code(new Uint8Array([0x08, ...new Array(11).fill(0xff), 0x01])), 'ONNX_BAD_VARINT');
  assert.equal(code(new Uint8Array([0x0b, 0x00])), 'ONNX_BAD_WIRE_TYPE');
  assert.equal(code(new Uint8Array([0x3a, 0x05, 0x01])), 'ONNX_TRUNCATED');
  assert.equal(code(new Uint8Array([0x3a, 0x02, 0x00, 0x00])), 'ONNX_BAD_FIELD');
  // graph -> initializer with raw_data of the wrong size
  const t = encodeOnnxModel({ ...synthetic(), graph: graph('g', { initializer: [{ ...makeOnnxTensor('x', 'F32', [2], new Uint8Array(8)), raw_data: new Uint8Array(5) }] }) });
  assert.equal(code(t), 'ONNX_TENSOR_SIZE_MISMATCH');
  // deeply nested subgraphs
  let g = graph('leaf');
  for (let i = 0; i < 30; i++) g = graph(`g${i}`, { node: [node('If', `n${i}`, ['o'], [attr('then_branch', { type: 5, g })])] });
  assert.equal(code(encodeOnnxModel({ ...synthetic(), graph: g })), 'ONNX_TOO_DEEP');
  assert.throws(() => decodeOnnxModel(new Uint8Array([0x3a, 0x05, 0x01])), (e) => isMcdnError(e) && e.code === 'ONNX_DECODE_FAILED');
});

test('onnx: random truncations and byte flips never crash the scanner or the decoder', async () => {
  const good = load(fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx'));
  const r = await fuzzParser(good, (b) => scanOnnx(b), { truncations: 40, flips: 60, seed: 3 });
  assert.ok(r.rejected >= 40);
  await fuzzParser(good, (b) => decodeOnnxModel(b), { truncations: 20, flips: 20, seed: 4 });
  const small = encodeOnnxModel(synthetic());
  await fuzzParser(small, (b) => scanOnnx(b), { truncations: 100, flips: 300, seed: 5 });
  await fuzzParser(small, (b) => encodeOnnxModel(decodeOnnxModel(b)), { truncations: 50, flips: 200, seed: 6 });
});

test('onnx: scan(encode(model)) finds each tensor at its bytes; decode(encode(m)) == m (property)', async () => {
  const fc = (await import('fast-check')).default;
  const { onnxRawByteLength, dtypeToOnnxDataType } = await import('./dtypes.ts');
  const dtypes = ['F32', 'F16', 'BF16', 'I64', 'I32', 'I8', 'U8', 'BOOL', 'F64', 'U16'] as const;
  const tensorArb = fc.record({
    dtype: fc.constantFrom(...dtypes),
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
    seed: fc.integer({ min: 0, max: 255 }),
    asConstant: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), tensorArb), { selector: (x) => x[0], maxLength: 6 }), (items) => {
      const init: OnnxTensor[] = [];
      const nodes: OnnxNode[] = [];
      const want = new Map<string, Uint8Array>();
      for (const [name, t] of items) {
        const n = t.shape.reduce((a, b) => a * b, 1);
        const len = onnxRawByteLength(dtypeToOnnxDataType(t.dtype)!, n)!;
        const data = new Uint8Array(len).map((_, i) => (t.dtype === 'BOOL' ? (i + t.seed) & 1 : (i * 13 + t.seed) & 255));
        want.set(name, data);
        if (t.asConstant) nodes.push(node('Constant', `n_${name}`, [name], [attr('value', { type: 4, t: makeOnnxTensor('', t.dtype, t.shape, data) })]));
        else init.push(makeOnnxTensor(name, t.dtype, t.shape, data));
      }
      const m: OnnxModel = { ir_version: 9, opset_import: [{ domain: '', version: 19 }], metadata_props: [], training_info: [], functions: [], graph: graph('p', { initializer: init, node: nodes }) };
      const bytes = encodeOnnxModel(m);
      const l = onnxLayout(bytes);
      assert.equal(l.tensors.length, items.length);
      for (const t of l.tensors) assert.deepEqual(bytes.subarray(t.offset, t.offset + t.length), want.get(t.name), t.name);
      const back = decodeOnnxModel(bytes);
      assert.deepEqual(JSON.parse(JSON.stringify(back, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v))), JSON.parse(JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v))));
    }),
    { numRuns: 120 },
  );
});
